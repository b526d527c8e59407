"""A recording sender: an in-memory `Sender` that records every request the CSE would send
and answers as told, so the notifier's parts are tested without sockets or real time."""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from cse.primitives import Request, Response


@dataclass
class Sent:
    url: str
    request: Request
    serialization: str
    timeout: float

    @property
    def pc(self) -> dict:
        return self.request.pc

    @property
    def verification(self) -> bool:
        return bool((self.request.pc or {}).get("m2m:sgn", {}).get("vrq"))


class RecordingSender:
    """Answers 2000 unless told otherwise: `answer(rsc, times=n)` plans the next n answers
    (for all URLs), `answer(rsc)` changes the default.  `hold()` keeps every later send
    waiting (recorded, unanswered) until `release()`."""

    def __init__(self, *, keeps_order: bool = False):
        self.keeps_order = keeps_order
        self.sent: list[Sent] = []
        self._planned: deque[int] = deque()
        self._default = 2000
        self._gate = asyncio.Event()
        self._gate.set()
        self._changed = asyncio.Event()

    def answer(self, rsc: int, *, times: int | None = None) -> None:
        if times is None:
            self._default = rsc
        else:
            self._planned.extend([rsc] * times)

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        self.sent.append(Sent(url, request, serialization, timeout))
        self._changed.set()
        await self._gate.wait()
        rsc = self._planned.popleft() if self._planned else self._default
        return Response(rsc=rsc, rqi=request.rqi, pc=None if rsc < 3000 else {"m2m:dbg": "as told"})

    def notifications(self, url: str | None = None) -> list[Sent]:
        """What was sent, verification requests left out, optionally to one URL."""
        return [s for s in self.sent if not s.verification and (url is None or s.url == url)]

    async def wait_for(self, count: int, url: str | None = None, timeout: float = 5.0) -> list[Sent]:
        """Until `count` notifications (not verifications) were sent (to `url`)."""
        async def enough() -> None:
            while len(self.notifications(url)) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{len(self.notifications(url))} of {count} notification(s) sent "
                                 f"within {timeout} s: {[s.pc for s in self.notifications(url)]}") from None
        return self.notifications(url)
