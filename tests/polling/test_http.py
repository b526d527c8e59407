"""Polling over real HTTP: the long poll of pcu returns a queued notification, the AE answers with a
NOTIFY to pcu; HTTP status codes of the refusals; the AE-side client's PollingReceiver."""
import asyncio
import json

import pytest

from client import CseClient, PollingReceiver
from tests.e2e.federation_support import eventually

PCU = "/cse-in/meter/pch/pcu"


async def call(http, method, path, originator="Cmeter", **kwargs):
    response, payload = await http.call(method, path, originator=originator, **kwargs)
    return response.status, int(response.headers["X-M2M-RSC"]), json.loads(payload) if payload else None


async def setup_meter(http) -> None:
    """Cmeter behind NAT: rr=false, no poa; its channel, a container and its own subscription (exc 3)."""
    ae = {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}
    assert (await call(http, "POST", "/cse-in", ty=2, body={"m2m:ae": ae}))[1] == 2001
    assert (await call(http, "POST", "/cse-in/meter", ty=15, body={"m2m:pch": {"rn": "pch"}}))[1] == 2001
    assert (await call(http, "POST", "/cse-in/meter", ty=3, body={"m2m:cnt": {"rn": "power"}}))[1] == 2001
    sub = {"rn": "sub", "nu": ["Cmeter"], "enc": {"net": [3]}, "exc": 3}
    assert (await call(http, "POST", "/cse-in/meter/power", ty=23, body={"m2m:sub": sub}))[1] == 2001


