"""Whole primitives as objects (TS-0004 8.3): the payload of MQTT messages, m2m:rsp content,
the m2m:rqp a pollingChannel hands out.

MQTT carries a request or response primitive as one JSON/CBOR object with short-name keys
(`{"op":1,"to":...,"rqi":...,"pc":{...}}`), and a CSE polling its registrar receives them as
content.  This module turns such objects into `Request`/`Response` (checking each parameter's
type, so a wrong value is a 4000 naming it, not a crash in the core); the way back is
`Request.to_primitive` / `Response.to_primitive`.  It does no I/O.  (In the core, not in a
binding, since the polling agent needs it too.)
"""
from __future__ import annotations

from typing import Any

from .errors import bad_request
from .primitives import Request, Response

# Parameters with a string value (absRelTimestamps may also be numbers, see below).
_STRINGS = ("to", "fr", "rqi", "rvi", "gid", "vsi", "rp")
_TIMES = ("ot", "rqet", "rset", "oet")
_INTS = ("op", "ty", "rcn", "ec", "drt")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def unwrap(obj: Any, wrapper: str) -> Any:
    """R1/early-R2 peers (and Mobius) send {"m2m:rqp": {...}} / {"m2m:rsp": {...}}."""
    if isinstance(obj, dict) and len(obj) == 1 and wrapper in obj:
        return obj[wrapper]
    return obj


def request_from_primitive(obj: Any, accept: str | None = None) -> Request:
    """A `Request` from a decoded request primitive; 4000 with the parameter's name if wrong.
    `accept` is the one field a primitive does not carry: the serialization it came in."""
    obj = unwrap(obj, "m2m:rqp")
    if not isinstance(obj, dict):
        raise bad_request(f"the request primitive must be an object, not {type(obj).__name__}")
    if "op" not in obj:
        if "rsc" in obj:
            raise bad_request("this is a response primitive (it has rsc); a request needs op")
        raise bad_request("the request primitive has no operation (op)")
    for name in _INTS:
        value = obj.get(name)
        if value is not None and not _is_int(value):
            raise bad_request(f"request parameter '{name}' must be an integer, not {value!r}")
    for name in _STRINGS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            hint = ' (e.g. "3")' if name == "rvi" else ""
            raise bad_request(f"request parameter '{name}' must be a string{hint}, not {value!r}")
    if "to" not in obj:
        raise bad_request("the request primitive has no target (to)")
    if "rqi" not in obj:
        raise bad_request("the request primitive has no request identifier (rqi)")
    fields: dict[str, Any] = {}
    for name in ("rvi", "ty", "rcn", "ec", "drt", "gid", "vsi", "rp"):
        value = obj.get(name)
        if value is not None:
            fields[name] = value
    for name in _TIMES:
        value = obj.get(name)
        if value is None:
            continue
        if _is_int(value):
            value = str(value)           # m2m:absRelTimestamp: a relative time in ms
        if not isinstance(value, str):
            raise bad_request(f"request parameter '{name}' must be a timestamp or a number of ms, "
                              f"not {value!r}")
        fields[name] = value
    if "pc" in obj:
        fields["pc"] = obj["pc"]
    if "fc" in obj:
        if not isinstance(obj["fc"], dict):
            raise bad_request(f"request parameter 'fc' must be an object, not {obj['fc']!r}")
        fields["fc"] = obj["fc"]
    if "rt" in obj:
        fields["rt"], fields["rtu"] = _response_type(obj["rt"])
    return Request(op=obj["op"], to=obj["to"], fr=obj.get("fr"), rqi=obj["rqi"], accept=accept, **fields)


def _response_type(value: Any) -> tuple[int, list[str] | None]:
    """rt is {"rtv": 3, "nu": [...]}; a bare integer is accepted as the rtv."""
    if _is_int(value):
        return value, None
    if not isinstance(value, dict) or not _is_int(value.get("rtv")):
        raise bad_request(f"request parameter 'rt' must be an object with an integer rtv, not {value!r}")
    nu = value.get("nu")
    if nu is not None and (not isinstance(nu, list) or not all(isinstance(u, str) for u in nu)):
        raise bad_request("request parameter 'rt': nu must be a list of strings")
    return value["rtv"], nu


def response_from_primitive(obj: Any) -> Response:
    """A `Response` from a decoded response primitive (ValueError when it is not one)."""
    obj = unwrap(obj, "m2m:rsp")
    if not isinstance(obj, dict) or not _is_int(obj.get("rsc")):
        raise ValueError("not a response primitive: no integer rsc")
    rqi = obj.get("rqi")
    response = Response(rsc=obj["rsc"], rqi=rqi if isinstance(rqi, str) else "")
    for name in ("rvi", "pc", "fr", "to", "ot", "rset", "ec", "cnst", "cnot", "vsi"):
        if name in obj:
            setattr(response, name, obj[name])
    return response
