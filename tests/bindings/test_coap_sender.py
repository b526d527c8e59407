"""Requests the CSE originates over CoAP (notifications to coap:// targets)."""
from __future__ import annotations

import asyncio
import socket

import aiocoap
import aiocoap.resource
import cbor2
import orjson
from aiocoap.numbers.codes import Code
from aiocoap.numbers.optionnumbers import OptionNumber

from cse.primitives import Request
from tests.conftest import free_port

from .conftest import CoapCse, option

FR, RQI, RVI, RSC, TY = 279, 283, 271, 307, 267


class NotifiedAe(aiocoap.resource.Resource):
    """An AE's CoAP server: records each request, answers 2.04 with RSC 2000."""

    def __init__(self):
        super().__init__()
        self.received: asyncio.Queue[aiocoap.Message] = asyncio.Queue()

    async def render(self, request):
        self.received.put_nowait(request)
        answer = aiocoap.Message(code=Code.CHANGED)
        answer.opt.add_option(OptionNumber(RSC).create_option(value=2000))
        answer.opt.add_option(OptionNumber(RQI).create_option(value=option(request, RQI)))
        return answer


async def start_ae() -> tuple[aiocoap.Context, NotifiedAe, int]:
    ae = NotifiedAe()
    port = free_port(socket.SOCK_DGRAM)
    context = await aiocoap.Context.create_server_context(ae, bind=("127.0.0.1", port), transports=["udp6"])
    return context, ae, port


def notification(to: str, rqi: str) -> Request:
    return Request(op=5, to=to, fr="/id-in", rqi=rqi, rvi="3",
                   pc={"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "1530"}}}, "sur": "sub1"}})


async def test_notification_to_a_bare_coap_poa_uses_the_target_as_path(coap_cse: CoapCse):
    context, ae, port = await start_ae()
    try:
        response = await coap_cse.cse.outbound.send(f"coap://127.0.0.1:{port}", notification("Capp", "n-1"))
        request = ae.received.get_nowait()
    finally:
        await context.shutdown()
    assert (response.rsc, response.rqi) == (2000, "n-1")
    assert request.code == Code.POST and request.opt.uri_path == ("Capp",)
    assert (option(request, FR), option(request, RQI), option(request, RVI)) == ("/id-in", "n-1", "3")
    assert option(request, TY) is None             # NOTIFY, not CREATE
    assert request.opt.content_format == 50
    assert orjson.loads(request.payload)["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] == "1530"


async def test_notification_uri_with_path_is_exact_and_ct_selects_cbor(coap_cse: CoapCse):
    context, ae, port = await start_ae()
    try:
        response = await coap_cse.cse.outbound.send(
            f"coap://127.0.0.1:{port}/energy/notify?ct=cbor&key=v", notification("/id-in/Capp", "n-2"))
        request = ae.received.get_nowait()
    finally:
        await context.shutdown()
    assert response.rsc == 2000
    assert request.opt.uri_path == ("energy", "notify") and request.opt.uri_query == ("key=v",)
    assert request.opt.content_format == 60 and cbor2.loads(request.payload)["m2m:sgn"]["sur"] == "sub1"


async def test_sp_relative_target_becomes_a_tilde_path(coap_cse: CoapCse):
    context, ae, port = await start_ae()
    try:
        await coap_cse.cse.outbound.send(f"coap://127.0.0.1:{port}", notification("/id-mn/Capp", "n-3"))
        request = ae.received.get_nowait()
    finally:
        await context.shutdown()
    assert request.opt.uri_path == ("~", "id-mn", "Capp")


async def test_nobody_listening_is_reported_unreachable(coap_cse: CoapCse):
    response = await coap_cse.cse.outbound.send(f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
                                                notification("Capp", "n-4"), timeout=3)
    assert response.rsc == 5103


async def test_create_sent_over_coap_reaches_a_cse(coap_cse: CoapCse):
    """The sender against a CSE's CoAP server (as forwarding will use it): TY makes it a
    CREATE, the RSC and Location-Path come back as the response and its content location."""
    coap = next(b for b in coap_cse.cse.bindings if b.name == "coap")
    request = Request(op=1, to="cse-in", fr="Cforwarded", rqi="f-1", rvi="3", ty=2,
                      pc={"m2m:ae": {"rn": "fwd", "api": "Nfwd", "rr": False, "srv": ["3"]}})
    response = await coap_cse.cse.outbound.send(coap.url, request, serialization="cbor")
    assert (response.rsc, response.rqi) == (2001, "f-1")
    assert response.pc["m2m:ae"]["aei"] == "Cforwarded"
    assert response.content_location == "cse-in/fwd"
