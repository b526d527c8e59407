"""What a notification looks like on the wire to its receiver: the media type (plain
application/json by default, the vendor type on request) and the release it is sent in
(the receiving AE's srv), also when this CSE relays a NOTIFY another CSE sent."""
from __future__ import annotations

from bindings.http_client import HttpSender
from server.compose import CoreParts, build_cse
from tests.conftest import CoreClient, make_config

from .conftest import FAST_RETRIES, READINGS, meter_with_container, post_reading, subscribe


def vendor_sender(parts: CoreParts) -> list:
    sender = HttpSender(vendor_notify_type=parts.config.http.notify_vendor_media_type)
    parts.outbound.register(("http", "https"), sender)
    return [sender]


async def test_the_vendor_media_type_is_a_per_cse_option(receiver):
    cse = build_cse(make_config(**FAST_RETRIES, **{"http.notify_vendor_media_type": True}),
                    bindings=vendor_sender)
    await cse.start()
    try:
        core = CoreClient(cse)
        container = await meter_with_container(core)
        assert (await subscribe(core, container, receiver.url(), enc=READINGS)).rsc == 2001
        await post_reading(core, container, 1)
        [notification] = await receiver.wait_for(1)
        verification = receiver.received[0]
        assert verification.is_verification
        for received in (verification, notification):
            assert received.headers["Content-Type"] == "application/vnd.onem2m-ntfy+json"
        assert notification.sgn["nev"]["rep"]["m2m:cin"]["con"] == "1"
    finally:
        await cse.stop()


async def test_a_relayed_notify_reaches_the_ae_in_the_release_it_registered_with(ncore, receiver):
    # An AE that speaks release 3 only; a CSE (registered here) notifies it speaking release 5.
    registered = await ncore.register_ae("Capp", rn="app", poa=[receiver.url()], srv=["2a", "3"])
    assert registered.rsc == 2001, registered.pc
    csr = {"m2m:csr": {"cb": "/id-mn/cse-mn", "rr": True, "srv": ["5"], "poa": ["http://127.0.0.1:9"]}}
    assert (await ncore.create("cse-in", 16, csr, fr="/id-mn")).rsc == 2001
    sgn = {"m2m:sgn": {"sur": "/id-mn/sub-1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "7"}}}}}
    answer = await ncore.request(5, "/id-in/Capp", fr="/id-mn", pc=sgn, rvi="5")
    assert answer.rsc == 2000, answer.pc
    [received] = await receiver.wait_for(1)
    assert received.headers["X-M2M-RVI"] == "3"
    assert received.headers["Content-Type"] == "application/json"
    assert received.sgn["sur"] == "/id-mn/sub-1"
