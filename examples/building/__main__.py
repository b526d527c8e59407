"""`python -m examples.building`: one simulated day of the public building (see demo.py)."""
from .demo import main

raise SystemExit(main())
