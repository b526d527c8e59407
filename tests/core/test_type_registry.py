"""Resource types declared once: the numbers (cse/resource_types.py), what the core asks a type
instead of comparing numbers (cse/resource_type.py), and what the registry derives from all
of them (cse/type_registry.py)."""
from __future__ import annotations

import pytest

from server.compose import build_cse
from cse.resource_type import ResourceType
from cse.resource_types import CseType, Ty, is_onem2m_type
from cse.type_registry import TypeRegistry
from resources import default_types
from resources.container import Container
from tests.conftest import CoreClient, make_config

# TS-0004 Table 6.3.4.2.1-1 (and the digests) for the numbers this project relies on.
NUMBERS = [(Ty.ACP, 1), (Ty.AE, 2), (Ty.CNT, 3), (Ty.CIN, 4), (Ty.CB, 5), (Ty.GRP, 9), (Ty.LCP, 10),
           (Ty.MGO, 13), (Ty.NOD, 14), (Ty.PCH, 15), (Ty.CSR, 16), (Ty.REQ, 17), (Ty.SCH, 18),
           (Ty.SUB, 23), (Ty.SMD, 24), (Ty.FCNT, 28), (Ty.TS, 29), (Ty.TSI, 30), (Ty.CRS, 48),
           (Ty.FCI, 58), (Ty.ACTR, 65), (Ty.DEPR, 66), (Ty.AE_ANNC, 10002), (Ty.CNT_ANNC, 10003),
           (Ty.FCNT_ANNC, 10028), (Ty.DEPR_ANNC, 10066)]


@pytest.mark.parametrize("member,number", NUMBERS)
def test_type_numbers(member, number):
    assert member == number and Ty(number) is member


@pytest.mark.parametrize("member,announced", [
    (Ty.CNT, Ty.CNT_ANNC), (Ty.AE, Ty.AE_ANNC), (Ty.CB, Ty.CB_ANNC), (Ty.FCNT, Ty.FCNT_ANNC),
    (Ty.TSI, Ty.TSI_ANNC), (Ty.SUB, None), (Ty.PCH, None), (Ty.REQ, None), (Ty.CNT_ANNC, None)])
def test_announced_variants(member, announced):
    assert member.announced is announced
    if announced is not None:
        assert announced.is_announced and announced.original is member and announced == member + 10000


@pytest.mark.parametrize("number,known", [
    (1, True), (28, True), (52, True), (66, True), (67, False), (0, False), (-3, False),
    (10003, True), (10023, True), (10066, True), (10000, False), (10067, False), (20001, False),
    (True, False), ("3", False), (None, False)])
def test_which_numbers_are_onem2m_types(number, known):
    """5001 (not implemented) rather than 4000 (not a oneM2M type) for these, as before."""
    assert is_onem2m_type(number) is known


@pytest.mark.parametrize("ty,rsc,message", [
    (24, 5001, "resource type 24 is not supported by this CSE"),
    (10013, 5001, "resource type 10013 is not supported by this CSE"),
    (67, 4000, "resource type 67 is not a oneM2M resource type"),
    (0, 4000, "resource type 0 is not a oneM2M resource type"),
])
async def test_create_of_a_type_this_cse_does_not_serve(core, ty, rsc, message):
    response = await core.create("cse-in", ty, {"m2m:x": {}})
    assert (response.rsc, response.pc["m2m:dbg"]) == (rsc, message)


def test_cse_types():
    assert [(t.name, int(t)) for t in CseType] == [("IN", 1), ("MN", 2), ("ASN", 3)]
    assert CseType.named("MN") is CseType.MN


