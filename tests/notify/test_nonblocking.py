"""Non-blocking requests (TS-0001 8.2.2): rt=1 leaves a <request> resource to poll, rt=2
notifies the result; both are acknowledged before the operation runs."""
import pytest

from cse.clock import format_timestamp
from cse.primitives import Request

from .conftest import meter_with_container


async def settle(core):
    assert not await core.cse.dispatcher.nonblocking.idle(timeout=10)


async def test_synchronous_request_leaves_a_request_resource_with_the_result(ncore):
    container = await meter_with_container(ncore)
    ack = await ncore.create(container, 4, {"m2m:cin": {"con": "1530"}}, fr="Cmeter", rt=1, rqi="nb-1")
    assert ack.rsc == 1001 and ack.rqi == "nb-1"
    reference = ack.pc["m2m:uri"]
    await settle(ncore)
    record = (await ncore.retrieve(reference, fr="Cmeter")).pc["m2m:req"]
    assert (record["rs"], record["op"], record["tg"], record["org"], record["rid"]) == (1, 1, container, "Cmeter", "nb-1")
    assert record["ors"]["rsc"] == 2001 and record["ors"]["rqi"] == "nb-1"
    assert record["ors"]["pc"]["m2m:cin"]["con"] == "1530"
    assert (await ncore.retrieve(f"{container}/la", fr="Cmeter")).pc["m2m:cin"]["con"] == "1530"


async def test_failed_operation_is_reported_in_the_request_resource(ncore):
    await meter_with_container(ncore)
    ack = await ncore.retrieve("cse-in/meter/nothing", fr="Cmeter", rt=1)
    assert ack.rsc == 1001
    await settle(ncore)
    record = (await ncore.retrieve(ack.pc["m2m:uri"], fr="Cmeter")).pc["m2m:req"]
    assert record["rs"] == 2 and record["ors"]["rsc"] == 4004


async def test_only_the_originator_reads_and_deletes_its_request_resource(ncore):
    container = await meter_with_container(ncore)
    reference = (await ncore.retrieve(container, fr="Cmeter", rt=1)).pc["m2m:uri"]
    await settle(ncore)
    assert (await ncore.retrieve(reference, fr="Cneighbour")).rsc == 4103
    assert (await ncore.update(reference, {"m2m:req": {"lbl": ["x"]}}, fr="Cmeter")).rsc == 4005
    assert (await ncore.delete(reference, fr="Cmeter")).rsc == 2002
    assert (await ncore.retrieve(reference, fr="Cmeter")).rsc == 4004


async def test_result_persistence_bounds_the_request_resource(ncore, clock):
    container = await meter_with_container(ncore)
    reference = (await ncore.retrieve(container, fr="Cmeter", rt=1, rp="PT10S")).pc["m2m:uri"]
    await settle(ncore)
    record = (await ncore.retrieve(reference, fr="Cmeter")).pc["m2m:req"]
    assert record["et"] == format_timestamp(clock.now() + 10)
    clock.advance(11)
    assert (await ncore.retrieve(reference, fr="Cmeter")).rsc == 4004


async def test_asynchronous_request_notifies_the_result_to_the_given_targets(ncore, receiver):
    container = await meter_with_container(ncore)
    ack = await ncore.create(container, 4, {"m2m:cin": {"con": "42"}}, fr="Cmeter", rt=2,
                             rtu=[receiver.url()], rqi="nb-2")
    assert ack.rsc == 1002
    reference = ack.pc["m2m:uri"]          # a <request> to poll as well (TS-0004 7.3.2.2)
    (notification,) = await receiver.wait_for(1)
    result = notification.body["m2m:rsp"]
    assert result["rsc"] == 2001 and result["rqi"] == "nb-2" and result["pc"]["m2m:cin"]["con"] == "42"
    assert notification.headers["X-M2M-Origin"] == "/id-in"
    await settle(ncore)
    record = (await ncore.retrieve(reference, fr="Cmeter")).pc["m2m:req"]
    assert record["rs"] == 1 and record["ors"]["rsc"] == 2001
    assert record["mi"]["rt"] == {"rtv": 2, "nu": [receiver.url()]}


