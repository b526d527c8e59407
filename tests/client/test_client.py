"""The AE-side client against a real CSE over HTTP (and a fake transport where the CSE
does not support the feature yet)."""
import aiohttp
import pytest

from client import Access, CseClient, CseUnreachable, HttpTransport, NotificationReceiver, RequestFailed, grant
from cse.primitives import Response
from tests.conftest import free_port


@pytest.fixture
async def cse_url(http_cse):
    cse, http = http_cse
    return http.base


async def test_register_lets_the_cse_assign_an_ae_id(cse_url):
    async with CseClient(cse_url) as app:
        ae = await app.register("Nenergy", rn="energy")
        assert ae["aei"].startswith("C")
        assert app.originator == ae["aei"]
        assert app.ae_address == "cse-in/energy"
        assert (await app.retrieve("cse-in/energy"))["api"] == "Nenergy"


async def test_reregistration_takes_the_existing_ae_over(cse_url):
    async with CseClient(cse_url, originator="Cmeter01") as first:
        await first.register("Nmeter", rn="meter01", poa=["http://127.0.0.1:1"])
        await first.create(first.ae_address, {"m2m:cnt": {"rn": "power"}})
    # The device restarts with a new receiver address: same AE, new poa, data kept.
    async with CseClient(cse_url, originator="Cmeter01") as again:
        ae = await again.register("Nmeter", rn="meter01", poa=["http://127.0.0.1:2"])
        assert ae["aei"] == "Cmeter01"
        assert ae["poa"] == ["http://127.0.0.1:2"]
        assert again.ae_address == "-/meter01"
        assert (await again.retrieve("cse-in/meter01/power"))["rn"] == "power"


async def test_readings_round_trip(cse_url):
    async with CseClient(cse_url, originator="Cmeter02") as meter:
        await meter.register("Nmeter", rn="meter02")
        power = f"{meter.ae_address}/power"
        created = await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "mni": 2}})
        assert created["mni"] == 2
        for watts in (1530, 1610, 1720):
            await meter.add_instance(power, {"w": watts}, cnf="application/json:0")
        assert (await meter.latest(power))["con"] == {"w": 1720}
        assert (await meter.retrieve(power, attributes=["cni"])) == {"cni": 2}
        assert (await meter.update(power, {"m2m:cnt": {"mni": 1}}))["cni"] == 1
        await meter.delete(power)
        with pytest.raises(RequestFailed) as failed:
            await meter.retrieve(power)
        assert failed.value.rsc == 4004
        assert "does not exist" in failed.value.message
        assert "RETRIEVE cse-in/meter02/power failed: 4004" in str(failed.value)


@pytest.mark.parametrize("call, rsc, words", [
    (lambda c: c.create("cse-in/nothing", {"m2m:cnt": {}}), 4004, "does not exist"),
    (lambda c: c.create(c.ae_address, {"m2m:cnt": {"mni": -1}}), 4000, "'mni'"),
    (lambda c: c.create("cse-in", {"m2m:cnt": {}}), 4103, "no CREATE privilege"),
    (lambda c: c.update("cse-in", {"m2m:cb": {"lbl": ["x"]}}), 4005, "CSEBase"),
    (lambda c: c.create("cse-in", {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}}), 4117, "already registered"),
])
async def test_refusals_raise_with_the_cse_explanation(cse_url, call, rsc, words):
    async with CseClient(cse_url, originator="Cbad") as app:
        await app.register("Nbad")
        with pytest.raises(RequestFailed) as failed:
            await call(app)
    assert failed.value.rsc == rsc
    assert words in failed.value.message


async def test_a_cse_that_is_not_there_raises_cse_unreachable():
    async with CseClient(f"http://127.0.0.1:{free_port()}") as app:
        with pytest.raises(CseUnreachable, match="not reachable"):
            await app.register("Nx")


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "http://127.0.0.1:8080/cse", "ftp://h:1", "http://"])
def test_bad_cse_urls_are_refused(url):
    with pytest.raises(ValueError):
        HttpTransport(url)


