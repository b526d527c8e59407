"""Stand-ins for the other end of outbound traffic, for tests without sockets."""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from cse.primitives import Request, Response


@dataclass
class Sent:
    url: str
    request: Request
    serialization: str
    timeout: float


class FakePeer:
    """A `Sender` that records each request and answers with `answer(url, request)`:
    a Response, an awaitable of one, or an exception to raise (e.g. ConnectionRefusedError)."""

    def __init__(self, answer: Callable[[str, Request], Any] | None = None):
        self.sent: list[Sent] = []
        self.answer = answer or (lambda url, request: Response(rsc=2000, pc={"m2m:dbg": "peer says hello"}))

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        self.sent.append(Sent(url, request, serialization, timeout))
        result = self.answer(url, request)
        if inspect.isawaitable(result):
            # Like a real sender, give up after `timeout` (asyncio.TimeoutError).
            result = await asyncio.wait_for(result, timeout)
        if isinstance(result, BaseException):
            raise result
        return result


async def never(*_: Any) -> Response:
    """A peer that never answers (until the caller gives up)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")
