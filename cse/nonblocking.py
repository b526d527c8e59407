"""Non-blocking requests (TS-0001 8.2.2, TS-0004 7.3.2.2): rt=1 and rt=2.

The CSE acknowledges at once and runs the operation in the background, through the same
dispatcher path as a blocking request (so access control, forwarding and fan-out apply):
- rt=1 (nonBlockingRequestSynch): the acknowledgement (1001) names a <request> resource
  (ty 17) whose `rs` and `ors` the originator polls; it lives until `rp` (result
  persistence) or `cse.request_lifetime` seconds have passed.
- rt=2 (nonBlockingRequestAsynch): the acknowledgement is 1002 with the reference of a
  <request> resource as for rt=1 (TS-0004 7.3.2.2); the result is stored there and sent as a
  NOTIFY with {"m2m:rsp": ...} to each `nu` of rt (X-M2M-RTU), to the originator when rt
  has no `nu`, and to nobody when `nu` is an empty list.  It goes through the notifier's
  delivery queues, so it gets the same retries, bounds and target resolution (poa).
rt=4 (flexBlocking) lets the receiver choose; this CSE answers it blocking.
rt=5 (noResponse, R4): accepted at once with 1000 and executed in the background; its
result is discarded (`accept_without_response`).

Checks that need no target run before the acknowledgement (a malformed request still gets
its 4000 at once); everything else is in the result.  This module never sends anything itself.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Callable

import orjson

from .clock import format_timestamp, parse_abs_rel, parse_duration
from .errors import RSC, OneM2MError, bad_request
from .primitives import Handler, Request, Response, ResponseTypeValue
from .resource_types import Ty
from .storage import StorageError
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .clock import Clock
    from .config import Config
    from .context import Context
    from .events import EventSink
    from .tree import Tree

log = logging.getLogger(__name__)

COMPLETED, FAILED, PENDING = 1, 2, 3
# Request parameters kept in the <request> resource's metaInformation (mi).
META = ("ty", "rvi", "rcn", "drt", "fc", "atrl", "rqet", "rset", "oet", "ec", "gid", "rp", "vsi")

# Queues a NOTIFY carrying a result to a target entry (the notifier's delivery).
ResultSender = Callable[[str, dict, "str | None"], None]
# A request context at this CSE for a request (None: the CSE's own work), as the dispatcher makes it.
ContextFactory = Callable[["Request | None"], "Context"]


class NonBlockingRequests:
    def __init__(self, config: "Config", clock: "Clock", tree: "Tree", events: "EventSink",
                 dispatch: Handler, new_context: ContextFactory, send_result: ResultSender):
        self.config = config
        self.clock = clock
        self.tree = tree
        self.storage = tree.storage
        self.events = events
        # The operation itself takes the dispatcher's whole path, as a blocking request would.
        self.dispatch = dispatch
        self.new_context = new_context
        self.send_result = send_result
        self._tasks: set[asyncio.Task] = set()

    async def accept(self, request: Request) -> Response:
        limit = self.config.limits.max_nonblocking_pending
        if len(self._tasks) >= limit:
            # Each accepted request holds a task (and may wait for oet): bound them.
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"{limit} non-blocking requests are already running here; retry later "
                              "or send the request blocking")
        blocking = dataclasses.replace(request, rt=None, rtu=None)
        keep_until = self._lifetime(request, self.clock.now())   # a bad rp is 4000 either way
        if request.rt == ResponseTypeValue.NON_BLOCKING_SYNCH:
            record = await self._create_record(request, keep_until)
            self._run(self._complete_record(blocking, record["ri"]))
            return Response(rsc=RSC.ACCEPTED_NON_BLOCKING_SYNCH, pc={"m2m:uri": record["ri"]})
        targets = request.rtu if request.rtu is not None else ([request.fr] if request.fr else [])
        for target in targets:
            if not isinstance(target, str) or not target.strip():
                raise bad_request("response type: every notification target (nu) must be a non-empty string")
        # The acknowledgement names a <request> too (TS-0004 7.3.2.2): the originator may
        # poll it as well as wait for the notification.
        record = await self._create_record(request, keep_until)
        self._run(self._notify_result(blocking, list(targets), record["ri"]))
        return Response(rsc=RSC.ACCEPTED_NON_BLOCKING_ASYNCH, pc={"m2m:uri": record["ri"]})

    async def accept_without_response(self, request: Request) -> Response:
        """rt=5 (noResponse, R4): executed in the background like a non-blocking request, its
        result discarded; answered at once with 1000 (ACCEPTED, no content), which the MQTT
        binding does not even publish (HTTP cannot stay silent: 202).  Never blocking."""
        limit = self.config.limits.max_nonblocking_pending
        if len(self._tasks) >= limit:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"{limit} non-blocking requests are already running here; retry later "
                              "or send the request blocking")
        self._run(self._discard(dataclasses.replace(request, rt=None, rtu=None)))
        return Response(rsc=RSC.ACCEPTED)

    async def _discard(self, request: Request) -> None:
        response = await self.dispatch(request)
        if not response.ok:
            log.info("%s (rt=5, no response wanted) failed: %s %s", request.describe(), response.rsc,
                     response.pc.get("m2m:dbg") if isinstance(response.pc, dict) else "")

    def _run(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a non-blocking request failed after its acknowledgement", exc_info=task.exception())

    async def idle(self, timeout: float | None = None) -> set[asyncio.Task]:
        """Wait until the operations running now have finished; returns those still running."""
        if not self._tasks:
            return set()
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return pending

    async def start(self) -> None:
        """Nothing to start: requests are accepted as they come."""

    async def stop(self, timeout: float = 5.0) -> None:
        """Let running operations finish (their results are queued for delivery), then cancel."""
        cancelled = await cancel_and_wait(set(self._tasks), grace=timeout, log_failures=False)
        if cancelled:
            log.warning("shutdown: %d non-blocking request(s) still running were cancelled", len(cancelled))

    # -- rt=1: the <request> resource ------------------------------------------------------
    def _lifetime(self, request: Request, now: float) -> float:
        if request.rp is None:
            return now + self.config.cse.request_lifetime
        value = request.rp
        if isinstance(value, str) and value.startswith("P"):
            return now + parse_duration(value, "rp")
        until = parse_abs_rel(value, now, "rp")
        if until <= now:
            raise bad_request(f"result persistence (rp) {value!r} is not in the future")
        return until

    async def _create_record(self, request: Request, keep_until: float) -> dict:
        ctx = self.new_context(request)
        tree = self.tree
        base = tree.storage.get(tree.cse_ri)
        assert base is not None, "the CSEBase exists while the CSE runs"
        ri = tree.new_resource_id("req")
        record = {"ty": int(Ty.REQ), "ri": ri, "rn": f"req_{ri[3:]}", "pi": base["ri"],
                  "ct": ctx.now_ts, "lt": ctx.now_ts, "et": format_timestamp(keep_until),
                  "op": int(request.op), "tg": request.to, "org": request.fr or "", "rid": request.rqi,
                  "mi": self._meta(request),
                  "rs": PENDING, "_path": f"{base['_path']}/req_{ri[3:]}",
                  # What is known while pending: the acknowledgement (TS-0004 7.3.2.2).
                  "ors": {"rsc": int(RSC.ACCEPTED_NON_BLOCKING_SYNCH if request.rt == ResponseTypeValue.NON_BLOCKING_SYNCH
                                     else RSC.ACCEPTED_NON_BLOCKING_ASYNCH), "rqi": request.rqi,
                          "fr": self.config.cse.cse_id, **({"to": request.fr} if request.fr else {})},
                  # The originator owns it: it may RETRIEVE and DELETE it (default policy).
                  "_org": request.fr, "_own": request.fr}
        if request.fr:
            record["lbl"] = [request.fr]    # the originator as a label, to discover its requests (ACME)
        if request.pc is not None:
            record["pc"] = request.pc
        try:
            orjson.dumps(record)
        except orjson.JSONEncodeError as error:     # e.g. CBOR byte strings in pc
            raise bad_request(f"the request cannot be stored in a <request> resource: {error}") from None
        with tree.storage.transaction():
            tree.insert(ctx, record, base)
        await tree.storage.commit()
        self.events.publish(ctx.events)
        return record

    @staticmethod
    def _meta(request: Request) -> dict:
        """mi: the optional parameters of the request, the response type among them."""
        meta = {name: getattr(request, name) for name in META if getattr(request, name) is not None}
        meta["rt"] = {"rtv": int(request.rt or 0)}
        if request.rtu is not None:
            meta["rt"]["nu"] = list(request.rtu)
        return meta

    async def _complete_record(self, request: Request, ri: str) -> Response:
        response = await self.dispatch(request)
        await self._record_result(request, response, ri)
        return response

    async def _record_result(self, request: Request, response: Response, ri: str) -> None:
        storage = self.storage
        record = storage.get(ri)
        if record is None:          # deleted or expired while the operation ran
            return
        ctx = self.new_context(None)
        record["rs"] = COMPLETED if response.rsc < 4000 else FAILED
        record["ors"] = self._primitive(response, request)
        record["lt"] = ctx.now_ts
        record["st"] = record.get("st", 0) + 1
        try:
            with storage.transaction():
                storage.update(record, changed=("rs", "ors", "lt", "st"))
            await storage.commit()
        except StorageError as error:
            # The result itself could not be stored (e.g. content from a peer that JSON
            # cannot hold): keep the outcome, not the content, so the request is not PENDING forever.
            log.warning("storing the result of %s failed (%s); keeping its status only", request.describe(), error)
            record["ors"] = {"rsc": record["ors"]["rsc"], "rqi": request.rqi,
                             "pc": {"m2m:dbg": "the result could not be stored"}}
            with storage.transaction():
                storage.update(record, changed=("rs", "ors"))
            await storage.commit()

    # -- rt=2: the result as a notification ----------------------------------------------
    async def _notify_result(self, request: Request, targets: list[str], ri: str) -> None:
        response = await self._complete_record(request, ri)
        content = {"m2m:rsp": self._primitive(response, request)}
        for target in targets:
            try:
                self.send_result(target, content, request.accept)
            except OneM2MError as error:
                log.warning("result of %s cannot go to %r: %s", request.describe(), target, error.message)

    def _primitive(self, response: Response, request: Request) -> dict:
        primitive = response.to_primitive()
        primitive["rsc"] = int(primitive["rsc"])
        primitive["fr"] = self.config.cse.cse_id
        if request.fr:
            primitive["to"] = request.fr
        return primitive