async def test_a_long_poll_returns_the_notification_and_the_answer_completes_it(http_cse):
    cse, http = http_cse
    await setup_meter(http)
    waiting = asyncio.create_task(call(http, "GET", PCU, headers={"X-M2M-RET": "10000"}))
    await eventually(lambda: cse.polling.stats()["polls"] == 1, what="the long poll waits at the CSE")
    reading = {"m2m:cin": {"con": "1530"}}
    assert (await call(http, "POST", "/cse-in/meter/power", ty=4, body=reading))[1] == 2001
    status, rsc, body = await asyncio.wait_for(waiting, 10)
    assert (status, rsc) == (200, 2000)
    rqp = body["m2m:rqp"]
    assert (rqp["op"], rqp["to"], rqp["fr"]) == (5, "/id-in/Cmeter", "/id-in")
    assert rqp["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] == "1530"
    assert rqp["pc"]["m2m:sgn"]["sur"].endswith("/" + (await call(http, "GET", "/cse-in/meter/power/sub"))[2]
                                                 ["m2m:sub"]["ri"])
    answer = {"m2m:rsp": {"rsc": 2000, "rqi": rqp["rqi"], "rvi": "3"}}
    assert await call(http, "POST", PCU, body=answer) == (200, 2000, None)
    await eventually(lambda: cse.events.stats()["delivered"] == 1, what="the notification counts as delivered")
    assert (await call(http, "GET", "/cse-in/meter/power/sub"))[2]["m2m:sub"]["exc"] == 2


@pytest.mark.parametrize("method, originator, headers, body, status, rsc, words", [
    ("GET", "Cother", {"X-M2M-RET": "1000"}, None, 403, 4103, "no RETRIEVE privilege"),
    ("POST", "Cother", {}, {"m2m:rsp": {"rsc": 2000, "rqi": "x"}}, 403, 4103, "only AE Cmeter"),
    ("POST", "Cmeter", {}, {"m2m:rsp": {"rqi": "x"}}, 400, 4000, "is not a response status code"),
    ("POST", "Cmeter", {}, {"m2m:sgn": {"vrq": True}}, 400, 4000, '{"m2m:rsp"'),
    ("DELETE", "Cmeter", {}, None, 405, 4005, "can only be retrieved"),
    ("PUT", "Cmeter", {}, {"m2m:pch": {"lbl": ["x"]}}, 405, 4005, "cannot be updated"),
    ("GET", "Cmeter", {"X-M2M-RET": "100"}, None, 504, 4008, "no request for AE Cmeter arrived"),
])
async def test_refusals_over_http(http_cse, method, originator, headers, body, status, rsc, words):
    cse, http = http_cse
    await setup_meter(http)
    other = {"rn": "other", "api": "Nother", "rr": False, "srv": ["3"]}
    assert (await call(http, "POST", "/cse-in", originator="Cother", ty=2, body={"m2m:ae": other}))[1] == 2001
    got_status, got_rsc, got = await call(http, method, PCU, originator=originator, headers=headers, body=body)
    assert (got_status, got_rsc) == (status, rsc), got
    assert words in got["m2m:dbg"]


async def test_creating_a_channel_under_the_pcu_is_refused(http_cse):
    cse, http = http_cse
    await setup_meter(http)
    status, rsc, body = await call(http, "POST", PCU, ty=3, body={"m2m:cnt": {}})
    assert (status, rsc) == (405, 4005) and "virtual resource 'pcu'" in body["m2m:dbg"]


async def test_the_client_polling_receiver_gets_verified_subscriptions_and_notifications(http_cse):
    cse, http = http_cse
    base = http.base
    # The receiver is left (stopped) before its client closes.
    async with CseClient(base, originator="Cdisplay") as display, CseClient(base, originator="Cmeter") as meter, \
            PollingReceiver(poll_seconds=2) as inbox:
        ae = await display.register("Ndisplay", rn="display", receiver=inbox)
        assert ae["rr"] is False and "poa" not in ae
        assert inbox.channel == "cse-in/display/pollingChannel"
        await meter.register("Nmeter", rn="meter")
        await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power"}})
        # The meter subscribes the display: nu is another entity, so the CSE verifies it through
        # the display's channel before the subscription exists.
        sub = await meter.subscribe(f"{meter.ae_address}/power", nu=["Cdisplay"])
        for watts in ("1530", "1610"):
            await meter.add_instance(f"{meter.ae_address}/power", watts)
        first, second = await inbox.next(timeout=10), await inbox.next(timeout=10)
        assert [first.resource["con"], second.resource["con"]] == ["1530", "1610"]
        assert first.subscription == f"/id-in/{sub['ri']}" and first.originator == "/id-in"
        # The verification request and two notifications, each answered.
        await eventually(lambda: inbox.fetched == 3, what="three requests answered")


async def test_a_restarted_polling_device_finds_its_channel_again(http_cse):
    cse, http = http_cse
    async with CseClient(http.base, originator="Cmeter") as meter, PollingReceiver(poll_seconds=2) as inbox:
        await meter.register("Nmeter", rn="meter", receiver=inbox)
    async with CseClient(http.base, originator="Cmeter") as meter, \
            PollingReceiver(poll_seconds=2, channel_name="another") as inbox:
        await meter.register("Nmeter", rn="meter", receiver=inbox)     # 4117 -> take-over
        assert inbox.channel == "cse-in/meter/pollingChannel"
        # It polls: a NOTIFY addressed to the meter reaches it.
        async with CseClient(http.base, originator="CAdmin") as admin:
            sgn = {"m2m:sgn": {"sur": "/id-in/sub1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "7"}}}}}
            answered = await admin.request(5, "Cmeter", pc=sgn)
        assert answered.rsc == 2000
        assert (await inbox.next(timeout=5)).resource["con"] == "7"


async def test_the_receiver_survives_its_cse_going_away_and_stops_at_once(caplog):
    from tests.conftest import free_port
    from tests.e2e.federation_support import start_cse, url_of
    cse = await start_cse(free_port())
    stopped = False
    try:
        async with CseClient(url_of(cse), originator="Cmeter") as meter, \
                PollingReceiver(poll_seconds=5, retry_min=0.05, retry_max=0.1) as inbox:
            await meter.register("Nmeter", rn="meter", receiver=inbox)
            await eventually(lambda: cse.polling.stats()["polls"] == 1, what="polling")
            await cse.stop()                      # answers the waiting poll (5103), then goes away
            stopped = True
            await eventually(lambda: "not reachable" in caplog.text, what="the unreachable CSE is logged")
            assert "shutting down" in caplog.text
            await asyncio.wait_for(inbox.stop(), 1)
    finally:
        if not stopped:
            await cse.stop()


async def test_the_receiver_answers_a_malformed_request_with_4000():
    inbox = PollingReceiver()
    answer = await inbox._answer_for({"rqi": "r1", "to": "Cmeter"})
    assert (answer.rsc, answer.rqi) == (4000, "r1") and "no operation" in answer.pc["m2m:dbg"]
    assert await inbox._answer_for(["not", "a", "primitive"]) is None
    refused = await inbox._answer_for({"op": 2, "to": "Cmeter", "rqi": "r2", "fr": "/id-in"})
    assert (refused.rsc, refused.rqi) == (4005, "r2")
