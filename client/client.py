"""`CseClient`: what an AE (meter firmware, an energy application) says to its CSE.

One client = one originator talking to one CSE.  Methods take oneM2M addresses as the CSE
understands them ("cse-in/meter/power", "/id-mn/cse-mn/meter/power", a resource ID) and
content in its wire form ({"m2m:cnt": {...}}); they return the resource's attributes
(the object inside the root) and raise `RequestFailed` for any non-success answer, so
application code reads like the use case and never builds a header.
"""
from __future__ import annotations

import itertools
import secrets
from typing import TYPE_CHECKING, Any, Iterable

from cse.primitives import Operation, Request, Response
from cse.resource_types import Ty

from .factory import transport_for
from .transport import CseUnreachable, Transport

if TYPE_CHECKING:
    from .receiver import NotificationInbox

# JSON root -> resource type (TS-0004 6.3.4.2.1), so `create` needs no separate ty.
RESOURCE_TYPES = {
    "m2m:acp": Ty.ACP, "m2m:ae": Ty.AE, "m2m:cnt": Ty.CNT, "m2m:cin": Ty.CIN, "m2m:grp": Ty.GRP,
    "m2m:lcp": Ty.LCP, "m2m:nod": Ty.NOD, "m2m:pch": Ty.PCH, "m2m:csr": Ty.CSR, "m2m:sch": Ty.SCH,
    "m2m:sub": Ty.SUB, "m2m:smd": Ty.SMD, "m2m:fcnt": Ty.FCNT, "m2m:ts": Ty.TS, "m2m:tsi": Ty.TSI,
}
ALREADY_REGISTERED = 4117
CONFLICT = 4105
OPERATION_NAMES = {1: "CREATE", 2: "RETRIEVE", 3: "UPDATE", 4: "DELETE", 5: "NOTIFY"}


class RequestFailed(Exception):
    """The CSE answered, but not with success.  `rsc` is the response status code,
    `message` the CSE's explanation (m2m:dbg), `response` the whole answer."""

    def __init__(self, request: Request, response: Response):
        self.request = request
        self.response = response
        self.rsc = int(response.rsc)
        pc = response.pc
        self.message = pc.get("m2m:dbg", "") if isinstance(pc, dict) else ""
        super().__init__(f"{OPERATION_NAMES.get(request.op, request.op)} {request.to} failed: "
                         f"{self.rsc} {self.message}".rstrip())


def unwrap(pc: Any) -> Any:
    """{"m2m:cnt": {...}} -> {...}; anything else as it is."""
    if isinstance(pc, dict) and len(pc) == 1:
        (root, value), = pc.items()
        if ":" in root:
            return value
    return pc


def sp_relative_ae_id(aei: str, cse_id: str) -> str:
    """TS-0001 7.2: an S-AE-ID is SP-wide (/Sxyz); a C-AE-ID needs its registrar (/id-in/Cxyz)."""
    if aei.startswith("/"):
        return aei
    return f"/{aei}" if aei.startswith("S") else f"{cse_id}/{aei}"


