"""What a resource type is: its declaration (ty, names, parents, per-type properties, the
schema) and its lifecycle hooks.  The core asks these properties and never compares type
numbers to decide a behaviour.

A resource module (resources/) subclasses `ResourceType`, names its ty, short name and
allowed parents, and overrides only the properties and hooks whose behaviour really
differs.  Validation of request content is generic and driven by the type's schema
(`schemas/<short>.json` merged with the attributes of `schemas/common.json`); no resource
module repeats it.

Hook order for a CREATE (the dispatcher calls them):
    await prepare_create   may do I/O (verification requests); no writes yet
    on_create              fills CSE-set attributes; runs inside the write transaction
    (stored)
    after_create           e.g. the parent container's counters and pruning
For UPDATE: await prepare_update, on_update (inside the transaction); for DELETE: on_delete.

What this module must never do: import a resource module, or know a type by its number.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
from referencing import Registry, Resource

import schemas

from .errors import RSC, OneM2MError, bad_request
from .resource_types import Ty

if TYPE_CHECKING:
    from .context import Context, RequestContext
    from .primitives import Response


class Presence(enum.Enum):
    MANDATORY = "M"
    OPTIONAL = "O"
    NOT_PERMITTED = "NP"


@dataclass(frozen=True, slots=True)
class AttributeRule:
    create: Presence
    update: Presence


def _registry() -> Registry:
    common = schemas.load("common")
    return Registry().with_resource("common.json", Resource.from_contents(common))


class Schema:
    """The attributes of one resource type (its own and the shared ones it declares) and a
    compiled validator for each attribute's values."""

    def __init__(self, short_name: str, ty: int, document: dict | None = None):
        """The schema of `schemas/<short_name>.json`, or of `document` when given (a
        specialization declared as data, e.g. one mgmtObj kind): either is merged with the
        shared attributes it names in x-common."""
        if document is None:
            document = schemas.resource_schema(short_name, ty)
        else:
            document = schemas.merge(document, schemas.load("common"), ty)
        self.short_name = short_name
        self.title = document.get("title", short_name)
        self.rules: dict[str, AttributeRule] = {}
        for name, spec in document["x-presence"].items():
            create, update = spec.split()
            self.rules[name] = AttributeRule(Presence(create), Presence(update))
        self.unsupported = frozenset(document.get("x-unsupported", ()))
        # Attributes a later release added, and the release ({"cstn": "4"}).
        self.releases: dict[str, str] = dict(document.get("x-release", {}))
        self.newest_release = max((RELEASE_ORDER[r] for r in self.releases.values()), default=0)
        # The value schemas as declared (an announced variant copies those it announces).
        self.properties: dict[str, Any] = document["properties"]
        # Announcement (TS-0001 9.6.26): None when the type is not announced by this CSE;
        # else the own attributes always announced when present (MA) and those announced
        # only when named in aa (OA).  et, lbl and acpi are handled for every type.
        announced = document.get("x-announced")
        self.announced: tuple[frozenset[str], frozenset[str]] | None = None
        if announced is not None:
            self.announced = (frozenset(announced.get("MA", ())), frozenset(announced.get("OA", ())))
        self.mandatory_on_create = tuple(n for n, r in self.rules.items() if r.create is Presence.MANDATORY)
        definitions = schemas.load("common")["$defs"]
        registry = _registry()
        self._property_validators = {
            name: jsonschema.Draft202012Validator(
                {"$schema": document["$schema"], **_inline_common(spec, definitions)}, registry=registry)
            for name, spec in document["properties"].items()
        }

    def check_value(self, type_name: str, name: str, value: Any) -> None:
        validator = self._property_validators.get(name)
        if validator is None:
            return
        error = next(validator.iter_errors(value), None)
        if error is not None:
            raise bad_request(f"{type_name} attribute '{name}': {_describe(error, value)}")


COMMON_REF = "common.json#/$defs/"
# The releases in the order they came out (rvi values, TS-0004 6.4.1).
RELEASE_ORDER = {"1": 1, "2": 2, "2a": 3, "3": 4, "4": 5, "5": 6}


