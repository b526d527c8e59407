"""Client additions used by the examples: access rules (client.access, create_acp),
create with exist_ok, discovery through another CSE, the receiver that fits a transport."""
import pytest

from client import (Access, CseClient, NotificationInbox, NotificationReceiver, RequestFailed, commander, grant,
                    hosting_cse_prefix, receiver_for, subscriber)
from client.mqtt import MqttNotificationReceiver, MqttTransport
from cse.primitives import Response
from tests.client.test_client import RecordingTransport


@pytest.fixture
async def cse_url(http_cse):
    cse, http = http_cse
    return http.base


# -- rules (no CSE) ---------------------------------------------------------------------
def test_grants_build_acr_entries():
    assert grant(["/id-in/CApp"], Access.RETRIEVE | Access.DISCOVER) == {"acor": ["/id-in/CApp"], "acop": 34}
    assert grant("CApp", Access.CREATE, child_types=[23]) == {
        "acor": ["CApp"], "acop": 1, "acod": [{"chty": [23]}]}
    assert subscriber(["CApp"]) == [{"acor": ["CApp"], "acop": 34},
                                    {"acor": ["CApp"], "acop": 1, "acod": [{"chty": [23]}]}]
    assert commander(["CApp"]) == [{"acor": ["CApp"], "acop": 32},
                                   {"acor": ["CApp"], "acop": 1, "acod": [{"chty": [4]}]}]


@pytest.mark.parametrize("originators, operations, child_types, words", [
    ([], Access.RETRIEVE, None, "at least one originator"),
    ([""], Access.RETRIEVE, None, "at least one originator"),
    (["CApp"], 0, None, "combination of Access flags"),
    (["CApp"], 64, None, "combination of Access flags"),
    (["CApp"], Access.CREATE, [], "non-empty list"),
    (["CApp"], Access.CREATE, ["23"], "resource type numbers"),
])
def test_bad_grants_are_refused_before_anything_is_sent(originators, operations, child_types, words):
    with pytest.raises(ValueError, match=words):
        grant(originators, operations, child_types=child_types)


@pytest.mark.parametrize("target, prefix", [
    ("/id-mn/cse-mn", "/id-mn"),
    ("/id-mn/cse-mn/meter", "/id-mn"),
    ("/id-mn", "/id-mn"),
    ("//sp.example/id-mn/cse-mn", "//sp.example/id-mn"),
    ("//sp.example", ""),
    ("cse-in/meter", ""),
    ("-/meter", ""),
])
def test_hosting_cse_prefix(target, prefix):
    assert hosting_cse_prefix(target) == prefix


# -- discovery through another CSE (request shape) --------------------------------------
@pytest.mark.parametrize("target, answered, expected", [
    ("/id-mn/cse-mn", ["cse-mn/meter/power", "cntX1"], ["/id-mn/cse-mn/meter/power", "/id-mn/cntX1"]),
    ("//sp.example/id-mn/cse-mn", ["cse-mn/a"], ["//sp.example/id-mn/cse-mn/a"]),
    ("/id-mn/cse-mn", ["/id-mn/cse-mn/a"], ["/id-mn/cse-mn/a"]),      # already usable
    ("cse-in", ["cse-in/a"], ["cse-in/a"]),                            # our own CSE: unchanged
])
async def test_discovery_through_another_cse_returns_usable_addresses(target, answered, expected):
    transport = RecordingTransport(lambda r: Response(rsc=2000, pc={"m2m:uril": answered}))
    app = CseClient("http://127.0.0.1:1", originator="CApp", transport=transport)
    assert await app.discover(target, ty=3) == expected