def test_what_the_registry_derives_from_the_types():
    types = default_types()
    assert types.reserved_names == {"la", "ol", "fopt", "pcu", "ntsr"}
    assert types.fan_out_points == {"fopt"}
    assert types.supported == [1, 2, 3, 4, 5, 9, 13, 14, 15, 16, 17, 18, 23, 28, 29, 30, 48, 58, 65, 66,
                               10001, 10002, 10003, 10004, 10009, 10014, 10029, 10030]
    assert all(type(ty) is int for ty in types.supported)
    by_ty = {rtype.ty: rtype for rtype in types}
    assert by_ty[Ty.CNT].instance_type is Ty.CIN
    assert [t.ty for t in types if t.instance_type is not None] == [Ty.CNT, Ty.FCNT, Ty.TS]
    assert [t.ty for t in types if t.provisioned] == [Ty.CB]
    assert not by_ty[Ty.CB].deletable and not by_ty[Ty.CB].updatable and not by_ty[Ty.CB].creatable
    # announceable: at/aa and the MA/OA declaration (x-announced) in its schema, and an
    # announced variant in the TS; flexContainer, mgmtObj, schedule and remoteCSE are not yet
    assert {t.ty: t.announced_ty for t in types if t.announceable} == {
        Ty.ACP: Ty.ACP_ANNC, Ty.AE: Ty.AE_ANNC, Ty.CNT: Ty.CNT_ANNC, Ty.CIN: Ty.CIN_ANNC,
        Ty.GRP: Ty.GRP_ANNC, Ty.TS: Ty.TS_ANNC, Ty.TSI: Ty.TSI_ANNC, Ty.NOD: Ty.NOD_ANNC}
    assert by_ty[Ty.CIN_ANNC].parent_types == {Ty.CNT_ANNC}
    assert by_ty[Ty.CNT_ANNC].parent_types == {Ty.CSR, Ty.AE_ANNC, Ty.CNT_ANNC}
    assert by_ty[Ty.CNT].parent_types == {Ty.CB, Ty.AE, Ty.CNT, Ty.CSR, Ty.FCNT}


def test_a_type_number_must_be_a_ty_member():
    class Numbered(Container):
        ty = 3

    with pytest.raises(TypeError, match="must be a member of Ty"):
        Numbered()


def test_a_type_is_registered_once():
    with pytest.raises(ValueError, match="listed twice"):
        TypeRegistry([Container(), Container()])


class Specialization(Container):
    """A type whose resources answer under a family of roots, as flexContainer
    specializations do (`cod:evChargr`, ty 28); here the root comes from the name."""

    ty = Ty.FCNT
    type_name = "specialization"

    def __init__(self) -> None:
        super().__init__()
        self.root = "cod:spec"

    def root_of(self, resource: dict) -> str:
        return f"cod:{resource['rn']}"

    def accepts_root(self, root: str, resource: dict | None = None) -> bool:
        return root.startswith("cod:") if resource is None else root == self.root_of(resource)


def without_flex_types() -> list:
    """The CSE's types, flexContainer and its instance left out for the stand-in above."""
    return [t for t in default_types() if t.ty not in (Ty.FCNT, Ty.FCI)]


def test_registry_finds_a_type_by_a_root_of_its_family():
    types = TypeRegistry([*without_flex_types(), Specialization()])
    assert types.by_root("cod:evChargr").type_name == "specialization"
    assert types.by_root("m2m:cnt").type_name == "container"
    assert types.by_root("m2m:nosuch") is None


@pytest.fixture
async def special(clock):
    cse = build_cse(make_config(), clock=clock, types=TypeRegistry([*without_flex_types(), Specialization()]))
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae("Cmeter", rn="meter")).rsc == 2001
        yield client
    finally:
        await cse.stop()


async def test_the_root_of_a_resource_comes_from_its_type(special):
    created = await special.create("cse-in/meter", 28, {"cod:evChargr": {"rn": "evChargr"}}, fr="Cmeter")
    assert created.rsc == 2001 and list(created.pc) == ["cod:evChargr"]
    assert created.pc["cod:evChargr"]["ty"] == 28
    retrieved = await special.retrieve("cse-in/meter/evChargr", fr="Cmeter")
    assert list(retrieved.pc) == ["cod:evChargr"]
    partial = await special.retrieve("cse-in/meter/evChargr#rn", fr="Cmeter")
    assert partial.pc == {"cod:evChargr": {"rn": "evChargr"}}
    updated = await special.update("cse-in/meter/evChargr", {"cod:evChargr": {"lbl": ["ev"]}}, fr="Cmeter")
    assert updated.rsc == 2004 and updated.pc["cod:evChargr"]["lbl"] == ["ev"]
    children = await special.retrieve("cse-in/meter", fr="Cmeter", rcn=4)
    assert [c["rn"] for c in children.pc["m2m:ae"]["cod:evChargr"]] == ["evChargr"]


