"""`python -m server`: the `cse` command."""
import sys

from .cli import main

sys.exit(main())
