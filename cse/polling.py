"""Polling channels: requests for an entity this CSE cannot reach, held until it fetches them.

An AE or CSE behind NAT registers with rr=false (not request-reachable) and creates one
<pollingChannel> (resources/polling_channel.py).  Whatever this CSE would send it - a
notification, a verification request, a relayed NOTIFY, a forwarded request - is addressed
to `polling://<ri of the entity>` (see `polling_url`), and `PollingChannels` is the Sender
registered for that internal scheme, so the notifier, the subscription's verification, the
NOTIFY relay and the forwarder use polling channels without knowing about them.

The entity fetches with a RETRIEVE of `<pollingChannel>/pcu`, which waits (long poll) until a
request is there and answers `{"m2m:rqp": <request primitive>}`, or 4008 after rqet or
`polling.long_poll_max`.  It answers that request with a NOTIFY to pcu carrying
`{"m2m:rsp": <response primitive>}` (same rqi), which completes the `send` waiting here.

Bounds: a channel holds at most `polling.queue_size` requests not yet fetched; a further one
is refused at once (5103), never dropped silently, so the sender decides (the notifier
retries with back-off within its own bounded queue).  Each waiting sender has its timeout,
each waiting poll its own; nothing waits forever, and an idle channel takes no memory.

Restart: all of this is in memory.  The <pollingChannel> resource survives, the requests
do not: at a clean shutdown waiting senders are answered 5103 (the notifier persists its
undelivered notifications and sends them again after the start) and waiting polls are
answered 5103; after a crash the queued requests are lost like the notifier's queues.

This module never writes to storage and never sends anything itself.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import format_timestamp, parse_abs_rel
from .errors import RSC, OneM2MError, bad_request
from .outbound import LOCAL_FAILURE, TIMED_OUT, UNREACHABLE
from .primitives import Request, Response
from .resource_types import Ty

if TYPE_CHECKING:
    from .clock import Clock
    from .config import PollingSettings
    from .context import Context, RequestContext
    from .tree import Tree

POLLING_SCHEME = "polling"
# Optional members of an m2m:rsp and the JSON type each must have.
RESPONSE_STRINGS = ("rvi", "fr", "to", "ot", "rset", "vsi")
RESPONSE_INTEGERS = ("ec", "cnst", "cnot")


def polling_url(entity_ri: str) -> str:
    """Where requests for the AE or CSE with resource ID `entity_ri` go when it has rr=false."""
    return f"{POLLING_SCHEME}://{entity_ri}"


def entity_name(entity: dict) -> str:
    """'AE Cmeter' / 'CSE /id-mn', for messages."""
    if entity.get("ty") == Ty.AE:
        return f"AE {entity.get('aei', entity['ri'])}"
    if entity.get("ty") == Ty.CSR:
        return f"CSE {entity.get('csi', entity['ri'])}"
    return entity["ri"]


@dataclass(slots=True, eq=False)
class Pending:
    """One request in a channel: queued until a poll takes it, then awaiting its answer."""

    request: Request                    # as the owner sees it (rqi made unique in the channel)
    original_rqi: str                   # the sender's rqi, put back on the answer
    answer: asyncio.Future
    fetched: bool = False


@dataclass(slots=True, eq=False)
class Channel:
    owner: str                                                  # for messages
    queue: deque = field(default_factory=deque)                 # Pending, not yet fetched
    pollers: list = field(default_factory=list)                 # futures of waiting polls
    awaiting: dict = field(default_factory=dict)                # delivered rqi -> Pending

    @property
    def idle(self) -> bool:
        return not (self.queue or self.pollers or self.awaiting)


class _Closed:
    """What a waiting poll is woken with when its channel goes away."""

    def __init__(self, rsc: int, message: str):
        self.rsc, self.message = rsc, message


class PollingChannels:
    # Requests wait in order; but a send is refused when the channel is full while a later
    # one may find room, so concurrent sends are not promised to arrive in call order.
    keeps_order = False

    def __init__(self, settings: "PollingSettings", tree: "Tree", clock: "Clock"):
        self.settings = settings
        self.tree = tree
        self.clock = clock
        self._channels: dict[str, Channel] = {}       # ri of the <pollingChannel> -> Channel
        self._closed = False

    # -- the Sender side: a request for an entity with rr=false --------------------------
    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        entity_ri = url.split("://", 1)[1].strip("/")
        now_ts = format_timestamp(self.clock.now())
        entity = self.tree.get(entity_ri, now_ts)
        if entity is None:
            return _unreachable(request, f"{entity_ri} is not registered with this CSE")
        name = entity_name(entity)
        if self._closed:
            return _unreachable(request, f"{name} polls for its requests, and this CSE is shutting down")
        pch = self.channel_resource(entity, now_ts)
        if pch is None:
            return _unreachable(request, f"{name} is not request-reachable (rr=false) and has no "
                                         "pollingChannel to hold requests for it")
        channel = self._channels.get(pch["ri"])
        if channel is None:
            channel = self._channels[pch["ri"]] = Channel(name)
        if len(channel.queue) >= self.settings.queue_size:
            return _unreachable(request, f"the pollingChannel of {name} holds {len(channel.queue)} requests "
                                         "it has not fetched yet (polling.queue_size)")
        delivered = request.rqi
        suffix = 1
        while delivered in channel.awaiting:     # another sender's request uses the same rqi
            delivered = f"{request.rqi}~{suffix}"
            suffix += 1
        outgoing = request if delivered == request.rqi else dataclasses.replace(request, rqi=delivered)
        pending = Pending(outgoing, request.rqi, asyncio.get_running_loop().create_future())
        channel.awaiting[delivered] = pending
        self._hand_over(channel, pending)
        try:
            response = await asyncio.wait_for(pending.answer, timeout)
        except asyncio.TimeoutError:
            # Timed out either way (so a deadline from rqet becomes 4008 for the originator).
            if pending.fetched:
                why = (f"{name} fetched the request from its pollingChannel but did not answer it "
                       f"within {timeout:.3g} s")
            else:
                why = (f"{name} did not fetch the request from its pollingChannel within {timeout:.3g} s "
                       "(is it polling?)")
            return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi, pc={"m2m:dbg": why},
                            extra={LOCAL_FAILURE: TIMED_OUT})
        finally:
            if channel.awaiting.get(delivered) is pending:
                del channel.awaiting[delivered]
            if not pending.fetched:
                try:
                    channel.queue.remove(pending)
                except ValueError:
                    pass
            self._discard_if_idle(pch["ri"], channel)
        response.rqi = request.rqi
        return response

    def _hand_over(self, channel: Channel, pending: Pending) -> None:
        """To a waiting poll, else to the queue.  The newest poll first: an older one may be
        stuck on a connection that a NAT dropped without telling anybody."""
        while channel.pollers:
            poller = channel.pollers.pop()
            if not poller.done():
                pending.fetched = True
                poller.set_result(pending)
                return
        channel.queue.append(pending)

    def channel_resource(self, entity: dict, now_ts: str) -> dict | None:
        for pch in self.tree.children(entity, now_ts, Ty.PCH):
            return pch
        return None

    # -- the owner's side: RETRIEVE pcu (long poll), NOTIFY pcu (the answer) -------------
    async def poll(self, ctx: "RequestContext", pch: dict, owner: str) -> Response:
        """The oldest request waiting for `owner`, as soon as there is one."""
        if self._closed:
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, "this CSE is shutting down; poll again later")
        wait = self.settings.long_poll_max
        rqet = ctx.request.rqet
        if rqet is not None:
            wait = min(wait, parse_abs_rel(rqet, ctx.now, "rqet") - ctx.now)
        channel = self._channels.get(pch["ri"])
        if channel is None:
            channel = self._channels[pch["ri"]] = Channel(owner)
        if channel.queue:
            pending = channel.queue.popleft()
            pending.fetched = True
            return _fetched(pending)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        # The timeout resolves the waiter (with None) rather than cancelling it, so a request
        # handed over at the same moment is never lost between the two.
        timer = loop.call_later(max(wait, 0.0), _resolve, waiter, None)
        channel.pollers.append(waiter)
        try:
            outcome = await waiter
        except asyncio.CancelledError:
            # The poll went away (e.g. the binding cancelled it): a request handed to it goes back.
            if waiter.done() and not waiter.cancelled() and isinstance(waiter.result(), Pending):
                pending = waiter.result()
                pending.fetched = False
                channel.queue.appendleft(pending)
            raise
        finally:
            timer.cancel()
            if waiter in channel.pollers:
                channel.pollers.remove(waiter)
            self._discard_if_idle(pch["ri"], channel)
        if outcome is None:
            raise OneM2MError(RSC.REQUEST_TIMEOUT, f"no request for {owner} arrived within {wait:.3g} s; "
                                                   "poll again")
        if isinstance(outcome, _Closed):
            raise OneM2MError(outcome.rsc, outcome.message)
        return _fetched(outcome)

    def answer(self, ctx: "RequestContext", pch: dict) -> Response:
        """A NOTIFY to pcu: the owner's response to a request it fetched."""
        rsp = _response_content(ctx.request.pc)
        rqi = rsp["rqi"]
        channel = self._channels.get(pch["ri"])
        pending = channel.awaiting.get(rqi) if channel is not None else None
        if pending is None or not pending.fetched or pending.answer.done():
            raise OneM2MError(RSC.NOT_FOUND, f"m2m:rsp: no request {rqi!r} fetched from this pollingChannel "
                                             "is waiting for an answer (it may have timed out)")
        response = Response(rsc=rsp["rsc"], rqi=pending.original_rqi)
        for name in RESPONSE_STRINGS + RESPONSE_INTEGERS + ("pc",):
            if name in rsp:
                setattr(response, name, rsp[name])
        pending.answer.set_result(response)
        return Response(rsc=RSC.OK)

    # -- channels going away --------------------------------------------------------------
    def close_channel(self, pch_ri: str, why: str) -> None:
        """The <pollingChannel> was deleted: its senders get 5103, its polls 4004."""
        channel = self._channels.pop(pch_ri, None)
        if channel is not None:
            self._fail(channel, RSC.NOT_FOUND, why)

    def close(self) -> None:
        """Shutdown: answer every waiting sender and poll now, accept nothing more."""
        self._closed = True
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            self._fail(channel, RSC.TARGET_NOT_REACHABLE, "this CSE is shutting down")

    @staticmethod
    def _fail(channel: Channel, poll_rsc: int, why: str) -> None:
        for poller in channel.pollers:
            if not poller.done():
                poller.set_result(_Closed(poll_rsc, why))
        channel.pollers.clear()
        for pending in list(channel.awaiting.values()):
            if not pending.answer.done():
                pending.answer.set_result(Response(
                    rsc=RSC.TARGET_NOT_REACHABLE, rqi=pending.original_rqi, extra={LOCAL_FAILURE: UNREACHABLE},
                    pc={"m2m:dbg": f"the pollingChannel of {channel.owner} is gone: {why}"}))

    def _discard_if_idle(self, pch_ri: str, channel: Channel) -> None:
        if channel.idle and self._channels.get(pch_ri) is channel:
            del self._channels[pch_ri]

    def stats(self) -> dict:
        channels = self._channels.values()
        return {"channels": len(self._channels), "queued": sum(len(c.queue) for c in channels),
                "awaiting": sum(len(c.awaiting) for c in channels),
                "polls": sum(len(c.pollers) for c in channels)}


