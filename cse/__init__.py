"""A oneM2M common services entity: the transport-independent core.

Nothing in this package imports a binding; bindings import the core.
"""
__version__ = "0.1.0"
