"""Requests for another CSE: check, route, rewrite, send, relay the answer (TS-0004 7.3.2.6).

Installed as `dispatcher.remote_handler`.  A transit CSE does no access control (the
hosting CSE decides) and relays the hosting CSE's answer unchanged; what it adds are the
transit rules: registrations are not relayed, the originator becomes SP-relative, rqi is
kept, rqet/rset bound the wait and travel as absolute times, and a request that comes
back while it is being forwarded is a loop.  A next hop with rr=false (a CSE behind NAT)
gets the request through its <pollingChannel> (cse/polling.py) instead of its poa.  It
sends only through `Outbound`, so any binding that registered a sender (HTTP now, MQTT
later) can carry the hop.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from cse.clock import format_timestamp, parse_abs_rel
from cse.errors import RSC, OneM2MError, bad_request
from cse.outbound import LOCAL_FAILURE, NO_SENDER, TIMED_OUT, UNREACHABLE
from cse.polling import polling_url
from cse.primitives import Operation, Request, Response

from .routing import Hop, Routes

if TYPE_CHECKING:
    from cse.clock import Clock
    from cse.config import Config
    from cse.outbound import Outbound

log = logging.getLogger(__name__)

REGISTRATIONS = {2: "an AE", 16: "a CSE"}


async def send_to_poa(outbound: "Outbound", urls: Iterable[str], request: Request, *,
                      timeout: float, serialization: str = "json") -> Response:
    """Send to the first point of access that takes the request.

    The next URL is tried only when nothing was delivered (no sender for the scheme,
    connection refused); after a timeout the request may have been executed, so it is
    not sent again elsewhere."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    failures: list[str] = []
    for url in urls:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        response = await outbound.send(url, request, serialization=serialization, timeout=remaining)
        if response.extra.get(LOCAL_FAILURE) in (NO_SENDER, UNREACHABLE):
            failures.append(debug_text(response))
            continue
        return response
    reason = "; ".join(failures) or "no time was left to try it"
    return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi, pc={"m2m:dbg": reason},
                    extra={LOCAL_FAILURE: UNREACHABLE})


def cse_url(poa: str, own_id: str, cse_id: str) -> str:
    """The URL that reaches CSE `cse_id` at its point of access `poa`.

    HTTP and CoAP address the target resource itself (the sender takes the path from
    `to`), so a bare poa is enough.  MQTT addresses the receiving entity by topic
    (TS-0010 6.4: /oneM2M/req/<sender>/<receiver>/<fmt>), and the receiver of a hop is the
    next CSE, not whatever `to` names; so for a bare mqtt(s) poa the exact topic is given."""
    scheme, _, rest = poa.partition("://")
    if scheme.lower() in ("mqtt", "mqtts") and "/" not in rest.rstrip("/"):
        return f"{poa.rstrip('/')}/oneM2M/req/{_topic_id(own_id)}/{_topic_id(cse_id)}/json"
    return poa


def _topic_id(cse_id: str) -> str:
    return cse_id.lstrip("/").replace("/", ":")


def debug_text(response: Response) -> str:
    pc = response.pc
    return pc.get("m2m:dbg", "") if isinstance(pc, dict) else ""


def deadline_of(request: Request, now: float) -> float | None:
    """The earliest of rqet and rset as epoch seconds (None when neither is given)."""
    times = [parse_abs_rel(value, now, name) for name, value in (("rqet", request.rqet), ("rset", request.rset))
             if value is not None]
    return min(times) if times else None


