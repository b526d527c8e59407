"""Access decisions: may this originator perform this operation on this resource?

Every operation asks `AccessControl.check` (or `allowed` for silent filtering, as in
discovery results and child lists) once per resource.  The decision (TS-0001 9.6.2,
TS-0003 7.1):

1. The admin originator and this CSE itself may do everything.
2. The rules come from the resource's own `acpi`.  An <accessControlPolicy> is governed by
   its own `pvs`; a type without `acpi` (contentInstance) by its parent's rules.
   A <pollingChannel> (no acpi either) belongs to its parent AE or CSE alone.
3. No `acpi` (absent or empty): the default policy.  The originator that created the
   resource and the AE that owns the subtree (for resources below an <AE>) may do
   everything; anybody else nothing.  A custodian ([R4] `cstn`) takes their place.  The
   CSEBase may be read by anyone (an AE checks the supported releases before it registers)
   and discovered by registered AEs and other CSEs.
4. With `acpi`: allowed if any rule in the `pv` of any referenced, existing, unexpired ACP
   grants the operation to the originator (or to a <group> it is a member of, named in
   acor) in the current context; a rule with [R4] accessControlAttributes (aca) only for a
   partial RETRIEVE or an UPDATE of those attributes.  Nothing else counts,
   not even being the creator: an owner that links an ACP must grant itself rights there.
Changing `acpi` is governed by the `pvs` of the ACPs currently referenced, not by `pv`.

ACPs are read on every request, so their compiled rules are cached by the ID used to
reference them; the cache is emptied for an ACP when it is updated or removed (also with
a removed subtree) and for negative entries when an ACP is created.

What this module must never do: reveal in a refusal more than the address the originator
sent (no structured paths for unstructured addresses, no ACP IDs, no resource content).
"""
from __future__ import annotations

import fnmatch
import logging
from typing import TYPE_CHECKING, AbstractSet, Iterable

from .errors import RSC, OneM2MError, bad_request
from .permissions import Permission
from .policy import Facts, Rule, any_grants, compile_rules
from .resource_types import Ty

if TYPE_CHECKING:
    from .config import Config
    from .context import Context

log = logging.getLogger(__name__)


# Most cached ACP references; past that the cache starts again (it refills from storage).
CACHE_LIMIT = 4096


class Policy:
    """A compiled <accessControlPolicy>: enough of it to decide, nothing more."""

    __slots__ = ("ri", "path", "et", "lt", "privileges", "self_privileges")

    def __init__(self, resource: dict, normalize):
        self.ri: str = resource["ri"]
        self.path: str = resource["_path"]
        self.et: str | None = resource.get("et")
        self.lt: str = resource.get("lt", "")
        try:
            self.privileges: tuple[Rule, ...] = compile_rules(resource.get("pv"), "pv", normalize)
            self.self_privileges: tuple[Rule, ...] = compile_rules(resource.get("pvs"), "pvs", normalize)
        except OneM2MError as error:
            # Validated when stored, so this means a damaged document: it grants nothing.
            log.error("accessControlPolicy %s cannot be evaluated (%s); it grants nothing",
                      self.ri, error.message)
            self.privileges = self.self_privileges = ()

    def alive(self, now_ts: str) -> bool:
        return self.et is None or self.et > now_ts


_MISSING = object()

# What only the hosting CSE of an announced resource's original may do to it.
_LINK_MANAGED = (Permission.CREATE, Permission.UPDATE, Permission.DELETE)


def _link_cse(lnk: object) -> str | None:
    """The CSE-ID in an announced resource's SP-relative lnk ("/id-mn/cnt1" -> "/id-mn")."""
    if not isinstance(lnk, str) or not lnk.startswith("/") or lnk.startswith("//"):
        return None
    head, _, rest = lnk[1:].partition("/")
    return "/" + head if head and rest else None


class _LazyFacts:
    """The facts of a decision, computed once and only if a rule has conditions."""

    __slots__ = ("access", "ctx", "originator", "resource", "facts")

    def __init__(self, access: "AccessControl", ctx: "Context", originator: str, resource: dict):
        self.access, self.ctx, self.originator, self.resource = access, ctx, originator, resource
        self.facts: Facts | None = None

    def __call__(self) -> Facts:
        if self.facts is None:
            self.facts = self.access._facts(self.ctx, self.originator, self.resource)
        return self.facts


