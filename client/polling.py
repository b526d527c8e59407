"""Receiving by polling: for an AE the CSE cannot reach (behind NAT, no server of its own).

Such an AE registers with rr=false and no poa; the CSE keeps whatever it would send the AE
(notifications, verification requests) in the AE's <pollingChannel>.  `PollingReceiver`
creates that channel once the AE is registered (or finds the one it has) and runs a long-poll
loop: a RETRIEVE of `<channel>/pcu` waits until the CSE has a request for the AE; the request
is handled like any receiver's (`NotificationInbox`: verification, then the callback or the
queue) and the answer goes back as a NOTIFY to pcu carrying `{"m2m:rsp": ...}`.

    inbox = PollingReceiver()
    async with CseClient("http://gateway:8080", originator="Cmeter01") as meter, inbox:
        await meter.register("Nmeter", receiver=inbox)      # rr=false, pollingChannel created
        note = await inbox.next(timeout=60)

Outgoing connections only: it works wherever the AE can reach the CSE.  It never opens a
port and never raises out of its loop: failures are logged and retried with back-off.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from cse.envelope import request_from_primitive
from cse.errors import OneM2MError
from cse.primitives import Operation, Response
from cse.resource_types import Ty
from cse.tasks import cancel_and_wait

from .client import RequestFailed
from .receiver import NotificationInbox
from .transport import CseUnreachable

if TYPE_CHECKING:
    from .client import CseClient

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 4008          # the long poll ended without a request: poll again
NOT_FOUND = 4004                # the channel is gone: make it again
ALREADY_EXISTS = (4005, 4105)   # the AE has a channel already (or one with that name)


class PollingReceiver(NotificationInbox):
    """`poll_seconds`: how long one RETRIEVE may wait at the CSE (sent as rqet; keep it below
    the idle timeout of the NAT or proxy on the way).  `retry_min`/`retry_max`: back-off
    after a failure.  `channel_name`: rn of the pollingChannel it creates.  Other
    arguments: see `NotificationInbox` (on_notification, verify, ...)."""

    url = None              # no point of access: the AE registers with rr=false

    def __init__(self, *, poll_seconds: float = 25.0, retry_min: float = 0.5, retry_max: float = 30.0,
                 channel_name: str = "pollingChannel", **inbox: Any):
        super().__init__(**inbox)
        self.poll_seconds = poll_seconds
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.channel_name = channel_name
        self.client: "CseClient | None" = None
        self.channel: str | None = None       # address of the pollingChannel once known
        self.fetched = 0                       # requests fetched and answered
        self._task: asyncio.Task | None = None

    async def start(self) -> "PollingReceiver":
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def __aenter__(self) -> "PollingReceiver":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def _registered_client(self) -> "CseClient":
        if self.client is None:
            raise RuntimeError("the AE is not registered yet (registered() was not called)")
        return self.client

    async def registered(self, client: "CseClient") -> None:
        """The AE is registered: make sure it has a channel, then start polling it."""
        self.client = client
        await self._ensure_channel()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pollingChannel")

    async def _ensure_channel(self) -> None:
        client = self._registered_client
        ae = client.ae_address or client.originator
        if ae is None:
            raise RuntimeError("the AE has neither an address nor an originator to make a pollingChannel under")
        try:
            created = await client.create(ae, {"m2m:pch": {"rn": self.channel_name}})
            self.channel = f"{ae}/{created.get('rn', self.channel_name)}"
        except RequestFailed as failed:
            if failed.rsc not in ALREADY_EXISTS:
                raise
            found = await client.discover(ae, ty=Ty.PCH, level=1)
            if not found:
                raise
            self.channel = found[0]

    async def _run(self) -> None:
        delay = self.retry_min
        while True:
            try:
                if self.channel is None:
                    await self._ensure_channel()
                await self._poll_once()
                delay = self.retry_min
            except asyncio.CancelledError:
                raise
            except (CseUnreachable, RequestFailed, _PollFailed) as failure:
                log.warning("polling %s: %s; retrying in %.1f s", self.channel, failure, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
            except Exception:
                log.exception("polling %s failed; retrying in %.1f s", self.channel, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)

    async def _poll_once(self) -> None:
        client = self._registered_client
        pcu = f"{self.channel}/pcu"
        # The CSE answers 4008 after rqet when nothing came; the transport waits a bit longer.
        response = await client.request(Operation.RETRIEVE, pcu, rqet=str(int(self.poll_seconds * 1000)),
                                        timeout=self.poll_seconds + 10)
        if response.rsc == REQUEST_TIMEOUT:
            return
        if response.rsc == NOT_FOUND:
            self.channel = None
            raise _PollFailed(f"{pcu} is gone (4004); making the pollingChannel again")
        rqp = response.pc.get("m2m:rqp") if isinstance(response.pc, dict) else None
        if response.rsc != 2000 or rqp is None:
            raise _PollFailed(f"RETRIEVE {pcu} answered {response.rsc} {_debug(response)}")
        answer = await self._answer_for(rqp)
        if answer is None:
            return
        sent = await client.request(Operation.NOTIFY, pcu, pc={"m2m:rsp": answer.to_primitive()})
        if not sent.ok:
            log.warning("the CSE did not take our answer to request %s: %s %s", answer.rqi, sent.rsc,
                        _debug(sent))
        self.fetched += 1

    async def _answer_for(self, rqp: Any) -> Response | None:
        try:
            request = request_from_primitive(rqp)
        except OneM2MError as error:
            rqi = rqp.get("rqi") if isinstance(rqp, dict) else None
            if not isinstance(rqi, str):
                log.warning("fetched something that is not a request primitive (%s); ignored", error.message)
                return None
            return Response(rsc=4000, rqi=rqi, pc={"m2m:dbg": error.message})
        if request.op != Operation.NOTIFY:
            log.info("fetched a %s request for %s; answering 4005", request.op, request.to)
        return await self.handle(request)


class _PollFailed(Exception):
    """One round of polling went wrong (logged, retried)."""


def _debug(response: Response) -> str:
    pc = response.pc
    return pc.get("m2m:dbg", "") if isinstance(pc, dict) else ""
