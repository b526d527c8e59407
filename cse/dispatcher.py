"""Request -> Response: the single entry point of the core for every binding.

It checks the primitive, resolves the target, and hands the operation to `operations`.
Errors raised anywhere below become responses here and nowhere else; an unexpected
exception is logged and answered with 5000, never propagated to a binding.
This module must never import a binding.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, overload

from .addressing import AddressParser
from .clock import Clock, parse_abs_rel, parse_duration
from .context import Context, RequestContext
from .errors import RSC, OneM2MError, bad_request
from .fanout import FanOut
from .filters import check_filter_criteria
from .nonblocking import NonBlockingRequests, ResultSender
from .primitives import FilterUsage, Operation, Request, Response, ResponseTypeValue
from .ratelimit import RateLimiter
from .releases import KNOWN_RELEASES, newest
from .resource_types import Ty
from .storage import StorageError

if TYPE_CHECKING:
    from .access import AccessControl
    from .config import Config
    from .events import EventSink
    from .operations import Operations
    from .outbound import Outbound
    from .polling import PollingChannels
    from .storage import Storage
    from .tree import Tree

log = logging.getLogger(__name__)

NON_BLOCKING = (ResponseTypeValue.NON_BLOCKING_SYNCH, ResponseTypeValue.NON_BLOCKING_ASYNCH)

# rcn values each operation accepts (TS-0004 Table 8.1.2-1; 11 for discovery, R4).
VALID_RCN = {
    Operation.CREATE: frozenset({0, 1, 2, 3, 9}),
    Operation.RETRIEVE: frozenset({1, 4, 5, 6, 8, 11}),
    Operation.UPDATE: frozenset({0, 1, 9}),
    Operation.DELETE: frozenset({0, 1, 4, 5, 6, 8}),
    Operation.NOTIFY: frozenset(),
}

# Handles a request whose target is on another CSE (cse/federation/forwarding.py).
RemoteHandler = Callable[[Request, str, "str | None"], Awaitable[Response]]
# Handles a NOTIFY addressed to an entity of this CSE (cse/federation/notify_relay.py).
NotifyHandler = Callable[[RequestContext, Request], Awaitable[Response]]


class Dispatcher:
    """Gets every part at construction; builds the two that send requests back through it
    (group fan-out, non-blocking requests) itself, handing them its own `handle`."""

    def __init__(self, config: "Config", storage: "Storage", tree: "Tree", clock: Clock,
                 access: "AccessControl", operations: "Operations", events: "EventSink",
                 outbound: "Outbound", polling: "PollingChannels", *, remote_handler: RemoteHandler,
                 notify_handler: NotifyHandler, send_result: ResultSender):
        self.config = config
        self.access = access
        self.outbound = outbound
        self.storage = storage
        self.tree = tree
        self.clock = clock
        self.events = events
        self.addresses = AddressParser(config.cse.cse_id, config.cse.rn, config.cse.sp_id)
        self.operations = operations
        # Only what is configured (TS-0004 7.3.2.1: any other rvi is refused with 4001).
        self.supported_releases = frozenset(config.cse.supported_releases)
        # A request without rvi is served as (and answered in) our newest release.
        self.newest_release = newest(self.supported_releases) or "3"
        self.remote_handler = remote_handler
        self.notify_handler = notify_handler
        self.rate_limiter = RateLimiter(config.limits.rate_per_originator, config.limits.rate_burst)
        # Requests for rr=false entities wait here; the pollingChannel type's hooks get it in ctx.
        self.polling = polling
        # Serves <group>/fopt[/...].
        self.fanout = FanOut(self.handle, tree.types.fan_out_points)
        # Accepts rt=1 / rt=2 requests; their results are notified through `send_result`.
        self.nonblocking = NonBlockingRequests(config, clock, tree, events, self.handle, self.context,
                                               send_result)

    async def handle(self, request: Request) -> Response:
        try:
            response = await self._handle(request)
        except OneM2MError as error:
            response = error_response(request, error.rsc, error.message)
            response.extra.update(error.extra)
        except StorageError as error:
            log.error("storage failure on %s: %s", request.describe(), error)
            self.access.forget_all()      # cached ACPs may never have been stored
            response = error_response(request, RSC.INTERNAL_SERVER_ERROR, f"storage failure: {error}")
        except Exception:  # a bug: answer it, log it, keep serving
            log.exception("internal error on %s", request.describe())
            response = error_response(request, RSC.INTERNAL_SERVER_ERROR,
                                      "internal error while handling the request")
        response.rqi = request.rqi if isinstance(request.rqi, str) else ""
        if response.rvi is None:
            # The request's release (TS-0004 7.3.2.1); for one we refused, our newest.
            response.rvi = request.rvi if request.rvi in self.supported_releases else self.newest_release
        return response

    async def _handle(self, request: Request) -> Response:
        now = self.clock.now()
        self._check_primitive(request, now)
        if self.rate_limiter.enabled:
            self.rate_limiter.admit(request.fr, request.remote_address, now)
        if request.rt in NON_BLOCKING:
            return await self.nonblocking.accept(request)
        if request.rt == ResponseTypeValue.NO_RESPONSE:
            return await self.nonblocking.accept_without_response(request)
        if request.oet is not None:
            await self._wait_for_execution_time(request, now)
            now = self.clock.now()
        address = self.addresses.parse(request.to)
        if address.remote_cse is not None:
            return await self.remote_handler(request, address.remote_cse, address.remote_sp)
        ctx = self.context(request, now)
        if self.fanout.addresses_fanout(request):
            response = await self.fanout.handle(ctx, address)
            if response is not None:
                return response
        op = request.op
        if op == Operation.RETRIEVE:
            response = await self.operations.retrieve(ctx, address)
        elif op == Operation.CREATE:
            response = await self.operations.create(ctx, address)
        elif op == Operation.UPDATE:
            response = await self.operations.update(ctx, address)
        elif op == Operation.DELETE:
            response = await self.operations.delete(ctx, address)
        else:
            response = await self.notify_handler(ctx, request)
        if ctx.events:
            self.events.publish(ctx.events)
        return response

    @overload
    def context(self, request: Request, now: float | None = None) -> RequestContext: ...
    @overload
    def context(self, request: Request | None, now: float | None = None) -> Context: ...

    def context(self, request: Request | None, now: float | None = None) -> Context:
        """A request's context, or (without one) a context for the CSE's own work."""
        kind = Context if request is None else RequestContext
        return kind(self.config, self.storage, self.tree, self.access, self.outbound, request,
                    self.clock.now() if now is None else now, self.handle, self.polling)

    def _check_primitive(self, request: Request, now: float) -> None:
        """The receiver checks of TS-0004 7.3.2.1 that do not depend on the target."""
        op = request.op
        if not isinstance(op, int) or isinstance(op, bool) or op not in VALID_RCN:
            raise bad_request(f"operation {op!r} is not one of 1 (create) .. 5 (notify)")
        if not isinstance(request.rqi, str) or not request.rqi:
            raise bad_request("the request identifier (rqi) is missing")
        if request.rvi is not None and request.rvi not in self.supported_releases:
            what = "is not supported by this CSE" if request.rvi in KNOWN_RELEASES else \
                "is not a oneM2M release version"
            raise OneM2MError(RSC.RELEASE_VERSION_NOT_SUPPORTED,
                              f"release version (rvi) {request.rvi!r} {what} (supported: "
                              f"{', '.join(r for r in KNOWN_RELEASES if r in self.supported_releases)})")
        if request.fr is not None and not isinstance(request.fr, str):
            raise bad_request("the originator (fr) must be a string")
        if not request.fr and not (op == Operation.CREATE and request.ty == Ty.AE):
            raise bad_request("the originator (fr) is missing")
        if request.fc is not None:
            check_filter_criteria(request.fc)
            if request.fc.get("fu") == FilterUsage.DISCOVERY and op != Operation.RETRIEVE:
                raise bad_request(f"discovery (fc fu=1) is a RETRIEVE; operation {op} does not "
                                  "support it")
            if op == Operation.NOTIFY:
                raise bad_request("filter criteria (fc) are not allowed in a NOTIFY request")
        if op == Operation.CREATE:
            if request.ty is None:
                raise bad_request("a CREATE request needs the resource type (ty)")
            if request.fc:
                raise bad_request("filter criteria (fc) are not allowed in a CREATE request")
        elif request.ty is not None:
            raise bad_request(f"resource type (ty) is only allowed in CREATE, not in operation {op}")
        if request.rcn is not None:
            if not isinstance(request.rcn, int) or isinstance(request.rcn, bool):
                raise bad_request(f"result content (rcn) {request.rcn!r} is not an integer")
            valid = VALID_RCN[Operation(op)]
            if request.rcn not in valid:
                raise bad_request(f"result content {request.rcn} is not valid for operation {op} "
                                  f"(valid: {sorted(valid)})")
        if request.drt is not None and request.drt not in (1, 2):
            raise bad_request(f"desired identifier result type (drt) {request.drt!r} must be 1 or 2")
        if request.rt is not None:
            if not isinstance(request.rt, int) or isinstance(request.rt, bool) or request.rt not in range(1, 6):
                raise bad_request(f"response type {request.rt!r} is not one of 1..5")
            if request.rtu is not None and (not isinstance(request.rtu, list)
                                            or not all(isinstance(t, str) for t in request.rtu)):
                raise bad_request("response type: the notification targets (nu) must be a list of strings")
        self._check_times(request, now)

    @staticmethod
    def _check_times(request: Request, now: float) -> None:
        """rqet, rset, oet: m2m:absRelTimestamp (4000 otherwise); rqet or rset passed: 4008;
        and they must fit together (TS-0004 7.3.2.1; ACME): the operation cannot be executed
        after the request or its result expires, nor the result expire before the request.
        rp (result persistence): an absRelTimestamp or a duration (4000 otherwise)."""
        times: dict[str, float] = {}
        for name in ("rqet", "rset", "oet"):
            value = getattr(request, name)
            if value is not None:
                times[name] = parse_abs_rel(value, now, name)
        for name in ("rqet", "rset"):
            if name in times and times[name] <= now:
                raise OneM2MError(RSC.REQUEST_TIMEOUT,
                                  f"the request expired ({name} {getattr(request, name)!r} has passed)")
        oet = times.get("oet")
        if oet is not None and "rqet" in times and oet > times["rqet"]:
            raise bad_request("the operation execution time (oet) is after the request expiration (rqet)")
        if oet is not None and "rset" in times and oet > times["rset"]:
            raise bad_request("the operation execution time (oet) is after the result expiration (rset)")
        if "rqet" in times and "rset" in times and times["rset"] < times["rqet"]:
            raise bad_request("the result expiration (rset) is before the request expiration (rqet)")
        if request.rp is not None:
            if isinstance(request.rp, str) and request.rp.startswith("P"):
                parse_duration(request.rp, "rp")
            else:
                parse_abs_rel(request.rp, now, "rp")

    async def _wait_for_execution_time(self, request: Request, now: float) -> None:
        """oet: execute the operation at that time, unless the request expires first."""
        execute_at = parse_abs_rel(request.oet, now, "oet")
        if request.rqet is not None and execute_at > parse_abs_rel(request.rqet, now, "rqet"):
            raise bad_request("the operation execution time (oet) is after the request expiration (rqet)")
        delay = execute_at - now
        limit = self.config.limits.max_execution_delay
        if delay > limit:
            # Holding a request (and its connection) for hours is a denial of service.
            raise bad_request(f"the operation execution time (oet) is {delay:.0f} s away; this CSE "
                              f"waits at most {limit:g} s")
        if delay > 0:
            await asyncio.sleep(delay)


def error_response(request: Request, rsc: int, message: str) -> Response:
    return Response(rsc=rsc, rqi=request.rqi if isinstance(request.rqi, str) else "",
                    pc={"m2m:dbg": message})