async def test_a_pending_request_shows_what_is_known_and_cannot_be_recalled(ncore):
    container = await meter_with_container(ncore)
    ack = await ncore.retrieve(container, fr="Cmeter", rt=1, rqi="slow", oet="1500")
    reference = ack.pc["m2m:uri"]
    record = (await ncore.retrieve(reference, fr="Cmeter")).pc["m2m:req"]
    assert record["rs"] == 3                                        # PENDING
    assert record["ors"] == {"rsc": 1001, "rqi": "slow", "fr": "/id-in", "to": "Cmeter"}
    assert record["mi"]["rt"] == {"rtv": 1} and record["mi"]["oet"] == "1500"
    assert record["org"] == "Cmeter" and record["lbl"] == ["Cmeter"]
    refused = await ncore.delete(reference, fr="Cmeter")
    assert refused.rsc == 5220 and "cannot be recalled" in refused.pc["m2m:dbg"]
    await settle(ncore)
    assert (await ncore.retrieve(reference, fr="Cmeter")).pc["m2m:req"]["rs"] == 1
    assert (await ncore.delete(reference, fr="Cmeter")).rsc == 2002


async def test_no_response_is_executed_in_the_background_and_answered_at_once(ncore):
    container = await meter_with_container(ncore)
    ack = await ncore.create(container, 4, {"m2m:cin": {"con": "quiet"}}, fr="Cmeter", rt=5, oet="300")
    assert ack.rsc == 1000 and ack.pc is None                       # not blocking: before the oet
    assert (await ncore.retrieve(f"{container}/la", fr="Cmeter")).rsc == 4004
    await settle(ncore)
    assert (await ncore.retrieve(f"{container}/la", fr="Cmeter")).pc["m2m:cin"]["con"] == "quiet"


async def test_asynchronous_result_goes_to_the_originator_without_targets(ncore, receiver):
    assert (await ncore.register_ae("Capp", rn="app", rr=True, poa=[receiver.base])).rsc == 2001
    ack = await ncore.retrieve("cse-in/app", fr="Capp", rt=2, rqi="nb-3")
    assert ack.rsc == 1002
    (notification,) = await receiver.wait_for(1)
    assert notification.body["m2m:rsp"]["pc"]["m2m:ae"]["aei"] == "Capp"


async def test_empty_target_list_means_no_result_notification(ncore, receiver):
    container = await meter_with_container(ncore)
    assert (await ncore.retrieve(container, fr="Cmeter", rt=2, rtu=[], rqi="silent")).rsc == 1002
    assert (await ncore.retrieve(container, fr="Cmeter", rt=2, rtu=[receiver.url()], rqi="loud")).rsc == 1002
    await settle(ncore)
    (notification,) = await receiver.wait_for(1)
    assert notification.body["m2m:rsp"]["rqi"] == "loud"
    assert len(receiver.notifications) == 1