class AccessControl:
    def __init__(self, config: "Config"):
        self.admin = config.cse.admin_originator
        self.cse_id = config.cse.cse_id
        self.cse_name = config.cse.rn
        self._sp_prefix = config.cse.sp_id + config.cse.cse_id + "/"
        self._cse_prefix = config.cse.cse_id + "/"
        self._open_base = config.cse.unregistered_retrieve_base
        self._cse_patterns = tuple(config.cse.allowed_cse_originators)
        self._cache: dict[str, Policy | object] = {}
        # Parent lookups for types without acpi, reused within one request (child lists).
        self._parents: tuple[object, dict] = (None, {})
        # Members of the groups named in acor, looked up once per request.
        self._groups: tuple[object, dict] = (None, {})

    # -- identities ---------------------------------------------------------------------
    def normalize(self, originator: str) -> str:
        """This CSE's entities compare in CSE-relative form ('/id-in/Cm' == 'Cm')."""
        if originator.startswith(self._cse_prefix):
            return originator[len(self._cse_prefix):]
        if originator.startswith(self._sp_prefix):
            return originator[len(self._sp_prefix):]
        return originator

    def is_entity(self, originator: str | None, entity: dict) -> bool:
        """Whether `originator` is the AE or CSE that `entity` (its <AE> or <remoteCSE>) stands for."""
        if not originator:
            return False
        if entity["ty"] == Ty.AE:
            identity = entity.get("aei")
        elif entity["ty"] == Ty.CSR:
            identity = entity.get("csi")
        else:
            return False
        if not identity:
            return False
        return self.normalize(originator) == self.normalize(identity)

    def is_admin(self, originator: str | None) -> bool:
        if originator is None:
            return False
        return originator in (self.admin, self.cse_id) or self.normalize(originator) == self.admin

    # -- decisions ----------------------------------------------------------------------
    def allowed(self, ctx: "Context", originator: str | None, permission: Permission,
                resource: dict, attributes: "AbstractSet[str] | None" = None) -> bool:
        """`attributes`: what a partial RETRIEVE reads or an UPDATE writes; rules with
        accessControlAttributes (aca) grant only requests that name nothing else."""
        if not originator:
            return False
        if originator == self.admin or originator == self.cse_id:
            return True
        originator = self.normalize(originator)
        if originator == self.admin:
            return True
        ty = resource["ty"]
        if ty == Ty.ACP:
            policy = self._compiled(resource)
            return self._grants(ctx, policy.self_privileges, originator, permission,
                                _LazyFacts(self, ctx, originator, resource), attributes)
        rtype = ctx.tree.types.get(ty)
        if rtype is not None and rtype.managed_by_link and permission in _LINK_MANAGED:
            # An announced resource: its original's hosting CSE alone (TS-0004 7.4.26.2.4/5).
            return originator == _link_cse(resource.get("lnk"))
        if rtype is not None and not rtype.has_acpi:
            parent = self._parent(ctx, resource)
            if parent is None:
                return False
            if rtype.parent_entity_only:        # <pollingChannel>: its AE or CSE alone
                return self.is_entity(originator, parent)
            return self.allowed(ctx, originator, permission, parent, attributes)
        if permission == Permission.CREATE and ty == Ty.CSR and self.is_entity(originator, resource):
            # The CSE a <remoteCSE> stands for may create below it (what it announces to us),
            # also below the record of our registrar, which this CSE made itself.
            return True
        acpi = resource.get("acpi")
        if not acpi:
            return self._default(ctx, originator, permission, resource)
        facts = _LazyFacts(self, ctx, originator, resource)
        for reference in acpi:
            referenced = self._policy(ctx, reference)
            if referenced is not None and any_grants(referenced.privileges, originator, permission, facts, attributes):
                return True
        for reference in acpi:          # the cache answers again: no list on the hot path
            referenced = self._policy(ctx, reference)
            if referenced is not None and self._group_grants(ctx, referenced.privileges, originator, permission, facts,
                                                         attributes):
                return True
        return False

    def _grants(self, ctx: "Context", rules: tuple[Rule, ...], originator: str, permission: Permission,
                facts: "_LazyFacts", attributes: "AbstractSet[str] | None" = None) -> bool:
        return any_grants(rules, originator, permission, facts, attributes) or \
            self._group_grants(ctx, rules, originator, permission, facts, attributes)

    def _group_grants(self, ctx: "Context", rules: tuple[Rule, ...], originator: str,
                      permission: Permission, facts: "_LazyFacts",
                      attributes: "AbstractSet[str] | None" = None) -> bool:
        """An acor entry may name a <group> (TS-0001 accessControlOriginators: its members
        are granted): the rule grants the originator if it is a member and the rule grants
        the group's ID.
        Asked only when no rule names the originator itself, so a decision that succeeds
        costs nothing more; the members are looked up once per request and name."""
        for rule in rules:
            if not rule.operations & permission:
                continue
            for name in rule.names:
                members = self._members(ctx, name)
                if members and originator in members and rule.grants(name, permission, facts, attributes):
                    return True
        return False

    def _members(self, ctx: "Context", name: str) -> frozenset[str] | None:
        """The originators a <group> named `name` stands for (its members' AE-IDs and
        CSE-IDs, and the member IDs as given), or None when `name` is no local group.
        Members that are groups themselves are not followed."""
        owner, groups = self._groups
        if owner is not ctx:
            groups = {}
            self._groups = (ctx, groups)
        if name in groups:
            return groups[name]
        group = self._resource(ctx, name)
        members: frozenset[str] | None = None
        if group is not None and group.get("ty") == Ty.GRP:
            found = set()
            for member in group.get("mid") or ():
                if not isinstance(member, str):
                    continue
                found.add(self.normalize(member))
                entity = self._resource(ctx, member)
                if entity is not None:
                    identity = entity.get("aei") if entity["ty"] == Ty.AE else \
                        entity.get("csi") if entity["ty"] == Ty.CSR else None
                    if identity:
                        found.add(self.normalize(identity))
            members = frozenset(found)
        groups[name] = members
        return members

    def _resource(self, ctx: "Context", reference: str) -> dict | None:
        """The local resource an ID names (unstructured or structured, CSE- or SP-relative)."""
        local = self.normalize(reference)
        if local.startswith("/"):
            return None
        if "/" in local:
            if local.startswith("-/"):
                local = self.cse_name + local[1:]
            return ctx.storage.get_by_path(local)
        return ctx.storage.get(local)

    def check(self, ctx: "Context", permission: Permission, resource: dict,
              attributes: "AbstractSet[str] | None" = None) -> None:
        if not self.allowed(ctx, ctx.originator, permission, resource, attributes):
            raise self._refusal(ctx, permission)

    def _refusal(self, ctx: "Context", permission: Permission, what: str = "") -> OneM2MError:
        # Name the address the originator sent, never the stored path of the resource.
        target = ctx.request.to if ctx.request is not None else "the resource"
        return OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                           f"originator {ctx.originator!r} has no {permission.name} privilege"
                           f"{what} on {target!r}")

    def _default(self, ctx: "Context", originator: str, permission: Permission, resource: dict) -> bool:
        custodian = resource.get("cstn")
        if custodian is not None:
            # [R4] The custodian takes the creator's place (as in ACME): it alone has the
            # default rights, the creator and the owner of the subtree no longer.
            if custodian == originator or self.normalize(custodian) == originator:
                return True
        else:
            for key in ("_own", "_org"):
                holder = resource.get(key)
                if holder and (holder == originator or self.normalize(holder) == originator):
                    return True
        if resource["ty"] == Ty.CB:
            # Registered entities (and those reached through a registered CSE) may read and
            # discover the CSEBase; so may a CSE that is allowed to register (it reads the
            # CSEBase first).  Anybody else only with cse.unregistered_retrieve_base, and
            # then only RETRIEVE (docs/conformance.md).
            if permission == Permission.RETRIEVE:
                return self._open_base or self._registered(ctx, originator) or self._may_register(originator)
            if permission == Permission.DISCOVER:
                return self._registered(ctx, originator)
        return False

    def _may_register(self, originator: str) -> bool:
        """A CSE-ID that cse.allowed_cse_originators lets register here."""
        return originator.startswith("/") and "/" not in originator[1:] and len(originator) > 1 and \
            any(fnmatch.fnmatchcase(originator, pattern) for pattern in self._cse_patterns)

    def _registered(self, ctx: "Context", originator: str) -> bool:
        """A registered AE or CSE, or an entity reached through a CSE connected with this one
        (an AE of a registree, of our registrar, or of a CSE beyond them: `/id-mn/Cxyz`)."""
        if originator.startswith("//"):
            sp, _, rest = originator[2:].partition("/")
            originator = "/" + rest
        if originator.startswith("/"):
            head = originator[1:].split("/", 1)[0]
            entity = ctx.storage.get(head) if head else None
            if entity is not None and entity["ty"] == Ty.CSR:
                return True
            # A CSE-ID beyond our neighbours (listed in a registree's dcse) or any CSE when we
            # have a registrar (it routes the rest of the SP domain to us).
            return bool(head) and self._known_cse(ctx, "/" + head)
        entity = ctx.storage.get(originator)
        return entity is not None and entity["ty"] in (Ty.AE, Ty.CSR)

    def _known_cse(self, ctx: "Context", cse_id: str) -> bool:
        for record in ctx.storage.children(self.cse_id.lstrip("/"), Ty.CSR):
            if record.get("_registrar") or cse_id in (record.get("dcse") or ()):
                return True
        return False

    def _facts(self, ctx: "Context", originator: str, target: dict) -> Facts:
        request = ctx.request
        # Transport facts (address, authentication) describe the requester only; for any
        # other originator (e.g. a subscription's creator) rules that need them do not match.
        own = request if request is not None and request.fr is not None \
            and self.normalize(request.fr) == originator else None
        return Facts(now=ctx.now,
                     remote_address=own.remote_address if own is not None else None,
                     authenticated=own.authenticated if own is not None else False,
                     target_ty=target["ty"],
                     child_ty=request.ty if request is not None else None,
                     # The specialization of a flexContainer (cnd) or mgmtObj (mgd), for acod spty.
                     target_spty=target.get("cnd", target.get("mgd")))

    def _parent(self, ctx: "Context", resource: dict) -> dict | None:
        owner, parents = self._parents
        if owner is not ctx:
            parents = {}
            self._parents = (ctx, parents)
        pi = resource.get("pi")
        if pi not in parents:
            parents[pi] = ctx.tree.get(pi, ctx.now_ts) if pi else None
        return parents[pi]

    # -- acpi changes -------------------------------------------------------------------
    def check_acpi_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        """UPDATE of acpi: it must come alone, and needs UPDATE in the pvs of the ACPs the
        resource references now (the default policy when it references none that exist)."""
        if len(changes) != 1:
            others = ", ".join(sorted(name for name in changes if name != "acpi"))
            raise bad_request(f"attribute 'acpi' must be the only attribute of its UPDATE "
                              f"(also given: {others})")
        originator = ctx.originator
        if self.is_admin(originator):
            return
        originator = self.normalize(originator) if originator else ""
        policies = [p for p in (self._policy(ctx, ref) for ref in resource.get("acpi") or ()) if p]
        if policies:
            facts = _LazyFacts(self, ctx, originator, resource)
            if any(self._grants(ctx, p.self_privileges, originator, Permission.UPDATE, facts) for p in policies):
                return
        elif originator and self._default(ctx, originator, Permission.UPDATE, resource):
            return
        raise self._refusal(ctx, Permission.UPDATE, " (selfPrivileges, needed to change acpi)")

    def check_references(self, ctx: "Context", acpi: Iterable[str]) -> None:
        """Every acpi entry must name an existing <accessControlPolicy> of this CSE."""
        for reference in acpi:
            if self._policy(ctx, reference) is None:
                raise bad_request(f"attribute 'acpi': {reference!r} is not an accessControlPolicy "
                                  "of this CSE")

    # -- the ACP cache ------------------------------------------------------------------
    def _policy(self, ctx: "Context", reference: str) -> Policy | None:
        entry = self._cache.get(reference, None)
        if entry is None:
            entry = self._load(ctx, reference)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[reference] = entry
        if not isinstance(entry, Policy) or not entry.alive(ctx.now_ts):     # _MISSING, or expired
            return None
        return entry

    def _load(self, ctx: "Context", reference: str) -> Policy | object:
        if not isinstance(reference, str):
            return _MISSING
        local = self.normalize(reference)
        if local.startswith("/"):
            return _MISSING                 # on another CSE: not evaluated here
        if "/" in local:
            if local.startswith("-/"):
                local = self.cse_name + local[1:]
            resource = ctx.storage.get_by_path(local)
        else:
            resource = ctx.storage.get(local)
        if resource is None or resource.get("ty") not in (Ty.ACP, Ty.ACP_ANNC):
            return _MISSING             # an announced ACP (acpA) holds the original's pv/pvs
        return self._compiled(resource)

    def _compiled(self, resource: dict) -> Policy:
        entry = self._cache.get(resource["ri"])
        if isinstance(entry, Policy) and entry.lt == resource.get("lt", "") and entry.path == resource["_path"]:
            return entry
        policy = Policy(resource, self.normalize)
        self._cache[resource["ri"]] = policy
        return policy

    def forget(self, acp: dict) -> None:
        """An ACP was changed or removed."""
        ri = acp["ri"]
        stale = [key for key, entry in self._cache.items()
                 if key == ri or (isinstance(entry, Policy) and entry.ri == ri)]
        for key in stale:
            del self._cache[key]

    def forget_subtree(self, path: str) -> None:
        """Everything at or below `path` was removed (ACPs among it included)."""
        below = path + "/"
        stale = [key for key, entry in self._cache.items()
                 if isinstance(entry, Policy) and (entry.path == path or entry.path.startswith(below))]
        for key in stale:
            del self._cache[key]

    def acp_created(self) -> None:
        """A reference that named nothing may name the new ACP now."""
        stale = [key for key, entry in self._cache.items() if entry is _MISSING]
        for key in stale:
            del self._cache[key]

    def forget_all(self) -> None:
        """After a failed commit: what the cache holds may never have been stored."""
        self._cache.clear()
        self._parents = (None, {})
        self._groups = (None, {})
