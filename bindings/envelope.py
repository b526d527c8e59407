"""Whole primitives as objects: moved to `cse.envelope` (the core's polling agent needs them too)."""
from cse.envelope import (request_from_primitive, request_to_primitive, response_from_primitive,  # noqa: F401
                          unwrap)

__all__ = ["request_from_primitive", "request_to_primitive", "response_from_primitive", "unwrap"]
