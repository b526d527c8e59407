"""What a binding tells the operator about each request it answered: one call per request.

A binding calls its `RequestRecorder` once, after the response is known and before it is
put on the wire, with the time the request arrived (`time.perf_counter()`), the request
primitive (None when it could not even be decoded) and the response.  Refusals found by the
binding itself (an undecodable body, a failed authentication) go through the same call as
the dispatcher's answers, so every refused request leaves a trace.  What is done with the
call (the request log, the Prometheus metrics) is the composition root's business
(`server/observe.py`); the core only defines the shape, so bindings need nothing else.
"""
from __future__ import annotations

from typing import Protocol

from .primitives import Request, Response


class RequestRecorder(Protocol):
    def __call__(self, started: float, request: Request | None, response: Response,
                 fallback_to: str = "") -> None:
        """`fallback_to`: the address as the wire gave it, for requests that were not decoded."""


def not_recorded(started: float, request: Request | None, response: Response, fallback_to: str = "") -> None:
    """The recorder of a binding nobody observes (the client's notification receiver, tests)."""
