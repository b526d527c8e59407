"""A CSE behind NAT fetching the requests its registrar holds for it (`request_reachable = false`).

Such a CSE registers with rr=false, so its registrar sends it nothing: requests forwarded to
it, and notifications for its AEs, wait in a <pollingChannel> under its remoteCSE at the
registrar (cse/polling.py).  This agent, started with the registration agent, makes sure
that channel exists once we are registered, then long-polls its `pcu`: every fetched
request is handled by this CSE's own dispatcher, as if it had arrived over a binding, and
the response goes back as a NOTIFY to `pcu` carrying {"m2m:rsp": ...}.  Fetched requests
run concurrently (at most MAX_CONCURRENT), so a slow one does not stop the polling.

It only speaks to the registrar through `Outbound` and to this CSE through the
dispatcher's entry point; it keeps no state beyond the channel's address and never raises out of
its loop (failures are logged and retried with the registration's back-off).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import TYPE_CHECKING, Any

from cse.envelope import request_from_primitive
from cse.errors import RSC, OneM2MError
from cse.outbound import LOCAL_FAILURE
from cse.primitives import Handler, Operation, Request, Response
from cse.resource_types import Ty
from cse.tasks import cancel_and_wait

from .forwarding import cse_url, debug_text

if TYPE_CHECKING:
    from cse.config import Config
    from cse.outbound import Outbound

    from .registration import RegistrationAgent

log = logging.getLogger(__name__)

CHANNEL_NAME = "pollingChannel"
MAX_CONCURRENT = 16


class PollFailed(Exception):
    """This round did not work (logged once per new reason, retried with back-off)."""


class PollingAgent:
    def __init__(self, config: "Config", dispatch: Handler, outbound: "Outbound",
                 registration: "RegistrationAgent"):
        self.settings = config.registrar
        self.own_id = config.cse.cse_id
        self.dispatch = dispatch            # this CSE's dispatcher, for the fetched requests
        self.outbound = outbound
        self.registration = registration
        self.channel: str | None = None     # our channel at the registrar, once made or found
        self.handled = 0                    # requests fetched, handled and answered
        self.last_error: str | None = None
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._rqi = itertools.count(1)
        self._rqi_prefix = f"{self.own_id[1:]}-poll-{secrets.token_hex(3)}-"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="polling agent")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait([task, *self._running])

    async def _run(self) -> None:
        delay = self.settings.retry_min
        while True:
            try:
                if not self.registration.registered:
                    try:
                        await self.registration.wait_until(self.registration.registrations + 1,
                                                           self.settings.keepalive)
                    except TimeoutError:
                        pass
                    continue
                if self.channel is None:
                    await self._ensure_channel()
                await self._poll_once()
                delay = self.settings.retry_min
                if self.last_error is not None:
                    log.info("polling %s works again", self.settings.cse_id)
                    self.last_error = None
            except asyncio.CancelledError:
                raise
            except PollFailed as failure:
                reason = str(failure)
                if reason != self.last_error:
                    log.warning("polling our requests at %s: %s (retrying)", self.settings.cse_id, reason)
                self.last_error = reason
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max)
            except Exception:
                log.exception("polling our requests at %s failed unexpectedly; retrying", self.settings.cse_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max)

    async def _ensure_channel(self) -> None:
        record = self.registration.remote_record
        created = await self._send(Operation.CREATE, record, ty=Ty.PCH, pc={"m2m:pch": {"rn": CHANNEL_NAME}})
        if created.rsc == RSC.CREATED:
            self.channel = f"{record}/{CHANNEL_NAME}"
            log.info("created our pollingChannel at %s", self.settings.cse_id)
            return
        if created.rsc in (RSC.OPERATION_NOT_ALLOWED, RSC.CONFLICT):      # we have one already
            listing = await self._send(Operation.RETRIEVE, record, rcn=6, fc={"ty": [Ty.PCH]})
            references = (listing.pc or {}).get("m2m:rrl", {}).get("rrf", []) if listing.rsc == RSC.OK else []
            if references:
                self.channel = f"{record}/{references[0]['nm']}"
                return
        raise PollFailed(f"cannot make our pollingChannel under {record!r}: {created.rsc} {debug_text(created)}")

    async def _poll_once(self) -> None:
        pcu = f"{self.channel}/pcu"
        seconds = self.settings.poll_seconds
        response = await self._send(Operation.RETRIEVE, pcu, rqet=str(int(seconds * 1000)), timeout=seconds + 10)
        if response.rsc == RSC.REQUEST_TIMEOUT:
            return
        if response.rsc == RSC.NOT_FOUND:       # our record or channel is gone (registrar restarted)
            self.channel = None
            raise PollFailed(f"{pcu} is gone (4004); making the pollingChannel again")
        rqp = response.pc.get("m2m:rqp") if isinstance(response.pc, dict) else None
        if response.rsc != RSC.OK or rqp is None:
            raise PollFailed(f"RETRIEVE {pcu} answered {response.rsc} {debug_text(response)}")
        await self._slots.acquire()
        task = asyncio.get_running_loop().create_task(self._handle(pcu, rqp))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _handle(self, pcu: str, rqp: Any) -> None:
        try:
            try:
                request = request_from_primitive(rqp)
                response = await self.dispatch(request)
            except OneM2MError as error:
                rqi = rqp.get("rqi") if isinstance(rqp, dict) else None
                if not isinstance(rqi, str):
                    log.warning("fetched something that is not a request primitive: %s", error.message)
                    return
                response = Response(rsc=error.rsc, rqi=rqi, rvi=self.registration.rvi, pc={"m2m:dbg": error.message})
            sent = await self._send(Operation.NOTIFY, pcu, pc={"m2m:rsp": response.to_primitive()})
            if not sent.ok:
                log.warning("%s did not take our answer to %s: %s %s", self.settings.cse_id, response.rqi,
                            sent.rsc, debug_text(sent))
            self.handled += 1
        except PollFailed as failure:
            log.warning("answering a fetched request: %s", failure)
        finally:
            self._slots.release()

    async def _send(self, op: int, to: str, *, timeout: float | None = None, **fields: Any) -> Response:
        # The release the registration agent found both sides speak (the registrar's srv).
        request = Request(op=op, to=to, fr=self.own_id, rqi=f"{self._rqi_prefix}{next(self._rqi)}",
                          rvi=self.registration.rvi, **fields)
        url = cse_url(self.settings.url, self.own_id, self.settings.cse_id)
        response = await self.outbound.send(url, request, timeout=timeout or self.settings.timeout)
        if response.extra.get(LOCAL_FAILURE) is not None:
            raise PollFailed(f"the registrar is not reachable: {debug_text(response)}")
        return response