def _resolve(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)


def _fetched(pending: Pending) -> Response:
    return Response(rsc=RSC.OK, pc={"m2m:rqp": pending.request.to_primitive()})


def _unreachable(request: Request, message: str) -> Response:
    """Nothing was delivered: the caller may try elsewhere or later."""
    return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi, pc={"m2m:dbg": message},
                    extra={LOCAL_FAILURE: UNREACHABLE})


def _response_content(pc: object) -> dict:
    """The m2m:rsp of a NOTIFY to pcu, checked member by member (4000 naming the member)."""
    rsp = pc.get("m2m:rsp") if isinstance(pc, dict) and len(pc) == 1 else None
    if not isinstance(rsp, dict):
        raise bad_request('a NOTIFY to a pollingChannelURI (pcu) must carry the answer to a fetched request: '
                          '{"m2m:rsp": {"rsc": ..., "rqi": ...}}')
    rsc = rsp.get("rsc")
    if not isinstance(rsc, int) or isinstance(rsc, bool) or not 1000 <= rsc <= 6999:
        raise bad_request(f"m2m:rsp: rsc {rsc!r} is not a response status code (an integer such as 2000)")
    rqi = rsp.get("rqi")
    if not isinstance(rqi, str) or not rqi:
        raise bad_request("m2m:rsp: rqi (the request identifier of the fetched request it answers) "
                          "is missing or not a string")
    for name in RESPONSE_STRINGS:
        if name in rsp and not isinstance(rsp[name], str):
            raise bad_request(f"m2m:rsp: {name} must be a string, not {rsp[name]!r}")
    for name in RESPONSE_INTEGERS:
        if name in rsp and (not isinstance(rsp[name], int) or isinstance(rsp[name], bool)):
            raise bad_request(f"m2m:rsp: {name} must be an integer, not {rsp[name]!r}")
    return rsp