class CseClient:
    """An AE's connection to its CSE (its registrar).

    `url`: the CSE's point of access (http://host:port).  `originator`: the AE-ID to
    use; None before registration (the CSE then assigns one), or a fixed "Cxyz" so a
    device keeps its identity across restarts.  `cse_rn`: the CSEBase name ("-" works
    with any CSE that supports the shortcut).  `cse_id`: the CSE's CSE-ID; needed for an
    mqtt:// URL (MQTT addresses the CSE by ID), read from the CSEBase otherwise."""

    def __init__(self, url: str, *, originator: str | None = None, cse_rn: str = "-",
                 cse_id: str | None = None, release: str = "3", timeout: float = 10.0,
                 serialization: str = "json", transport: Transport | None = None):
        self.url = url
        self.originator = originator
        self.cse_rn = cse_rn
        self.release = release
        self.timeout = timeout
        self.transport = transport or transport_for(url, serialization, cse_id)
        self.ae: dict | None = None             # our AE resource after register()
        self.ae_address: str | None = None      # its structured address, e.g. "cse-in/meter"
        self._cse_id: str | None = cse_id
        self._rqi = itertools.count(1)
        self._rqi_prefix = secrets.token_hex(4)

    async def __aenter__(self) -> "CseClient":
        await self.transport.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    # -- the raw request ----------------------------------------------------------------
    def _request(self, op: int, to: str, originator: str | None, fields: dict[str, Any]) -> Request:
        return Request(op=op, to=to, fr=originator if originator is not None else self.originator,
                       rqi=f"{self._rqi_prefix}-{next(self._rqi)}", rvi=self.release, **fields)

    async def request(self, op: int, to: str, *, originator: str | None = None, timeout: float | None = None,
                      **fields: Any) -> Response:
        """Send one request primitive and return the response as it came (no raising on rsc).

        `fields` are Request fields by short name (ty, pc, rcn, fc, drt, atrl, rqet, ...);
        `timeout` replaces the client's for this request (e.g. a long poll)."""
        return await self.transport.send(self._request(op, to, originator, fields), timeout or self.timeout)

    async def _ok(self, op: int, to: str, *, originator: str | None = None, **fields: Any) -> Response:
        request = self._request(op, to, originator, fields)
        response = await self.transport.send(request, self.timeout)
        if not response.ok:
            raise RequestFailed(request, response)
        return response

    # -- registration -------------------------------------------------------------------
    async def register(self, app_id: str, *, rn: str | None = None, poa: list[str] | None = None,
                       rr: bool | None = None, receiver: "NotificationInbox | None" = None,
                       srv: list[str] | None = None, **attributes: Any) -> dict:
        """Register the AE (CREATE <AE>) and return its resource; afterwards requests use
        the AE-ID as originator.  With `receiver`, notifications and requests for the AE
        go to it (poa = its URL, rr = true; a `client.polling.PollingReceiver` has no URL:
        rr = false, and it fetches them from the AE's pollingChannel).

        If the CSE says this AE-ID is already registered (4117, e.g. after a restart of
        the device), the existing AE is taken over and its poa/rr/srv brought up to date."""
        if receiver is not None and receiver.url:       # a polling receiver has none (rr=false)
            poa = [receiver.url]
        if rr is None:
            rr = bool(poa)
        ae: dict[str, Any] = {"api": app_id, "rr": rr, "srv": srv or [self.release], **attributes}
        if rn is not None:
            ae["rn"] = rn
        if poa is not None:
            ae["poa"] = poa
        request = self._request(Operation.CREATE, self.cse_rn, self.originator or "C",
                                {"ty": RESOURCE_TYPES["m2m:ae"], "pc": {"m2m:ae": ae}})
        response = await self.transport.send(request, self.timeout)
        if response.rsc == ALREADY_REGISTERED and self.originator:
            resource = await self._take_over(ae)
        elif response.ok:
            resource = unwrap(response.pc)
            self.ae_address = response.content_location
        else:
            raise RequestFailed(request, response)
        self.originator = resource["aei"]
        self.ae = resource
        if not self.ae_address:
            self.ae_address = f"{self.cse_rn}/{resource['rn']}"
        if receiver is not None:
            await receiver.registered(self)
        return resource

    async def _take_over(self, wanted: dict) -> dict:
        originator = self.originator
        if originator is None:
            raise ValueError("an AE is taken over by its AE-ID: set the client's originator")
        current = await self.retrieve(originator)
        changes = {name: value for name, value in wanted.items()
                   if name not in ("api", "rn") and current.get(name) != value}
        if changes:
            current = await self.update(originator, {"m2m:ae": changes})
        return current

    async def deregister(self) -> None:
        """DELETE our AE (and everything under it)."""
        if self.originator is None:
            raise RuntimeError("not registered")
        await self.delete(self.originator)
        self.ae = None
        self.ae_address = None

    # -- CRUD ---------------------------------------------------------------------------
    async def create(self, parent: str, content: dict, *, ty: int | None = None, exist_ok: bool = False,
                     **fields: Any) -> dict:
        """CREATE `content` ({"m2m:cnt": {...}}) under `parent`; returns the new resource.

        `exist_ok`: a resource of that name under `parent` already there (4105, e.g. after
        a restart of the device) is not an error: it is retrieved and returned as it is.
        Needs `rn` in the content and a structured `parent` address."""
        if not isinstance(content, dict) or len(content) != 1:
            raise ValueError('content must be one resource, e.g. {"m2m:cnt": {"rn": "power"}}')
        root, attributes = next(iter(content.items()))
        ty = ty if ty is not None else RESOURCE_TYPES.get(root)
        if ty is None:
            raise ValueError(f"unknown resource root {root!r}: give ty=")
        name = attributes.get("rn") if isinstance(attributes, dict) else None
        if exist_ok and not name:
            raise ValueError("exist_ok needs the resource name (rn) in the content")
        originator = fields.pop("originator", None)
        request = self._request(Operation.CREATE, parent, originator, {"ty": ty, "pc": content, **fields})
        response = await self.transport.send(request, self.timeout)
        if exist_ok and response.rsc == CONFLICT:
            return await self.retrieve(f"{parent.rstrip('/')}/{name}", originator=originator)
        if not response.ok:
            raise RequestFailed(request, response)
        return unwrap(response.pc) if response.pc is not None else {}

    async def retrieve(self, target: str, *, attributes: Iterable[str] | None = None, **fields: Any) -> Any:
        """RETRIEVE `target`: its attributes (or only `attributes`), or what `rcn` asks for."""
        if attributes is not None:
            fields["atrl"] = list(attributes)
        response = await self._ok(Operation.RETRIEVE, target, **fields)
        return unwrap(response.pc)

    async def update(self, target: str, content: dict, **fields: Any) -> dict:
        """UPDATE `target` with `content` ({"m2m:cnt": {"mni": 10}}); returns the resource."""
        response = await self._ok(Operation.UPDATE, target, pc=content, **fields)
        return unwrap(response.pc) if response.pc is not None else {}

    async def delete(self, target: str, **fields: Any) -> None:
        await self._ok(Operation.DELETE, target, **fields)

    # -- conveniences for the common energy-management calls ----------------------------
    async def add_instance(self, container: str, content: Any, *, cnf: str | None = None, **attributes: Any) -> dict:
        """A new reading: CREATE a contentInstance with `con` = content."""
        cin = {"con": content, **attributes}
        if cnf is not None:
            cin["cnf"] = cnf
        return await self.create(container, {"m2m:cin": cin})

    async def latest(self, container: str) -> dict:
        """The newest contentInstance of `container`."""
        return await self.retrieve(f"{container}/la")

    async def discover(self, target: str, *, ty: int | Iterable[int] | None = None,
                       labels: Iterable[str] | None = None, limit: int | None = None,
                       level: int | None = None, structured: bool = True, **conditions: Any) -> list[str]:
        """Addresses of resources below `target` that match (RETRIEVE with fu=1).

        `conditions` are further filter criteria by short name (cra, lbq, ...).  For a
        target on another CSE ("/id-mn/cse-mn") the CSE-relative addresses it answers with
        get that CSE's ID in front ("/id-mn/cse-mn/meter/power"), so they can be used
        as they are."""
        fc: dict[str, Any] = {"fu": 1, **conditions}
        if ty is not None:
            fc["ty"] = [ty] if isinstance(ty, int) else list(ty)
        if labels is not None:
            fc["lbl"] = list(labels)
        if limit is not None:
            fc["lim"] = limit
        if level is not None:
            fc["lvl"] = level
        response = await self._ok(Operation.RETRIEVE, target, fc=fc, drt=1 if structured else 2)
        found = unwrap(response.pc)
        if isinstance(found, dict):         # {"m2m:uril": {"uril": [...]}} in some releases
            found = found.get("uril", [])
        # The hosting CSE answers with addresses relative to itself ("cse-mn/meter/power");
        # behind a target on another CSE they are only usable with that CSE's ID in front.
        prefix = hosting_cse_prefix(target)
        return [f"{prefix}/{address}" if prefix and not address.startswith("/") else address
                for address in found or []]

    async def cse_id(self) -> str:
        """The CSE-ID of our CSE (read once from its CSEBase)."""
        if self._cse_id is None:
            base = await self.retrieve(self.cse_rn, originator=self.originator or "C")
            self._cse_id = base["csi"]
        return self._cse_id

    async def notification_target(self) -> str:
        """Our SP-relative AE-ID: the nu that works from any CSE of the SP (a hosting CSE
        routes the NOTIFY to our registrar, which delivers it to our poa)."""
        if self.originator is None:
            raise RuntimeError("register first (or pass nu=)")
        return sp_relative_ae_id(self.originator, await self.cse_id())

    async def subscribe(self, target: str, *, nu: list[str] | None = None, net: Iterable[int] = (3,),
                        nct: int | None = None, rn: str | None = None, exist_ok: bool = False,
                        **attributes: Any) -> dict:
        """CREATE a subscription to `target`.

        Default notification target: this AE (its SP-relative AE-ID, so it also works for
        a target on another CSE).  Default events: 3, a direct child was created (a new
        reading in a container); pass net=(1,) for updates of the target itself.
        `exist_ok` (needs `rn`): a subscription of that name already there is kept and
        returned (a restarted device subscribes again without a duplicate)."""
        if nu is None:
            nu = [await self.notification_target()]
        sub: dict[str, Any] = {"nu": list(nu), "enc": {"net": list(net)}, **attributes}
        if nct is not None:
            sub["nct"] = nct
        if rn is not None:
            sub["rn"] = rn
        return await self.create(target, {"m2m:sub": sub}, exist_ok=exist_ok)

    async def create_acp(self, parent: str, *, rn: str, rules: Iterable[dict],
                         owner_rights: int = 63, exist_ok: bool = True) -> dict:
        """An `<accessControlPolicy>` under `parent` that grants `rules` (see
        `client.access.grant`) plus `owner_rights` to this AE, and lets only this AE
        change it (pvs).  Reference it with `"acpi": [acp["ri"]]` in what it protects.

        With `exist_ok` (the default, for devices that run their set-up at every start) an
        existing ACP of that name is brought up to date with these rules."""
        if self.originator is None:
            raise RuntimeError("register first: the ACP names this AE as its owner")
        own = {"acor": [self.originator], "acop": int(owner_rights)}
        pv = {"acr": ([own] if owner_rights else []) + list(rules)}
        pvs = {"acr": [{"acor": [self.originator], "acop": 63}]}
        request = self._request(Operation.CREATE, parent, None,
                                {"ty": RESOURCE_TYPES["m2m:acp"], "pc": {"m2m:acp": {"rn": rn, "pv": pv, "pvs": pvs}}})
        response = await self.transport.send(request, self.timeout)
        if exist_ok and response.rsc == CONFLICT:
            return await self.update(f"{parent.rstrip('/')}/{rn}", {"m2m:acp": {"pv": pv, "pvs": pvs}})
        if not response.ok:
            raise RequestFailed(request, response)
        return unwrap(response.pc)


def hosting_cse_prefix(target: str) -> str:
    """The CSE part of an SP-relative ("/id-mn/...") or absolute ("//sp/id-mn/...")
    address; "" for a CSE-relative one."""
    if target.startswith("//"):
        parts = target[2:].split("/")
        return f"//{parts[0]}/{parts[1]}" if len(parts) > 1 and parts[1] else ""
    if target.startswith("/"):
        return "/" + target[1:].split("/")[0]
    return ""


__all__ = ["CseClient", "CseUnreachable", "RequestFailed", "RESOURCE_TYPES", "hosting_cse_prefix", "unwrap",
           "sp_relative_ae_id"]
