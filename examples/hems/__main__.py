"""`python -m examples.hems`: the whole demo (see demo.py and examples/README.md)."""
from .demo import main

raise SystemExit(main())
