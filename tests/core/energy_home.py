"""Resource trees the discovery, child-list, group and fan-out tests build."""
from cse.clock import format_timestamp

METERS = {"Cm0": ("m0", "zone:1"), "Cm1": ("m1", "zone:2")}


async def build_home(core, clock):
    """Two meters and a plug, one second apart: AE, container (lbl zone), readings."""
    times = {}
    for originator, (name, zone) in METERS.items():
        await core.register_ae(originator, rn=name, lbl=["type:meter", zone])
        clock.advance(1)
        await core.create(f"cse-in/{name}", 3, {"m2m:cnt": {"rn": "power", "lbl": [zone, "unit:W"]}},
                          fr=originator)
        for i, watts in enumerate(("1530", "1610", "17000")):
            clock.advance(1)
            await core.create(f"cse-in/{name}/power", 4,
                              {"m2m:cin": {"rn": f"r{i}", "con": watts, "cnf": "text/plain:0"}},
                              fr=originator)
        times[name] = format_timestamp(clock.now())
    clock.advance(1)
    await core.register_ae("Cplug", rn="plug", lbl=["type:plug", "zone:1"])
    await core.create("cse-in/plug", 3, {"m2m:cnt": {"rn": "state", "mni": 5}}, fr="Cplug")
    await core.create("cse-in/plug/state", 4, {"m2m:cin": {"rn": "s0", "con": {"on": True},
                                                            "cnf": "application/json:0"}}, fr="Cplug")
    return times


async def appliances(core, count=3):
    """AEs C<i> named a<i>, each with a container `switch`."""
    for i in range(count):
        assert (await core.register_ae(f"Ca{i}", rn=f"a{i}")).rsc == 2001
        assert (await core.create(f"cse-in/a{i}", 3, {"m2m:cnt": {"rn": "switch"}}, fr=f"Ca{i}")).rsc == 2001


async def create_group(core, to="cse-in", fr="CAdmin", **attributes):
    attributes.setdefault("mnm", 10)
    return await core.create(to, 9, {"m2m:grp": attributes}, fr=fr)
