"""Request and response primitives (TS-0004 7.2.1), independent of any transport.

A binding turns its wire format into a `Request` and renders the `Response` back; the core
never sees headers, topics or CoAP options.  Field names are the oneM2M short names because
that is what every binding and every log line talks about.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable


class Operation(enum.IntEnum):
    CREATE = 1
    RETRIEVE = 2
    UPDATE = 3
    DELETE = 4
    NOTIFY = 5


class ResultContent(enum.IntEnum):
    NOTHING = 0
    ATTRIBUTES = 1
    HIERARCHICAL_ADDRESS = 2
    HIERARCHICAL_ADDRESS_ATTRIBUTES = 3
    ATTRIBUTES_AND_CHILDREN = 4
    ATTRIBUTES_AND_CHILD_REFERENCES = 5
    CHILD_REFERENCES = 6
    ORIGINAL_RESOURCE = 7
    CHILD_RESOURCES = 8
    MODIFIED_ATTRIBUTES = 9
    SEMANTIC_CONTENT = 10
    DISCOVERY_RESULT_REFERENCES = 11


class ResponseTypeValue(enum.IntEnum):
    NON_BLOCKING_SYNCH = 1
    NON_BLOCKING_ASYNCH = 2
    BLOCKING = 3
    FLEX_BLOCKING = 4
    NO_RESPONSE = 5


class FilterUsage(enum.IntEnum):
    DISCOVERY = 1
    CONDITIONAL_RETRIEVAL = 2
    IPE_ON_DEMAND_DISCOVERY = 3


class DesiredIdentifierResultType(enum.IntEnum):
    STRUCTURED = 1
    UNSTRUCTURED = 2


@dataclass(frozen=True, slots=True)
class Request:
    """One request primitive, whatever binding it arrived on.

    Frozen: a part that needs a different request (a fan-out member's target, a forwarded
    copy, an authenticated one) makes one with `dataclasses.replace`, so the request a
    binding handed over never changes under another part that holds it.

    `pc` is already decoded (JSON or CBOR give the same dict).  `fc` holds the filter
    criteria with values converted to their oneM2M types by the binding; the core
    validates them again, because MQTT and CoAP bodies reach it as well.
    """

    op: int
    to: str
    fr: str | None
    rqi: str
    rvi: str | None = None
    ty: int | None = None
    pc: Any = None
    rcn: int | None = None
    rt: int | None = None              # responseTypeValue (rtv)
    rtu: list[str] | None = None       # notification targets of rt (nu)
    ot: str | None = None
    rqet: str | None = None
    rset: str | None = None
    oet: str | None = None
    ec: int | None = None
    gid: str | None = None
    drt: int | None = None
    fc: dict[str, Any] | None = None
    atrl: list[str] | None = None      # partial retrieve (from ?atrl= or #attr)
    vsi: str | None = None
    rp: str | None = None
    # Media type the originator wants back ("json" or "cbor"); bindings fill it, the
    # core only passes it on to places that originate traffic (e.g. async results).
    accept: str | None = None
    # Transport facts the core may need for access-control contexts, never for routing.
    remote_address: str | None = None
    # True when a binding authenticated `fr` (credentials, TLS client certificate).
    authenticated: bool = False
    # Set on requests that a binding received from another CSE (forwarding loop checks).
    via: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"op={self.op} to={self.to!r} fr={self.fr!r} rqi={self.rqi!r}"

    def to_primitive(self) -> dict[str, Any]:
        """The request as a oneM2M primitive object (MQTT payloads, m2m:rqp handed to a poller)."""
        out: dict[str, Any] = {"op": int(self.op), "to": self.to, "rqi": self.rqi}
        if self.fr is not None:
            out["fr"] = self.fr
        for name in ("rvi", "ty", "rcn", "ot", "rqet", "rset", "oet", "ec", "gid", "drt", "fc", "vsi", "rp"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        pc = self.pc
        if self.atrl and pc is None:
            pc = {"m2m:atrl": list(self.atrl)}
        if pc is not None:
            out["pc"] = pc
        if self.rt is not None:
            out["rt"] = {"rtv": self.rt, **({"nu": self.rtu} if self.rtu is not None else {})}
        return out


def _stored_through_slots(cls: type) -> None:
    """Give a frozen slots dataclass an `__init__` that stores each field through its slot
    descriptor.  The one dataclasses writes for a frozen class calls
    `object.__setattr__(self, name, value)` for every field: for Request's 25 fields that
    made building one 7x slower (0.9 -> 6 us), 3-5% of the CSE's CPU time for a whole
    RETRIEVE (bench.http_crud).  The slot descriptors bypass the frozen `__setattr__` in
    the same way at a third of the cost.  Same parameters and defaults; the fields are
    read from the class, so a field added later needs nothing here."""
    namespace: dict[str, Any] = {}
    parameters, body = [], []
    for spec in dataclasses.fields(cls):
        name = spec.name
        if spec.default_factory is not dataclasses.MISSING or not spec.init or spec.kw_only:
            raise TypeError(f"{cls.__name__}.{name}: only plain fields are supported here")
        if spec.default is dataclasses.MISSING:
            parameters.append(name)
        else:
            parameters.append(f"{name}=_default_{name}")
            namespace[f"_default_{name}"] = spec.default
        namespace[f"_store_{name}"] = cls.__dict__[name].__set__
        body.append(f"    _store_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: __post_init__ is not supported here")
    exec(f"def __init__(self, {', '.join(parameters)}):\n" + "\n".join(body), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)


_stored_through_slots(Request)


@dataclass(slots=True)
class Response:
    """One response primitive.  `content_location` is the created resource's address,
    rendered by bindings that have a place for it (HTTP Content-Location, CoAP Location-Path)."""

    rsc: int
    rqi: str = ""
    rvi: str | None = None
    pc: Any = None
    fr: str | None = None
    to: str | None = None
    ot: str | None = None
    rset: str | None = None
    ec: int | None = None
    cnst: int | None = None
    cnot: int | None = None
    vsi: str | None = None
    content_location: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 2000 <= self.rsc < 3000 or 1000 <= self.rsc < 2000

    def to_primitive(self) -> dict[str, Any]:
        """The response as a oneM2M primitive object (MQTT payloads, m2m:rsp in notifications)."""
        out: dict[str, Any] = {"rsc": self.rsc, "rqi": self.rqi}
        for name in ("rvi", "pc", "fr", "to", "ot", "rset", "ec", "cnst", "cnot", "vsi"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


# Sends a request through this CSE's dispatcher, as if it had arrived over a binding (with
# access control, forwarding and fan-out): what parts that re-dispatch are given.
Handler = Callable[[Request], Awaitable[Response]]