# -- against the CSE --------------------------------------------------------------------
async def test_create_exist_ok_returns_the_existing_resource(cse_url):
    async with CseClient(cse_url, originator="CMeterX") as meter:
        await meter.register("Nmeter", rn="meterx")
        first = await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "mni": 5}}, exist_ok=True)
        again = await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "mni": 9}}, exist_ok=True)
        assert again["ri"] == first["ri"] and again["mni"] == 5      # kept as it was
        with pytest.raises(RequestFailed) as failed:
            await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power"}})
        assert failed.value.rsc == 4105
        with pytest.raises(ValueError, match="rn"):
            await meter.create(meter.ae_address, {"m2m:cnt": {"mni": 1}}, exist_ok=True)
        with pytest.raises(RequestFailed) as failed:     # other refusals still raise
            await meter.create("cse-in/nothing", {"m2m:cnt": {"rn": "x"}}, exist_ok=True)
        assert failed.value.rsc == 4004


async def test_create_acp_grants_exactly_the_rules(cse_url):
    async with CseClient(cse_url, originator="CMeterY") as meter, \
            CseClient(cse_url, originator="CPartner") as partner, \
            CseClient(cse_url, originator="CStranger") as stranger:
        await meter.register("Nmeter", rn="metery")
        await partner.register("Npartner", rn="partner")
        await stranger.register("Nstranger", rn="stranger")
        acp = await meter.create_acp(meter.ae_address, rn="share", rules=subscriber(["CPartner"]))
        assert acp["pvs"] == {"acr": [{"acor": ["CMeterY"], "acop": 63}]}
        power = f"{meter.ae_address}/power"
        await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "acpi": [acp["ri"]]}})
        await meter.add_instance(power, {"w": 1500})            # the owner keeps its rights
        assert (await partner.latest(power))["con"] == {"w": 1500}
        assert await partner.discover(meter.ae_address, ty=3) == [power]
        await partner.subscribe(power, rn="partner-sub")       # nu = itself: no verification
        refused = [await partner.request(1, power, ty=4, pc={"m2m:cin": {"con": "forged"}}),
                   await partner.request(4, power),
                   await stranger.request(2, f"{power}/la")]
        assert [r.rsc for r in refused] == [4103, 4103, 4103]
        assert await stranger.discover(meter.ae_address, ty=3) == []
        # Set-up run again with other rules (a restart): the ACP is brought up to date.
        again = await meter.create_acp(meter.ae_address, rn="share", rules=subscriber(["CStranger"]))
        assert again["ri"] == acp["ri"]
        assert (await stranger.latest(power))["con"] == {"w": 1500}
        assert (await partner.request(2, f"{power}/la")).rsc == 4103


async def test_create_acp_needs_a_registered_ae():
    app = CseClient("http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="register first"):
        await app.create_acp("cse-in", rn="x", rules=[])


async def test_receiver_for_fits_the_transport():
    http = CseClient("http://127.0.0.1:1", originator="CApp")
    assert type(receiver_for(http)) is NotificationReceiver
    mqtt = CseClient("mqtt://127.0.0.1:1", originator="CApp", cse_id="/id-in")
    assert isinstance(mqtt.transport, MqttTransport)
    receiver = receiver_for(mqtt, max_queued=3)
    assert isinstance(receiver, MqttNotificationReceiver) and receiver.queue.maxsize == 3
    async with NotificationInbox() as inbox:        # every inbox can be used with `async with`
        assert inbox.queue.empty()


async def test_subscribe_exist_ok_keeps_one_subscription(cse_url):
    async with CseClient(cse_url, originator="CMeterZ") as meter:
        await meter.register("Nmeter", rn="meterz")
        await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power"}})
        first = await meter.subscribe(f"{meter.ae_address}/power", rn="mine", exist_ok=True)
        again = await meter.subscribe(f"{meter.ae_address}/power", rn="mine", exist_ok=True)
        assert again["ri"] == first["ri"]
        assert await meter.discover(f"{meter.ae_address}/power", ty=23) == ["cse-in/meterz/power/mine"]


async def test_create_still_takes_another_originator():
    transport = RecordingTransport(lambda r: Response(rsc=2001, pc={"m2m:cnt": {"rn": "x"}}))
    app = CseClient("http://127.0.0.1:1", originator="CApp", transport=transport)
    await app.create("cse-in", {"m2m:cnt": {"rn": "x"}}, originator="/id-other")
    assert transport.sent[-1].fr == "/id-other"