class Forwarder:
    def __init__(self, config: "Config", routes: Routes, clock: "Clock", outbound: "Outbound"):
        self.own_id = config.cse.cse_id
        self.routes = routes
        self.clock = clock
        self.outbound = outbound
        # (rqi, SP-relative originator, op, to) of requests being forwarded right now: the
        # same one arriving again before its answer came back went round in a circle.
        self._in_flight: set[tuple[str, str, int, str]] = set()

    async def handle(self, request: Request, cse_id: str, sp_id: str | None) -> Response:
        if request.op == Operation.CREATE and request.ty in REGISTRATIONS:
            raise bad_request(f"registration of {REGISTRATIONS[request.ty]} must be sent to the registrar "
                              f"itself; {cse_id} is not this CSE ({self.own_id}), which does not relay it")
        now = self.clock.now()
        now_ts = format_timestamp(now)
        originator = self.sp_relative(request.fr or "")
        key = (request.rqi, originator, int(request.op), request.to)
        if key in self._in_flight:
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE,
                              f"forwarding loop: request {request.rqi!r} from {originator} to {request.to!r} "
                              f"came back to {self.own_id} while it was being forwarded; check the "
                              "registrar and remoteCSE configuration")
        hop = self._next_hop(cse_id, sp_id, originator, now_ts)
        deadline = deadline_of(request, now)
        outgoing = dataclasses.replace(
            request, fr=originator, oet=None, accept=None, remote_address=None, authenticated=False,
            rqet=self._absolute(request.rqet, now, "rqet"), rset=self._absolute(request.rset, now, "rset"))
        timeout = deadline - now if deadline is not None else self.outbound.default_timeout
        self._in_flight.add(key)
        try:
            if hop.reachable:
                urls = [cse_url(poa, self.own_id, hop.cse_id) for poa in hop.poa]
            else:   # rr=false: the request waits in its pollingChannel until that CSE fetches it
                urls = [polling_url(hop.cse_id[1:])]
            response = await send_to_poa(self.outbound, urls, outgoing, timeout=timeout)
        finally:
            self._in_flight.discard(key)
        failure = response.extra.get(LOCAL_FAILURE)
        if failure is not None:
            if failure == TIMED_OUT and deadline is not None:   # the wait was bounded by rqet/rset
                raise OneM2MError(RSC.REQUEST_TIMEOUT, f"the request expired before CSE {hop.cse_id} answered "
                                                       f"(rqet/rset {request.rqet or request.rset!r})")
            way = f" (via the registrar {hop.cse_id})" if hop.via_registrar else ""
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE,
                              f"CSE {cse_id} is not reachable{way}: {debug_text(response)}")
        location = response.content_location
        if location and not location.startswith("/"):
            # CSE-relative to the hosting CSE; the originator addressed it SP-relative.
            response.content_location = f"{cse_id}/{location}"
        return response

    def _next_hop(self, cse_id: str, sp_id: str | None, originator: str, now_ts: str) -> Hop:
        hop = self.routes.next_hop(cse_id, originator, now_ts, sp_id)
        if hop.reachable and not hop.poa:
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, f"CSE {hop.cse_id} has no point of access (poa)")
        return hop

    def sp_relative(self, originator: str) -> str:
        """TS-0004 7.3.2.6: a CSE-relative originator leaves this CSE SP-relative."""
        if originator.startswith("/"):
            return originator
        return f"{self.own_id}/{originator}"

    @staticmethod
    def _absolute(value: str | None, now: float, name: str) -> str | None:
        """A relative time ("5000" ms) would restart at every hop; send the instant instead."""
        if value is None:
            return None
        return format_timestamp(parse_abs_rel(value, now, name))


ROUTED_SCHEME = "routed"


def routed_url(cse_id: str) -> str:
    """Where a request for an entity on CSE `cse_id` (not a neighbour of ours) is sent: through
    this CSE's own forwarding, hop by hop (`RoutedSender`)."""
    return f"{ROUTED_SCHEME}://{cse_id.lstrip('/')}"


class RoutedSender:
    """The Sender for `routed://` URLs: hands the request to the dispatcher, whose remote
    handler (the Forwarder) routes it towards the CSE its `to` names, with the usual loop
    detection and rqet rules.  So the notifier reaches an AE two CSEs away
    (`/id-in/CApp` from a CSE below an MN) without knowing the way: `to` is the entry.
    Internal: nobody outside the CSE can name such a URL (Outbound.register(internal=True))."""

    keeps_order = False

    def __init__(self, dispatch: Callable[[Request], Awaitable[Response]]):
        self.dispatch = dispatch

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        return await asyncio.wait_for(self.dispatch(request), timeout)