def _inline_common(spec: Any, definitions: dict) -> Any:
    """`spec` with each reference to a shared value type of common.json replaced by the
    definition itself.  Same meaning, but checking a value no longer resolves a reference:
    that lookup was two thirds of the validation time of a CREATE (py-spy), e.g. 80 us for
    an AE, a container and a contentInstance together.  Other references stay as they are."""
    if isinstance(spec, list):
        return [_inline_common(item, definitions) for item in spec]
    if not isinstance(spec, dict):
        return spec
    spec = {key: _inline_common(value, definitions) for key, value in spec.items()}
    ref = spec.get("$ref")
    if not (isinstance(ref, str) and ref.startswith(COMMON_REF) and ref[len(COMMON_REF):] in definitions):
        return spec
    target = _inline_common(definitions[ref[len(COMMON_REF):]], definitions)
    rest = {key: value for key, value in spec.items() if key != "$ref"}
    if rest.keys() & target.keys():
        return {"allOf": [target, rest]}   # both apply, as with $ref next to other keywords
    return {**target, **rest}


def _describe(error: jsonschema.ValidationError, value: Any) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path)
    shown = repr(error.instance)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{shown}{' at ' + where if where else ''} is not of type {expected}"
    if error.validator == "pattern":
        return f"{shown}{' at ' + where if where else ''} has an invalid format"
    if error.validator in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
        return f"{shown}{' at ' + where if where else ''} violates {error.validator} {error.validator_value}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"{shown}{' at ' + where if where else ''} is not one of {allowed}"
    return error.message