@pytest.mark.parametrize("fields, rsc, words", [
    ({"fr": None}, 4000, "originator"),
    ({"rt": 7}, 4000, "response type"),
    ({"rtu": [""]}, 4000, "non-empty"),
    ({"rp": "soon"}, 4000, "rp"),
    ({"rp": "20000101T000000", "rt": 1}, 4000, "not in the future"),
    ({"rqet": "20000101T000000"}, 4008, "expired"),
    ({"rset": "-5"}, 4008, "expired"),
    ({"rqet": "soon"}, 4000, "rqet"),
    ({"rset": True}, 4000, "rset"),
    ({"oet": "tomorrow"}, 4000, "oet"),
    ({"oet": "29991231T000000,"}, 4000, "oet"),
    ({"oet": "5000", "rqet": "1000"}, 4000, "after the request expiration"),
    ({"oet": "5000", "rset": "1000"}, 4000, "after the result expiration"),
    ({"rqet": "5000", "rset": "1000"}, 4000, "before the request expiration"),
    ({"rp": "PTsoon"}, 4000, "rp"),
    ({"rp": [1]}, 4000, "rp"),
])
async def test_bad_non_blocking_requests_are_refused_before_acknowledgement(ncore, fields, rsc, words):
    await meter_with_container(ncore)
    request = {"op": 2, "to": "cse-in/meter/power", "fr": "Cmeter", "rqi": "bad", "rvi": "3", "rt": 2,
               "rtu": []}
    request.update(fields)
    response = await ncore.cse.dispatcher.handle(Request(**request))
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_request_resources_cannot_be_created_by_request(ncore):
    response = await ncore.create("cse-in", 17, {"m2m:req": {"op": 2}}, fr="CAdmin")
    assert response.rsc == 4005


async def test_non_blocking_over_http(http_cse):
    cse, client = http_cse
    await client.call("POST", "/cse-in", originator="Cmeter", ty=2,
                      body={"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}})
    response, body = await client.call("GET", "/cse-in/meter?rt=1", originator="Cmeter")
    assert response.status == 202 and response.headers["X-M2M-RSC"] == "1001"
    import json
    reference = json.loads(body)["m2m:uri"]
    assert not await cse.dispatcher.nonblocking.idle(timeout=10)
    response, body = await client.call("GET", f"/{reference}", originator="Cmeter")
    assert json.loads(body)["m2m:req"]["ors"]["pc"]["m2m:ae"]["rn"] == "meter"
    response, body = await client.call("GET", "/cse-in/meter?rt=2", originator="Cmeter",
                                       headers={"X-M2M-RTU": ""})
    assert response.status == 202 and response.headers["X-M2M-RSC"] == "1002"
    assert json.loads(body)["m2m:uri"].startswith("req")
    # rt=5 (no response): accepted at once, executed in the background.
    response, body = await client.call("POST", "/cse-in/meter?rt=5", originator="Cmeter", ty=3,
                                       body={"m2m:cnt": {"rn": "later"}})
    assert response.status == 202 and response.headers["X-M2M-RSC"] == "1000" and body == b""
    assert not await cse.dispatcher.nonblocking.idle(timeout=10)
    response, _ = await client.call("GET", "/cse-in/meter/later", originator="Cmeter")
    assert response.headers["X-M2M-RSC"] == "2000"
    # Times that do not fit together, on a blocking request too.
    response, body = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                       headers={"X-M2M-OET": "5000", "X-M2M-RET": "1000"})
    assert response.headers["X-M2M-RSC"] == "4000" and b"after the request expiration" in body


async def test_running_non_blocking_requests_are_bounded(clock):
    from tests.conftest import CoreClient

    from .conftest import notifying_cse

    cse = notifying_cse(clock, **{"limits.max_nonblocking_pending": 2})
    await cse.start()
    try:
        core = CoreClient(cse)
        container = await meter_with_container(core)
        # oet keeps the accepted operations running for a while (they wait for it).
        held = [await core.retrieve(container, fr="Cmeter", rt=2, rtu=[], oet="2000") for _ in range(2)]
        assert [r.rsc for r in held] == [1002, 1002]
        refused = await core.retrieve(container, fr="Cmeter", rt=2, rtu=[])
        assert refused.rsc == 4005 and "already running" in refused.pc["m2m:dbg"]
        refused = await core.retrieve(container, fr="Cmeter", rt=5)         # rt=5 shares the bound
        assert refused.rsc == 4005 and "already running" in refused.pc["m2m:dbg"]
        assert (await core.retrieve(container, fr="Cmeter")).rsc == 2000    # blocking still served
    finally:
        await cse.stop()
