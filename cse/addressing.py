"""Turning the `to` of a request into the resource it addresses (TS-0001 9.3.1, TS-0004 6.2.3).

Accepted forms (with their HTTP spellings handled by the binding):
    cse-in/meter/power          CSE-relative structured (first segment = CSEBase name)
    -/meter/power               "-" stands for the CSEBase name
    cnt8Hq3..., cnt8Hq3.../la   CSE-relative unstructured (resource ID), optionally followed by names
    /id-in/cse-in/meter         SP-relative (this CSE's CSE-ID, then a CSE-relative address)
    //sp.example/id-in/...      absolute (this SP's ID and this CSE's CSE-ID)
    ...#lbl                     a single attribute (partial retrieve)
Addresses of another CSE are reported as remote; whether and how to forward is decided by
the dispatcher, not here.  Which names stand for virtual children (la, fopt, ...) is the
resource types' declaration (`TypeRegistry.reserved_names`), passed in by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import RSC, OneM2MError, bad_request


@dataclass(slots=True)
class Address:
    """A parsed `to`: either local (`path` or `ri` + `rest`) or on another CSE."""

    remote_cse: str | None = None      # SP-relative CSE-ID ("/id-mn") when not local
    remote_sp: str | None = None       # SP-ID ("//sp2") when in another SP domain
    structured: str | None = None      # structured CSE-relative path
    ri: str | None = None              # unstructured head
    rest: tuple[str, ...] = ()         # names after the unstructured head
    attribute: str | None = None       # "#attr" suffix
    local_to: str = ""                 # the CSE-relative form, for messages


class AddressParser:
    def __init__(self, cse_id: str, cse_name: str, sp_id: str):
        self.cse_id = cse_id                      # "/id-in"
        self.cse_id_bare = cse_id.lstrip("/")     # "id-in"
        self.cse_name = cse_name
        self.sp_id_bare = sp_id.lstrip("/")       # "sp.example"

    def parse(self, to: str) -> Address:
        if not isinstance(to, str) or not to:
            raise bad_request("the target address (to) is missing")
        if len(to) > 4096:
            raise bad_request("the target address (to) is longer than 4096 characters")
        attribute = None
        if "#" in to:
            to, _, attribute = to.partition("#")
            if not attribute or "/" in attribute:
                raise bad_request(f"'#{attribute}' does not name an attribute")
        if to.startswith("//"):
            sp, _, remainder = to[2:].partition("/")
            if not sp:
                raise bad_request(f"absolute address {to!r} has no SP-ID")
            if sp != self.sp_id_bare:
                if not remainder.split("/", 1)[0]:
                    raise bad_request(f"absolute address {to!r} has no CSE-ID after the SP-ID")
                csi = "/" + remainder.split("/", 1)[0]
                return Address(remote_cse=csi, remote_sp="//" + sp, attribute=attribute, local_to=to)
            to = "/" + remainder
        if to.startswith("/"):
            csi, _, remainder = to[1:].partition("/")
            if not csi:
                raise bad_request(f"SP-relative address {to!r} has no CSE-ID")
            if csi != self.cse_id_bare:
                return Address(remote_cse="/" + csi, attribute=attribute, local_to=to)
            to = remainder or self.cse_name
        return self._local(to.rstrip("/") or self.cse_name, attribute)

    def _local(self, to: str, attribute: str | None) -> Address:
        segments = to.split("/")
        if "" in segments:
            raise bad_request(f"address {to!r} contains an empty path segment")
        head = segments[0]
        if head == "-":
            segments[0] = head = self.cse_name
        if head == self.cse_name:
            return Address(structured="/".join(segments), attribute=attribute, local_to=to)
        if head == self.cse_id_bare and len(segments) == 1:
            return Address(structured=self.cse_name, attribute=attribute, local_to=to)
        return Address(ri=head, rest=tuple(segments[1:]), attribute=attribute, local_to=to)


def split_virtual(path: str, virtual_names: frozenset[str]) -> tuple[str, str] | None:
    """("cse-in/m/power", "la") for "cse-in/m/power/la"; None when the last name is not one
    of `virtual_names`."""
    parent, _, last = path.rpartition("/")
    if parent and last in virtual_names:
        return parent, last
    return None


def not_found(to: str) -> OneM2MError:
    return OneM2MError(RSC.NOT_FOUND, f"resource {to!r} does not exist")
