"""Where a notification goes: parsing notificationURI (`nu`, `su`) entries and resolving them.

An entry is either a URL, sent to as it is over the binding registered for its scheme, or
the ID of an entity (AE-ID, CSE-ID, resource ID) whose `poa` says where it listens.  IDs
are resolved when a notification is sent, not when the subscription is created, so an AE
that moves (updates its poa) keeps receiving.  An entity with rr=false gets them through its
pollingChannel, an ID on a CSE further away through the forwarding path (see `url_of`).  A
`?ct=json|cbor` suffix on a URL chooses the serialization (TS-0004) and is not part of the address.

Used by the subscription type (validation, verification) and the notifier (delivery).
This module never sends anything and never writes to storage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from .addressing import AddressParser
from .errors import OneM2MError, bad_request
from .outbound import live_entity_id
from .federation.forwarding import cse_url, routed_url
from .polling import polling_url

if TYPE_CHECKING:
    from .config import Config
    from .outbound import Outbound
    from .storage import Storage

AE_TY = 2
REMOTE_CSE_TY = 16
REACHABILITY_TYPES = (AE_TY, REMOTE_CSE_TY)     # the types with requestReachability (rr)
SERIALIZATION_NAMES = {"json": "json", "cbor": "cbor"}
MEDIA_TYPES = {"application/json": "json", "application/cbor": "cbor",
               "application/vnd.onem2m-res+json": "json", "application/vnd.onem2m-res+cbor": "cbor"}


@dataclass(frozen=True, slots=True)
class NotificationTarget:
    entry: str                    # as the subscriber wrote it
    url: str | None = None        # URL entries: the address, without ?ct=
    serialization: str | None = None   # from ?ct=

    @property
    def key(self) -> str:
        """What delivery queues are per: one queue per distinct destination."""
        return self.url or self.entry


def parse_target(entry: str, attribute: str = "nu") -> NotificationTarget:
    """Check the form of one entry; 4000 naming the attribute when it is malformed."""
    if not isinstance(entry, str) or not entry.strip():
        raise bad_request(f"attribute '{attribute}': an entry is empty")
    if any(c.isspace() for c in entry):
        raise bad_request(f"attribute '{attribute}': {entry!r} contains white space")
    if "://" not in entry:
        return NotificationTarget(entry)
    parts = urlsplit(entry)
    if not parts.scheme or not parts.netloc:
        raise bad_request(f"attribute '{attribute}': {entry!r} is not a URL (scheme://host[:port]/path)")
    serialization = None
    kept = []                  # the other query parameters, exactly as written
    for item in parts.query.split("&") if parts.query else ():
        name, _, value = item.partition("=")
        if name == "ct":
            value = unquote_plus(value)
            serialization = SERIALIZATION_NAMES.get(value.lower())
            if serialization is None:
                raise bad_request(f"attribute '{attribute}': {entry!r} asks for serialization "
                                  f"ct={value!r}; this CSE sends json or cbor")
        else:
            kept.append(item)
    url = urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, "&".join(kept), parts.fragment))
    return NotificationTarget(entry, url, serialization)


class TargetResolver:
    """Turns a target into the URL to send to, the `to` of the request, and the entity's
    resource (for its csz and srv) when the target is an ID hosted here."""

    def __init__(self, config: "Config", storage: "Storage", outbound: "Outbound"):
        self.cse_id = config.cse.cse_id
        self.storage = storage
        self.outbound = outbound
        self.addresses = AddressParser(config.cse.cse_id, config.cse.rn, config.cse.sp_id)

    def to_of(self, target: NotificationTarget) -> str:
        if target.url is not None:
            return target.url
        entry = target.entry
        return entry if entry.startswith("/") else f"{self.cse_id}/{entry}"

    def entity(self, target: NotificationTarget) -> dict | None:
        if target.url is not None:
            return None
        try:
            address = self.addresses.parse(target.entry)
        except OneM2MError:
            return None
        if address.remote_cse is not None:
            # A registered CSE is found by its CSE-ID when its resource is named after it.
            return None if address.remote_sp else self.storage.get(address.remote_cse.lstrip("/"))
        if address.ri is not None:
            return self.storage.get(address.ri) if not address.rest else \
                self.storage.get_by_path(f"{self._path_of(address.ri)}/{'/'.join(address.rest)}")
        return self.storage.get_by_path(address.structured) if address.structured is not None else None

    def _remote_cse(self, target: NotificationTarget) -> str | None:
        """The CSE-ID (or SP-ID + CSE-ID) of an entry naming an entity on another CSE."""
        try:
            address = self.addresses.parse(target.entry)
        except OneM2MError:
            return None
        if address.remote_cse is None:
            return None
        return (address.remote_sp or "") + address.remote_cse

    def live_id(self, entity: dict) -> str | None:
        """The ID under which an AE or remoteCSE is attached to a connection it opened."""
        identity = entity.get("aei") if entity.get("ty") == AE_TY else \
            entity.get("csi") if entity.get("ty") == REMOTE_CSE_TY else None
        return live_entity_id(identity, self.cse_id) if isinstance(identity, str) else None

    def _path_of(self, ri: str) -> str:
        head = self.storage.get(ri)
        return head["_path"] if head else ri

    def url_of(self, target: NotificationTarget, entity: dict | None) -> str | None:
        """The URL to send to; None when the target has no point of access we can use.

        An entity with rr=false is not sent to: its requests wait in its pollingChannel
        (`polling://`).  An ID on a CSE that is not our neighbour goes through this CSE's
        forwarding, hop by hop (`routed://`)."""
        if target.url is not None:
            return target.url if self.outbound.supports(target.url) else None
        if entity is None:
            remote = self._remote_cse(target)
            return routed_url(remote) if remote is not None else None
        live = self.outbound.live_url(self.live_id(entity))
        if live is not None:
            return live
        if entity.get("rr") is False and entity.get("ty") in REACHABILITY_TYPES:
            return polling_url(entity["ri"])
        for url in entity.get("poa") or ():
            if isinstance(url, str) and self.outbound.supports(url):
                if entity.get("ty") == REMOTE_CSE_TY and entity.get("csi"):
                    # A target behind another CSE goes to that CSE (which relays it); over
                    # MQTT the topic must name that CSE, not the target.
                    return cse_url(url, self.cse_id, entity["csi"])
                return url
        return None

    def serialization_of(self, target: NotificationTarget, entity: dict | None,
                         fallback: str | None) -> str:
        """?ct= of the URL, else the first serialization the entity lists in csz, else the
        serialization the subscriber used when it created the subscription, else JSON."""
        if target.serialization:
            return target.serialization
        for media_type in (entity or {}).get("csz") or ():
            chosen = MEDIA_TYPES.get(str(media_type).split(";", 1)[0].strip().lower())
            if chosen:
                return chosen
        return fallback or "json"

    def describe_unreachable(self, target: NotificationTarget, entity: dict | None) -> str:
        if target.url is not None:
            return f"no binding of this CSE can send to {target.url!r}"
        if entity is None:
            return f"{target.entry!r} is not an entity known to this CSE"
        if not entity.get("poa"):
            return f"{target.entry!r} has no point of access (poa)"
        return f"no binding of this CSE can send to any poa of {target.entry!r} ({', '.join(entity['poa'])})"


def same_entity(entry: str, originator: str | None, cse_id: str, sp_id: str) -> bool:
    """Whether a nu entry names the originator itself (no verification needed, TS-0004 7.4.8.2.1)."""
    if not originator or "://" in entry:
        return False

    def sp_relative(identifier: str) -> str:
        if identifier.startswith(sp_id + "/"):
            return identifier[len(sp_id):]
        if identifier.startswith("/"):
            return identifier
        return f"{cse_id}/{identifier}"

    return sp_relative(entry) == sp_relative(originator)