class ResourceType:
    """Declaration and default behaviour of one resource type."""

    ty: ClassVar[Ty]
    short_name: ClassVar[str]             # "cnt"
    type_name: ClassVar[str]              # "container"
    # The types a resource of this type may be created under (others: 4108).
    parent_types: ClassVar[frozenset[Ty]] = frozenset()
    has_acpi: ClassVar[bool] = True
    # False for types only the CSE itself creates (CSEBase, request).
    creatable: ClassVar[bool] = True
    updatable: ClassVar[bool] = True
    deletable: ClassVar[bool] = True
    # Made from the configuration, not by requests (CSEBase): an UPDATE or DELETE is refused
    # before access control, since it is no secret that it cannot be changed.
    provisioned: ClassVar[bool] = False
    # Resources created directly below it belong to their creator (CSEBase); below any other
    # type they belong to the owner of the parent (an AE owns its whole subtree).
    children_owned_by_creator: ClassVar[bool] = False
    # Names of virtual children ("la", "ol", ...) that this type serves itself.
    virtual_children: ClassVar[frozenset[str]] = frozenset()
    # Those of them that answer a RETRIEVE or NOTIFY themselves (`serve_virtual`, e.g. the
    # long poll of a pollingChannel's pcu) instead of standing for a stored resource.
    served_virtual_children: ClassVar[frozenset[str]] = frozenset()
    # Names the TS gives virtual children this CSE does not serve (subscription's ntsr):
    # reserved all the same, so that no resource takes one.
    reserved_child_names: ClassVar[frozenset[str]] = frozenset()
    # The virtual child through which requests fan out to the members (group's fopt).
    fan_out_point: ClassVar[str | None] = None
    # An instance container (container, timeSeries) keeps instances of this type as its
    # history (la/ol, mni/mbs/mia); None for every other type.
    instance_type: ClassVar[Ty | None] = None
    # No acpi, and only the entity it belongs to (the parent AE or remoteCSE) may use it,
    # whatever the parent's access rules say (pollingChannel, TS-0001 9.6.21).
    parent_entity_only: ClassVar[bool] = False
    # Whether a <subscription> may be created under it.
    subscribable: ClassVar[bool] = True
    # Registrations (AE, remoteCSE) are governed by registration rules, not by the
    # parent's access control policies (TS-0001 9.6.2).
    registration: ClassVar[bool] = False
    # An announced resource (ty 10000+x): only the CSE its lnk names may create, update or
    # delete it, or create announced children below it (TS-0004 7.4.26.2); other
    # operations follow its acpi.
    managed_by_link: ClassVar[bool] = False

    def __init__(self) -> None:
        if not isinstance(self.ty, Ty):
            raise TypeError(f"{type(self).__name__}.ty must be a member of Ty, not {self.ty!r}")
        self.schema = self._load_schema()
        # The JSON root of its representation ("m2m:cnt").  A type whose resources answer
        # under other roots (flexContainer specializations) overrides root_of/accepts_root.
        self.root = f"m2m:{self.short_name}"
        # announceTo/announcedAttribute (with their MA/OA declaration) in the schema and an
        # announced variant in the TS.
        self.announced_ty: Ty | None = None
        if "at" in self.schema.rules and self.schema.announced is not None:
            self.announced_ty = self.ty.announced
        # Whether prepare_create may wait (it is overridden), so that other requests can
        # change or remove the parent before the CREATE writes.
        self.prepare_create_may_wait = type(self).prepare_create is not ResourceType.prepare_create
        self._default_name_prefix = self.short_name + "_"
        # Whether its resources have an expirationTime (all but the CSEBase): the CSE sets
        # one when the originator gives none (cse/lifetime.py).
        self.has_et = "et" in self.schema.rules

    def _load_schema(self) -> Schema:
        """`schemas/<short_name>.json`; an announced variant builds its own from its original."""
        return Schema(self.short_name, self.ty)

    # -- declaration ------------------------------------------------------------------------
    @property
    def announceable(self) -> bool:
        return self.announced_ty is not None

    @property
    def virtual_names(self) -> frozenset[str]:
        """Every child name this type keeps for virtual resources, served or not."""
        return self.virtual_children | self.reserved_child_names

    def root_of(self, resource: dict) -> str:
        """The JSON root `resource` answers under."""
        return self.root

    def accepts_root(self, root: str, resource: dict | None = None) -> bool:
        """Whether the content of a CREATE of this type (`resource` None) or of an UPDATE of
        `resource` may come under `root`."""
        return root == (self.root if resource is None else self.root_of(resource))

    def for_root(self, root: str, resource: dict | None = None) -> "ResourceType | None":
        """The declaration that governs content under `root` in a CREATE of this type
        (`resource` None) or in an UPDATE of `resource`: the type itself, or for a type with
        a family of roots the member for that root (one flexContainer specialization), whose
        validation and hooks then handle the request.  None: the root is not accepted, and
        the core answers 4000 naming the root expected; a type may instead raise a more
        specific refusal (an unknown specialization: 4125)."""
        return self if self.accepts_root(root, resource) else None

    def defines(self, name: str, resource: dict) -> bool:
        """Whether `name` is an attribute of `resource` (partial retrieve, a subscription's
        enc atr): its type's schema, plus the custom attributes of a specialization."""
        return name in self.schema.rules

    @property
    def owns_root_family(self) -> bool:
        """Whether it accepts more roots than its own `root` (it overrides accepts_root), so
        the registry asks it about roots it does not know."""
        return type(self).accepts_root is not ResourceType.accepts_root

    # -- content validation (generic) ---------------------------------------------------
    def validate_create(self, attributes: dict) -> None:
        rules = self.schema.rules
        for name, value in attributes.items():
            rule = rules.get(name)
            if rule is None:
                raise bad_request(f"attribute '{name}' is not defined for {self.type_name}")
            if rule.create is Presence.NOT_PERMITTED:
                raise bad_request(f"attribute '{name}' of {self.type_name} is set by the CSE and "
                                  "cannot be given in CREATE")
            if name in self.schema.unsupported:
                raise OneM2MError(RSC.NOT_IMPLEMENTED,
                                  f"attribute '{name}' of {self.type_name} is not supported by this CSE")
            if name == "cr":
                if value is not None:
                    raise bad_request("attribute 'cr' must be null in CREATE (the CSE sets it to the "
                                      "originator)")
                continue
            if value is None:
                raise bad_request(f"attribute '{name}' of {self.type_name} cannot be null in CREATE")
            self.schema.check_value(self.type_name, name, value)
        for name in self.schema.mandatory_on_create:
            if name not in attributes:
                raise bad_request(f"mandatory attribute '{name}' of {self.type_name} is missing")

    def check_release(self, attributes: dict, rvi: str | None) -> None:
        """A request of release `rvi` may carry only the attributes of that release (TS-0004
        7.3.3: an attribute not defined for the request's release is refused like an unknown
        one, 4000).  A request without rvi is taken as the newest release."""
        order = RELEASE_ORDER.get(rvi, 0) if rvi is not None else 0
        if not order or order >= self.schema.newest_release:
            return
        releases = self.schema.releases
        for name in attributes:
            release = releases.get(name)
            if release is not None and RELEASE_ORDER[release] > order:
                raise bad_request(f"attribute '{name}' of {self.type_name} is defined from release "
                                  f"{release} on; the request is of release {rvi} (rvi)")

    def validate_update(self, attributes: dict) -> None:
        if not self.updatable:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"a {self.type_name} cannot be updated")
        # An UPDATE without attributes ({"m2m:cnt": {}}) changes nothing but lt (and st),
        # as ACME answers it (2004 with the resource; docs/conformance.md).
        rules = self.schema.rules
        for name, value in attributes.items():
            rule = rules.get(name)
            if rule is None:
                raise bad_request(f"attribute '{name}' is not defined for {self.type_name}")
            if rule.update is Presence.NOT_PERMITTED:
                raise bad_request(f"attribute '{name}' of {self.type_name} cannot be changed by UPDATE")
            if name in self.schema.unsupported:
                raise OneM2MError(RSC.NOT_IMPLEMENTED,
                                  f"attribute '{name}' of {self.type_name} is not supported by this CSE")
            if value is None:
                if rule.create is Presence.MANDATORY:
                    raise bad_request(f"mandatory attribute '{name}' of {self.type_name} cannot be deleted")
                continue
            self.schema.check_value(self.type_name, name, value)

    def default_name(self, resource: dict) -> str:
        """rn when the originator gave none."""
        return self._default_name_prefix + resource["ri"][len(self.short_name):]

    # -- hooks --------------------------------------------------------------------------
    def check_originator(self, ctx: "Context") -> None:
        """A registration's checks of the originator alone, made before anything of the
        content is looked at (TS-0004 7.4.4.2.1, 7.4.5.2.1 give that order)."""

    async def prepare_create(self, ctx: "RequestContext", resource: dict, parent: dict) -> None:
        """Checks that may need I/O, before anything is written."""

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        """Fill CSE-set attributes and check type rules; runs in the write transaction."""

    def after_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        """After the resource is stored (same transaction)."""

    async def prepare_update(self, ctx: "RequestContext", resource: dict, changes: dict) -> None:
        """Checks that may need I/O, before anything is written."""

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        """`resource` already carries the changes; adjust derived attributes."""

    def check_retrieve(self, ctx: "Context", resource: dict) -> None:
        """Refuse a RETRIEVE for type reasons (after access control).  Also leaves the
        resource out of full child lists (rcn 4/8), which ask once per type and parent:
        the verdict may depend on nothing else."""

    def counts_retrievals(self, resource: dict) -> bool:
        """Whether a RETRIEVE of `resource` changes it ([R4] a contentInstance's dcnt), so
        that `on_retrieved` runs after the response is made."""
        return False

    def on_retrieved(self, ctx: "Context", resource: dict) -> None:
        """After a RETRIEVE of `resource` was answered (write transaction)."""

    def as_retrieved(self, ctx: "Context", resource: dict) -> dict:
        """The resource as a RETRIEVE of it answers: attributes computed at that moment
        (the CSEBase's currentTime).  Must return a new dict when it adds anything: the
        stored one may be shared with a cache."""
        return resource

    def check_delete(self, ctx: "Context", resource: dict) -> None:
        """Refuse a DELETE before anything is rendered or removed."""

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        """Before the resource and its subtree are removed (same transaction)."""

    def on_child_created(self, ctx: "Context", resource: dict, child: dict) -> None:
        """A direct child was stored (same transaction)."""

    def on_child_deleted(self, ctx: "Context", resource: dict, child: dict) -> None:
        """A direct child was removed (same transaction)."""

    def resolve_virtual(self, ctx: "Context", resource: dict, name: str, op: int) -> dict:
        raise OneM2MError(RSC.NOT_FOUND, f"no virtual resource '{name}' under {self.type_name}")

    async def serve_virtual(self, ctx: "RequestContext", resource: dict, name: str) -> "Response":
        """Answer a RETRIEVE or NOTIFY of a virtual child in `served_virtual_children`."""
        raise OneM2MError(RSC.NOT_FOUND, f"no virtual resource '{name}' under {self.type_name}")
