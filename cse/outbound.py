"""Requests this CSE originates (notifications, forwarding, fan-out to remote members).

The core only says "send this primitive to this URL"; the binding for the URL's scheme
(http, https, mqtt, coap, ...) registered a `Sender` at start-up and does the wire work.
So the core stays transport-free, and a target nobody can reach is an ordinary response
(5103) rather than an exception.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable, Protocol

from .errors import RSC
from .outbound_policy import OutboundPolicy
from .primitives import Request, Response

log = logging.getLogger(__name__)

# A 5103 made here rather than received from the peer carries `extra[LOCAL_FAILURE]`, so a
# caller can tell "nothing was delivered, try another point of access" (NO_SENDER,
# UNREACHABLE) from "sent, but no answer came; it may have been executed" (TIMED_OUT).
LOCAL_FAILURE = "local_failure"
NO_SENDER = "no-sender"
UNREACHABLE = "unreachable"
TIMED_OUT = "timed-out"


def live_entity_id(identity: str, cse_id: str) -> str:
    """CSE-relative AE-IDs ("Cmeter" for "/id-in/Cmeter", and for "//sp/id-in/Cmeter"); CSE-IDs
    and AE-IDs of other CSEs stay as they are."""
    marker = cse_id + "/"
    index = identity.find(marker)
    if index >= 0 and (index == 0 or identity.startswith("//")):
        return identity[index + len(marker):]
    return identity


class Sender(Protocol):
    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        """Deliver `request` to `url` and return the peer's response.

        URL rules, the same for every binding: a URL with a path or topic is the exact
        destination (a notification URI); a bare point of access (scheme://host:port)
        is the entity itself, and the binding derives the rest from `request.to` - unless
        `request.to` is that URL itself (a notificationURI given as a bare URL)."""


def keeps_order(sender: Sender) -> bool:
    """A sender may declare `keeps_order = True`: concurrent `send` calls to one URL reach the
    peer in the order they were made, so callers may keep several requests in flight."""
    return bool(getattr(sender, "keeps_order", False))


class Outbound:
    def __init__(self, default_timeout: float = 10.0, policy: OutboundPolicy | None = None):
        self._senders: dict[str, Sender] = {}
        self._internal: set[str] = set()
        self.default_timeout = default_timeout
        # Where URLs given by clients may lead (checked when given, and by the senders when
        # they connect).
        self.policy = policy or OutboundPolicy()
        # Entities reachable over a connection they opened (a WebSocket, TS-0020): entity ID
        # (CSE-relative AE-ID, or CSE-ID) -> the internal URL of that connection.  Bounded by
        # the binding that attaches them (connections x originators per connection).
        self._live: dict[str, str] = {}

    # -- connections opened by the entities themselves --------------------------------
    def attach(self, entity_id: str, url: str) -> None:
        """`entity_id` can now be reached at `url` (the newest connection wins)."""
        self._live[entity_id] = url

    def detach(self, entity_id: str, url: str) -> None:
        """`url` closed; `entity_id` is no longer reachable there (unless a newer one took over)."""
        if self._live.get(entity_id) == url:
            del self._live[entity_id]

    def live_url(self, entity_id: str | None) -> str | None:
        """The open connection of an entity, preferred over its poa: it needs none (a browser
        or a device behind NAT), and it is known to be up."""
        return self._live.get(entity_id) if entity_id else None

    def register(self, schemes: Iterable[str], sender: Sender, *, internal: bool = False) -> None:
        """`internal`: URLs of these schemes are made by the CSE itself (a polling channel,
        the forwarding path) and are never accepted from outside: `supports` says no."""
        for scheme in schemes:
            self._senders[scheme] = sender
            if internal:
                self._internal.add(scheme)

    def supports(self, url: str) -> bool:
        """Whether a URL given by someone else (poa, notificationURI) can be sent to."""
        scheme = url.split("://", 1)[0].lower()
        return scheme in self._senders and scheme not in self._internal

    def keeps_order(self, url: str) -> bool:
        sender = self._senders.get(url.split("://", 1)[0].lower())
        return sender is not None and keeps_order(sender)

    async def send(self, url: str, request: Request, *, serialization: str = "json",
                   timeout: float | None = None) -> Response:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        sender = self._senders.get(scheme)
        if sender is None:
            return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi,
                            pc={"m2m:dbg": f"no binding can send to {url!r}"},
                            extra={LOCAL_FAILURE: NO_SENDER})
        try:
            return await sender.send(url, request, serialization=serialization,
                                     timeout=timeout or self.default_timeout)
        except asyncio.TimeoutError:
            return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi,
                            pc={"m2m:dbg": f"{url} did not answer in time"},
                            extra={LOCAL_FAILURE: TIMED_OUT})
        except Exception as exc:  # connection refused, DNS, TLS: the target is unreachable
            log.debug("sending to %s failed: %r", url, exc)
            return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi,
                            pc={"m2m:dbg": f"{url} is not reachable: {exc}"},
                            extra={LOCAL_FAILURE: UNREACHABLE})
