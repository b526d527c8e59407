"""Where a CSE delivers an AE's notifications.

`NotificationInbox` is the transport-free part: it answers verification requests
(TS-0004 7.5.1.2.2) so subscriptions can be created, answers every notification with
2000, and hands it on as a `Notification`, either to a callback or to an async queue
(`await receiver.next()` / `async for n in receiver`).  `NotificationReceiver` serves it
over HTTP on a free loopback port (or the address given), using the CSE's own HTTP binding
for the mapping, so headers, media types and errors are handled the same way;
`client.mqtt.MqttNotificationReceiver` serves it over MQTT.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from bindings.http import HttpBinding
from cse.config import HttpSettings
from cse.primitives import Operation, Request, Response

log = logging.getLogger(__name__)


@dataclass
class Notification:
    """One m2m:sgn as received.  `representation` is the resource as sent
    ({"m2m:cin": {...}}), `resource` its attributes ({"con": ..., ...})."""

    subscription: str | None        # sur: the subscription that fired
    event: int | None               # net: 1 update, 2 delete, 3 child created, 4 child deleted
    representation: Any
    originator: str | None          # fr of the NOTIFY (usually the hosting CSE)
    target: str                     # to of the NOTIFY
    verification: bool = False      # vrq: a verification request, not an event
    deletion: bool = False          # sud: the subscription was deleted
    raw: dict = field(default_factory=dict)

    @property
    def resource(self) -> Any:
        rep = self.representation
        if isinstance(rep, dict) and len(rep) == 1 and ":" in next(iter(rep)):
            return next(iter(rep.values()))
        return rep


Callback = Callable[[Notification], "Awaitable[None] | None"]


class NotificationRefused(Exception):
    """Raised by a callback to answer the NOTIFY with `rsc` and `message` instead of 2000
    (e.g. a device refusing a management action, client/device.py)."""

    def __init__(self, rsc: int, message: str):
        super().__init__(message)
        self.rsc = rsc


class NotificationInbox:
    """What every receiver does with a NOTIFY, whatever carried it.

    `on_notification`: called for each notification (sync or async); without it,
    notifications queue up (at most `max_queued`; beyond that the CSE is answered 5000
    rather than losing one silently).  `verify`: decides verification requests (True:
    accept all)."""

    def __init__(self, *, on_notification: Callback | None = None,
                 verify: bool | Callable[[Notification], bool] = True,
                 deliver_verifications: bool = False, max_queued: int = 10_000):
        self.on_notification = on_notification
        self.verify = verify
        self.deliver_verifications = deliver_verifications
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(max_queued)

    @property
    def url(self) -> str | None:
        """Where the CSE sends notifications for the AE (its poa); None when the AE fetches
        them itself (a pollingChannel, rr=false)."""
        return None

    async def registered(self, client: Any) -> None:
        """Called by `CseClient.register` once the AE-ID is known (MQTT listens then)."""

    async def start(self) -> "NotificationInbox":
        """Start listening where the transport needs it (HTTP: the server)."""
        return self

    async def stop(self) -> None:
        """Stop listening."""

    async def __aenter__(self) -> "NotificationInbox":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def next(self, timeout: float | None = None) -> Notification:
        """The next queued notification (asyncio.TimeoutError after `timeout` seconds)."""
        return await asyncio.wait_for(self.queue.get(), timeout)

    def __aiter__(self) -> "NotificationInbox":
        return self

    async def __anext__(self) -> Notification:
        return await self.queue.get()

    # -- a NOTIFY in, the answer out (the transport's "dispatcher") --------------------
    async def handle(self, request: Request) -> Response:
        response = await self._handle(request)
        response.rqi = request.rqi
        response.rvi = request.rvi
        return response

    async def _handle(self, request: Request) -> Response:
        if request.op != Operation.NOTIFY:
            return _error(4005, "this is a notification receiver: it only accepts NOTIFY (POST without ty)")
        pc = request.pc
        sgn = pc.get("m2m:sgn") if isinstance(pc, dict) else None
        if not isinstance(sgn, dict):
            return _error(4000, 'a notification must carry {"m2m:sgn": {...}}')
        nev = sgn.get("nev")
        if not isinstance(nev, dict):
            nev = {}
        notification = Notification(
            subscription=sgn.get("sur"), event=nev.get("net"), representation=nev.get("rep"),
            originator=request.fr, target=request.to, verification=bool(sgn.get("vrq")),
            deletion=bool(sgn.get("sud")), raw=pc)
        if notification.verification:
            accepted = self.verify(notification) if callable(self.verify) else bool(self.verify)
            if not accepted:
                return _error(4103, f"this receiver does not accept subscription {notification.subscription!r}")
            if not self.deliver_verifications:
                return Response(rsc=2000)
        if self.on_notification is not None:
            try:
                result = self.on_notification(notification)
                if inspect.isawaitable(result):
                    await result
            except NotificationRefused as refused:
                return _error(refused.rsc, str(refused))
            except Exception as exc:
                log.exception("notification callback failed")
                return _error(5000, f"the receiving application failed: {exc}")
            return Response(rsc=2000)
        try:
            self.queue.put_nowait(notification)
        except asyncio.QueueFull:
            return _error(5000, f"the receiver's queue is full ({self.queue.maxsize} notifications not read)")
        return Response(rsc=2000)


class NotificationReceiver(NotificationInbox):
    """Notifications over HTTP: a small server on `host`:`port` (default: a free loopback
    port).  `public_url`: the URL the CSE should use when it differs from the listening
    address (NAT, 0.0.0.0).  Other arguments: see `NotificationInbox`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, public_url: str = "", **inbox: Any):
        super().__init__(**inbox)
        self._binding = HttpBinding(HttpSettings(host=host, port=port, public_url=public_url), self)

    @property
    def url(self) -> str:
        if self._binding.port is None:
            raise RuntimeError("start the receiver first")
        return self._binding.poa[0]

    async def start(self) -> "NotificationReceiver":
        await self._binding.start()
        return self

    async def stop(self) -> None:
        await self._binding.stop()


def _error(rsc: int, message: str) -> Response:
    return Response(rsc=rsc, pc={"m2m:dbg": message})