async def test_unknown_resource_root_needs_ty(cse_url):
    async with CseClient(cse_url, originator="Cx") as app:
        with pytest.raises(ValueError, match="give ty="):
            await app.create("cse-in", {"cod:eneCn": {}})
        with pytest.raises(ValueError, match="one resource"):
            await app.create("cse-in", {"m2m:cnt": {}, "m2m:cin": {}})


# -- notifications ---------------------------------------------------------------------
async def test_notifications_reach_the_receiver_through_the_cse(cse_url):
    """Another entity NOTIFYs the AE by its AE-ID; with the AE's grant (NOTIFY privilege) the
    CSE delivers it to the AE's poa."""
    async with NotificationReceiver() as receiver, CseClient(cse_url, originator="Capp") as app, \
            CseClient(cse_url, originator="Csender") as sender:
        await app.register("Napp", receiver=receiver)
        assert app.ae["poa"] == [receiver.url] and app.ae["rr"] is True
        sgn = {"m2m:sgn": {"sur": "/id-in/sub1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "42"}}}}}
        assert (await sender.request(5, "/id-in/Capp", pc=sgn)).rsc == 4103    # not granted NOTIFY
        acp = await app.create_acp(app.ae["ri"], rn="notifiers", rules=[grant(["Csender"], Access.NOTIFY)])
        await app.update(app.ae["ri"], {"m2m:ae": {"acpi": [acp["ri"]]}})
        response = await sender.request(5, "/id-in/Capp", pc=sgn)
        assert response.rsc == 2000
        note = await receiver.next(timeout=5)
        assert (note.subscription, note.event, note.resource) == ("/id-in/sub1", 3, {"con": "42"})
        assert note.originator == "Csender"
        assert note.target == "/id-in/Capp"


async def post(url, body, headers=None):
    async with aiohttp.ClientSession() as session:
        sent = {"X-M2M-Origin": "/id-in", "X-M2M-RI": "v1", "X-M2M-RVI": "3", "Content-Type": "application/json",
                **(headers or {})}
        async with session.post(url + "/any/path", data=body, headers=sent) as http:
            return int(http.headers["X-M2M-RSC"]), http.headers.get("X-M2M-RI"), await http.read()


async def test_receiver_answers_verification_requests_without_queueing_them():
    async with NotificationReceiver() as receiver:
        rsc, rqi, _ = await post(receiver.url, b'{"m2m:sgn": {"vrq": true, "sur": "/id-in/sub9", "cr": "Capp"}}')
        assert (rsc, rqi) == (2000, "v1")
        assert receiver.queue.empty()


async def test_receiver_can_refuse_a_verification():
    async with NotificationReceiver(verify=lambda n: n.subscription == "/id-in/mine") as receiver:
        assert (await post(receiver.url, b'{"m2m:sgn": {"vrq": true, "sur": "/id-in/mine"}}'))[0] == 2000
        assert (await post(receiver.url, b'{"m2m:sgn": {"vrq": true, "sur": "/id-in/other"}}'))[0] == 4103


@pytest.mark.parametrize("body, headers, rsc", [
    (b'{"m2m:cin": {}}', None, 4000),
    (b'[1, 2]', None, 4000),
    (b'{"m2m:sgn": ', None, 4000),
    (b'{"m2m:cnt": {}}', {"Content-Type": "application/json;ty=3"}, 4005),
])
async def test_receiver_refuses_what_is_not_a_notification(body, headers, rsc):
    async with NotificationReceiver() as receiver:
        assert (await post(receiver.url, body, headers))[0] == rsc
        assert receiver.queue.empty()


async def test_receiver_callback_and_its_failure():
    seen = []

    async def handle(note):
        if note.event == 4:
            raise RuntimeError("cannot handle deletions")
        seen.append(note.resource)

    async with NotificationReceiver(on_notification=handle) as receiver:
        ok = await post(receiver.url, b'{"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "1"}}}}}')
        assert ok[0] == 2000
        failed = await post(receiver.url, b'{"m2m:sgn": {"nev": {"net": 4, "rep": {"m2m:cin": {}}}}}')
        assert failed[0] == 5000
        assert b"cannot handle deletions" in failed[2]
    assert seen == [{"con": "1"}]


async def test_receiver_with_a_full_queue_says_so():
    async with NotificationReceiver(max_queued=1) as receiver:
        body = b'{"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "1"}}}}}'
        assert (await post(receiver.url, body))[0] == 2000
        rsc, _, payload = await post(receiver.url, body)
        assert rsc == 5000 and b"queue is full" in payload
        assert (await receiver.next(timeout=1)).resource == {"con": "1"}


# -- request shapes for features the CSE may not have yet (fake transport) -------------
class RecordingTransport:
    def __init__(self, answers):
        self.answers = answers
        self.sent = []

    async def open(self):
        pass

    async def close(self):
        pass

    async def send(self, request, timeout):
        self.sent.append(request)
        return self.answers(request)


async def test_discover_sends_filter_criteria_and_returns_addresses():
    transport = RecordingTransport(lambda r: Response(rsc=2000, pc={"m2m:uril": ["cse-in/m1/power"]}))
    app = CseClient("http://127.0.0.1:1", originator="Capp", transport=transport)
    found = await app.discover("cse-in", ty=3, labels=["energy:power"], limit=10, level=2)
    assert found == ["cse-in/m1/power"]
    (sent,) = transport.sent
    assert (sent.op, sent.to, sent.fr, sent.drt) == (2, "cse-in", "Capp", 1)
    assert sent.fc == {"fu": 1, "ty": [3], "lbl": ["energy:power"], "lim": 10, "lvl": 2}


def cse_or_created(request):
    if request.op == 2:
        return Response(rsc=2000, pc={"m2m:cb": {"csi": "/id-in", "rn": "cse-in"}})
    return Response(rsc=2001, pc={"m2m:sub": {"rn": "s", **request.pc["m2m:sub"]}})


async def test_subscribe_defaults_to_this_ae_by_its_sp_relative_id():
    transport = RecordingTransport(cse_or_created)
    app = CseClient("http://127.0.0.1:1", originator="Capp", transport=transport)
    sub = await app.subscribe("/id-mn/cse-mn/meter/power")
    assert sub["nu"] == ["/id-in/Capp"]
    create = transport.sent[-1]
    assert (create.op, create.ty, create.to) == (1, 23, "/id-mn/cse-mn/meter/power")
    assert create.pc == {"m2m:sub": {"nu": ["/id-in/Capp"], "enc": {"net": [3]}}}


async def test_subscribe_with_explicit_targets_and_events():
    transport = RecordingTransport(cse_or_created)
    app = CseClient("http://127.0.0.1:1", originator="Sapp", transport=transport)
    assert await app.notification_target() == "/Sapp"
    await app.subscribe("cse-in/x", nu=["http://127.0.0.1:9/n"], net=(1, 3), nct=1, rn="mine", exc=5)
    assert transport.sent[-1].pc == {"m2m:sub": {"nu": ["http://127.0.0.1:9/n"], "enc": {"net": [1, 3]},
                                                 "exc": 5, "nct": 1, "rn": "mine"}}


async def test_discover_against_the_cse(cse_url):
    async with CseClient(cse_url, originator="Cmeter03") as meter:
        await meter.register("Nmeter", rn="meter03")
        for name, labels in (("power", ["energy:power"]), ("energy", ["energy:total"]), ("log", [])):
            await meter.create(meter.ae_address, {"m2m:cnt": {"rn": name, "lbl": labels}})
        found = await meter.discover(meter.ae_address, ty=3, labels=["energy:power", "energy:total"])
        assert sorted(found) == ["cse-in/meter03/energy", "cse-in/meter03/power"]
        by_id = await meter.discover(meter.ae_address, labels=["energy:power"], structured=False)
        assert len(by_id) == 1 and by_id[0].split("/")[-1].startswith("cnt")
        assert await meter.discover(meter.ae_address, ty=4) == []
