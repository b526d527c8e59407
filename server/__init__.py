"""The composition root above the packages: `compose.build_cse` puts a whole CSE together
from its configuration (core, resource types, bindings), `cli` is the `cse` command.

Nothing below this package imports it; it is the only place that knows every binding.
"""
