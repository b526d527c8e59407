"""Registration, forwarding and notification relay between two CSEs that speak only MQTT
(shared test broker; unique CSE-IDs so parallel runs do not meet)."""
import uuid

import pytest

from client import NotificationReceiver
from tests.bindings.brokers import shared_broker
from tests.bindings.mqtt_peer import MqttPeer
from tests.e2e.federation_support import MN, ask, start_cse


@pytest.fixture
async def mqtt_pair():
    broker = shared_broker()
    suffix = uuid.uuid4().hex[:8]
    in_id, mn_id = f"/in{suffix}", f"/mn{suffix}"
    mqtt = {"http.enabled": False, "mqtt.enabled": True, "mqtt.host": broker.host, "mqtt.port": broker.port,
            "mqtt.clean_session": True}
    in_cse = await start_cse(**{**mqtt, "cse.cse_id": in_id})
    mn = await start_cse(**{**MN, **mqtt, "cse.cse_id": mn_id, "registrar.cse_id": in_id,
                            "registrar.url": f"mqtt://{broker.host}:{broker.port}",
                            "cse.admin_originator": f"{in_id}/CAdmin"})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        yield broker, in_cse, mn
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_cses_on_mqtt_register_forward_and_relay(mqtt_pair):
    broker, in_cse, mn = mqtt_pair
    in_id, mn_id = in_cse.config.cse.cse_id, mn.config.cse.cse_id
    record = (await ask(in_cse, 2, f"cse-in/{mn_id[1:]}")).pc["m2m:csr"]
    assert record["poa"] == [f"mqtt://{broker.host}:{broker.port}"]
    # down: the IN's admin (the MN's admin too) creates on the MN, over the broker
    made = await ask(in_cse, 1, f"{mn_id}/cse-mn", ty=3, pc={"m2m:cnt": {"rn": "grid"}})
    assert made.rsc == 2001, made.pc
    # up: an AE of the MN reads the IN's CSEBase
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2,
                      pc={"m2m:ae": {"api": "Nmeter", "rr": False, "srv": ["3"]}})).rsc == 2001
    base = await ask(mn, 2, f"{in_id}/cse-in", fr="Cmeter")
    assert base.rsc == 2000, base.pc
    assert base.pc["m2m:cb"]["csi"] == in_id
    # a notification from the MN side to an application on the IN (which listens on HTTP)
    async with NotificationReceiver() as inbox:
        app = {"api": "Napp", "rr": True, "srv": ["3"], "poa": [inbox.url]}
        assert (await ask(in_cse, 1, "cse-in", fr="Capp", ty=2, pc={"m2m:ae": app})).rsc == 2001
        sgn = {"m2m:sgn": {"sur": f"{mn_id}/sub", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "7"}}}}}
        sent = await ask(mn, 5, f"{in_id}/Capp", fr=mn_id, pc=sgn)
        assert sent.rsc == 2000, sent.pc
        assert (await inbox.next(timeout=10)).resource == {"con": "7"}


async def test_a_stranger_cannot_relay_under_its_own_topic(mqtt_pair):
    broker, in_cse, mn = mqtt_pair
    in_topic = in_cse.config.cse.cse_id[1:]
    peer = await MqttPeer(broker.host, broker.port).connect()
    try:
        await peer.subscribe(f"/oneM2M/resp/stranger{in_topic}/{in_topic}/json")
        request = {"op": 2, "to": "cse-in", "fr": "/elsewhere/Cx", "rqi": "s1", "rvi": "3"}
        _, answer = await peer.call(request, originator=f"stranger{in_topic}", receiver=in_topic)
        assert answer["rsc"] == 4000
        assert "does not match the topic" in answer["pc"]["m2m:dbg"]
    finally:
        await peer.close()


async def test_subscription_on_the_mn_notifies_an_application_on_the_in_over_mqtt(mqtt_pair):
    """The MN's notifier reaches /in.../Capp through the IN over the broker (topic names the IN)."""
    broker, in_cse, mn = mqtt_pair
    in_id, mn_id = in_cse.config.cse.cse_id, mn.config.cse.cse_id
    async with NotificationReceiver() as inbox:
        app = {"api": "Napp", "rr": True, "srv": ["3"], "poa": [inbox.url]}
        assert (await ask(in_cse, 1, "cse-in", fr="Capp", ty=2, pc={"m2m:ae": app})).rsc == 2001
        admin = f"{in_id}/CAdmin"                         # the MN's admin (see the fixture)
        assert (await ask(mn, 1, f"{mn_id}/cse-mn", fr=admin, ty=3, pc={"m2m:cnt": {"rn": "power"}})).rsc == 2001
        sub = await ask(mn, 1, "cse-mn/power", fr=admin, ty=23,
                        pc={"m2m:sub": {"nu": [f"{in_id}/Capp"], "enc": {"net": [3]}}})
        assert sub.rsc == 2001, sub.pc                    # verified through the IN, over MQTT
        assert (await ask(mn, 1, "cse-mn/power", fr=admin, ty=4, pc={"m2m:cin": {"con": "1530"}})).rsc == 2001
        note = await inbox.next(timeout=10)
        assert (note.originator, note.resource["con"]) == (mn_id, "1530")


@pytest.mark.parametrize("originator", ["{in_id}/CAdmin", "//{sp}{in_id}/CAdmin", "{in_id}", "{other}/Cx"])
async def test_a_registree_cannot_relay_for_entities_that_are_not_below_it(mqtt_pair, originator):
    """The topic names the MN; it may relay for its own AEs and descendants, but not, say, as
    the IN's own admin (which would make it the IN's admin) or for another registree's AE."""
    broker, in_cse, mn = mqtt_pair
    in_id, mn_topic, in_topic = in_cse.config.cse.cse_id, mn.config.cse.cse_id[1:], in_cse.config.cse.cse_id[1:]
    other = f"{in_id}-other"
    body = {"cb": f"{other}/cse", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"]}
    assert (await ask(in_cse, 1, "cse-in", fr=other, ty=16, pc={"m2m:csr": body})).rsc == 2001
    fr = originator.format(in_id=in_id, sp=in_cse.config.cse.sp_id.lstrip("/"), other=other)
    peer = await MqttPeer(broker.host, broker.port).connect()
    try:
        await peer.subscribe(f"/oneM2M/resp/{mn_topic}/{in_topic}/json")
        request = {"op": 1, "to": "cse-in", "fr": fr, "rqi": "forged-1", "rvi": "3", "ty": 3,
                   "pc": {"m2m:cnt": {"rn": "taken-over"}}}
        _, answer = await peer.call(request, originator=mn_topic, receiver=in_topic)
        assert answer["rsc"] == 4000, answer
        assert "does not match the topic" in answer["pc"]["m2m:dbg"]
        assert (await ask(in_cse, 2, "cse-in/taken-over")).rsc == 4004
        # while relaying for its own AEs still works
        relayed = {"op": 2, "to": "cse-in", "fr": f"/{mn_topic}/Cmeter", "rqi": "fine-1", "rvi": "3"}
        _, answer = await peer.call(relayed, originator=mn_topic, receiver=in_topic)
        assert answer["rsc"] == 2000, answer
    finally:
        await peer.close()