@pytest.mark.parametrize("op,to,ty,content,message", [
    ("update", "cse-in/meter/evChargr", None, {"cod:other": {"lbl": ["x"]}},
     "content root 'cod:other' does not match the resource type 28; expected 'cod:evChargr' "
     "(that is a specialization)"),
    ("update", "cse-in/meter/evChargr", None, {"m2m:cnt": {"lbl": ["x"]}},
     "content root 'm2m:cnt' does not match the resource type 28; expected 'cod:evChargr' (that is a container)"),
    ("update", "cse-in/meter/evChargr", None, None, "the request has no content; expected {\"cod:evChargr\": {...}}"),
    ("create", "cse-in/meter", 28, {"m2m:cnt": {"rn": "x"}},
     "content root 'm2m:cnt' does not match the resource type 28; expected 'cod:spec' (that is a container)"),
    ("create", "cse-in/meter", 3, {"cod:x": {"rn": "x"}},
     "content root 'cod:x' does not match the resource type 3; expected 'm2m:cnt' (that is a specialization)"),
])
async def test_a_wrong_root_is_refused_with_the_root_the_type_expects(special, op, to, ty, content, message):
    assert (await special.create("cse-in/meter", 28, {"cod:evChargr": {"rn": "evChargr"}}, fr="Cmeter")).rsc == 2001
    if op == "create":
        response = await special.create(to, ty, content, fr="Cmeter")
    else:
        response = await special.update(to, content, fr="Cmeter")
    assert (response.rsc, response.pc["m2m:dbg"]) == (4000, message)


class Undeletable(ResourceType):
    """Only to show that `deletable` is asked after access control, with its own message."""

    ty = Ty.CNT
    short_name = "cnt"
    type_name = "keeper"
    parent_types = frozenset({Ty.CB, Ty.AE})
    deletable = False


async def test_a_type_that_is_not_deletable(clock):
    types = TypeRegistry([t for t in default_types() if t.ty != Ty.CNT] + [Undeletable()])
    cse = build_cse(make_config(), clock=clock, types=types)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae("Cmeter", rn="meter")).rsc == 2001
        assert (await client.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "kept"}}, fr="Cmeter")).rsc == 2001
        stranger = await client.delete("cse-in/meter/kept", fr="Cother")
        assert stranger.rsc == 4103                       # access first: nothing revealed
        refused = await client.delete("cse-in/meter/kept", fr="Cmeter")
        assert (refused.rsc, refused.pc["m2m:dbg"]) == (4005, "a keeper cannot be deleted")
        assert (await client.retrieve("cse-in/meter/kept", fr="Cmeter")).rsc == 2000
    finally:
        await cse.stop()


@pytest.mark.parametrize("op", ["update", "delete"])
async def test_the_provisioned_cse_base_is_refused_before_access_control(core, op):
    if op == "update":
        response = await core.update("cse-in", {"m2m:cb": {"lbl": ["x"]}}, fr="Cstranger")
        message = "the CSEBase is provisioned and cannot be updated"
    else:
        response = await core.delete("cse-in", fr="Cstranger")
        message = "the CSEBase cannot be deleted"
    assert (response.rsc, response.pc["m2m:dbg"]) == (4005, message)


@pytest.mark.parametrize("name", ["la", "ol", "fopt", "pcu", "ntsr"])
async def test_reserved_names_come_from_the_type_declarations(core, name):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": name}}, fr="Cmeter")
    assert (response.rsc, response.pc["m2m:dbg"]) == (
        4000, f"attribute 'rn': {name!r} is reserved for a virtual resource")
