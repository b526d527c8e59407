"""WebSocket binding (TS-0020) against a running CSE: every operation in JSON and CBOR,
access control and authentication as over HTTP, notifications over the AE's own socket,
the bounds, and bad input."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import cbor2
import orjson
import pytest

from client import CseClient, WsNotificationReceiver, WsTransport
from cse.auth import hash_secret
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def start(**overrides: Any):
    values = {"ws.enabled": True, "ws.port": 0, "notification.retry_initial": 0.05,
              "notification.retry_max": 0.2}
    values.update(overrides)
    cse = build_cse(make_config(**values), bindings=configured_bindings)
    await cse.start()
    return cse


def ws_of(cse):
    return next(b for b in cse.bindings if b.name == "ws")


@pytest.fixture
async def cse():
    running = await start()
    try:
        yield running
    finally:
        await running.stop()


class Peer:
    """A raw WebSocket client: sends primitives, returns the primitive that answers them."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, serialization: str):
        self.socket = socket
        self.serialization = serialization
        self.requests: asyncio.Queue[dict] = asyncio.Queue()
        self.stray: list[dict] = []          # responses to no request of this call

    async def call(self, primitive: dict, timeout: float = 10.0) -> dict:
        primitive.setdefault("rqi", unique("r"))
        primitive.setdefault("rvi", "3")
        if self.serialization == "json":
            await self.socket.send_str(orjson.dumps(primitive).decode())
        else:
            await self.socket.send_bytes(cbor2.dumps(primitive))
        while True:
            answer = await self.receive(timeout)
            if "rsc" in answer and answer.get("rqi") == primitive["rqi"]:
                return answer
            if "op" in answer:
                await self.requests.put(answer)
            else:
                self.stray.append(answer)

    async def receive(self, timeout: float = 10.0) -> dict:
        message = await self.socket.receive(timeout)
        assert message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), message
        return orjson.loads(message.data) if message.type == aiohttp.WSMsgType.TEXT else cbor2.loads(message.data)


async def connect(session: aiohttp.ClientSession, cse, serialization: str = "json", **kw) -> Peer:
    socket = await session.ws_connect(ws_of(cse).url, protocols=(f"oneM2M.{serialization}",), **kw)
    assert socket.protocol == f"oneM2M.{serialization}"
    return Peer(socket, serialization)


def ae(rn: str, **extra: Any) -> dict:
    return {"m2m:ae": {"rn": rn, "api": "Nmeter", "rr": False, "srv": ["3"], **extra}}


@pytest.mark.parametrize("serialization", ["json", "cbor"])
async def test_every_operation_over_a_websocket(cse, serialization):
    me = unique("C")
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse, serialization)
        answer = await peer.call({"op": 1, "to": "cse-in", "fr": me, "ty": 2, "pc": ae("meter")})
        assert answer["rsc"] == 2001 and answer["pc"]["m2m:ae"]["aei"] == me
        assert (answer["to"], answer["fr"], answer["rvi"]) == (me, "/id-in", "3")
        answer = await peer.call({"op": 1, "to": "cse-in/meter", "fr": me, "ty": 3,
                                  "pc": {"m2m:cnt": {"rn": "power", "mni": 5}}})
        assert answer["rsc"] == 2001
        for watts in ("1530", "1610"):
            answer = await peer.call({"op": 1, "to": "cse-in/meter/power", "fr": me, "ty": 4,
                                      "pc": {"m2m:cin": {"con": watts}}})
            assert answer["rsc"] == 2001
        answer = await peer.call({"op": 2, "to": "cse-in/meter/power/la", "fr": me})
        assert (answer["rsc"], answer["pc"]["m2m:cin"]["con"]) == (2000, "1610")
        answer = await peer.call({"op": 3, "to": "cse-in/meter/power", "fr": me,
                                  "pc": {"m2m:cnt": {"lbl": ["energy"]}}})
        assert (answer["rsc"], answer["pc"]["m2m:cnt"]["lbl"]) == (2004, ["energy"])
        answer = await peer.call({"op": 2, "to": "cse-in", "fr": me, "fc": {"fu": 1, "lbl": ["energy"]}})
        assert answer["rsc"] == 2000 and answer["pc"]["m2m:uril"] == ["cse-in/meter/power"]
        answer = await peer.call({"op": 4, "to": "cse-in/meter/power", "fr": me})
        assert answer["rsc"] == 2002
        answer = await peer.call({"op": 2, "to": "cse-in/meter/power", "fr": me})
        assert answer["rsc"] == 4004
        await peer.socket.close()


async def test_access_control_is_the_same_as_over_http(cse):
    owner, other = unique("C"), unique("C")
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse)
        assert (await peer.call({"op": 1, "to": "cse-in", "fr": owner, "ty": 2, "pc": ae("home")}))["rsc"] == 2001
        assert (await peer.call({"op": 1, "to": "cse-in/home", "fr": owner, "ty": 3,
                                 "pc": {"m2m:cnt": {"rn": "private"}}}))["rsc"] == 2001
        answer = await peer.call({"op": 2, "to": "cse-in/home/private", "fr": other})
        assert answer["rsc"] == 4103 and "m2m:dbg" in answer["pc"]
        answer = await peer.call({"op": 4, "to": "cse-in/home", "fr": other})
        assert answer["rsc"] == 4103
        assert (await peer.call({"op": 2, "to": "cse-in/home/private", "fr": owner}))["rsc"] == 2000


async def test_credentials_of_the_handshake_are_checked_for_every_request():
    secret = "correct horse"
    running = await start(**{"auth.credentials": {"Csecure": [hash_secret(secret, iterations=1000)]}})
    try:
        async with aiohttp.ClientSession() as session:
            good = await connect(session, running, headers={"Authorization": f"Bearer {secret}"})
            answer = await good.call({"op": 1, "to": "cse-in", "fr": "Csecure", "ty": 2, "pc": ae("secure")})
            assert answer["rsc"] == 2001
            bad = await connect(session, running, headers={"Authorization": "Bearer wrong"})
            answer = await bad.call({"op": 2, "to": "cse-in/secure", "fr": "Csecure"})
            assert answer["rsc"] == 4106 and "does not match" in answer["pc"]["m2m:dbg"]
            none = await connect(session, running)
            answer = await none.call({"op": 2, "to": "cse-in/secure", "fr": "Csecure"})
            assert answer["rsc"] == 4106 and "must authenticate" in answer["pc"]["m2m:dbg"]
    finally:
        await running.stop()


async def test_a_bearer_token_in_the_handshake_query_is_checked_like_the_header():
    """RFC 6750 2.3: a browser cannot set Authorization on a WebSocket, so `?access_token=`."""
    token = "t0ken-for-the-page"
    running = await start(**{"auth.credentials": {"Cpage": [hash_secret(token, iterations=1000)]}})
    url = ws_of(running).url
    try:
        async with aiohttp.ClientSession() as session:
            good = Peer(await session.ws_connect(f"{url}/?access_token={token}", protocols=("oneM2M.json",)), "json")
            answer = await good.call({"op": 1, "to": "cse-in", "fr": "Cpage", "ty": 2, "pc": ae("page")})
            assert answer["rsc"] == 2001
            assert (await good.call({"op": 2, "to": "cse-in/page", "fr": "Cpage"}))["rsc"] == 2000
            bad = Peer(await session.ws_connect(f"{url}/?access_token=wrong", protocols=("oneM2M.json",)), "json")
            answer = await bad.call({"op": 2, "to": "cse-in/page", "fr": "Cpage"})
            assert answer["rsc"] == 4106 and "does not match" in answer["pc"]["m2m:dbg"]
            missing = Peer(await session.ws_connect(f"{url}/?other=1", protocols=("oneM2M.json",)), "json")
            answer = await missing.call({"op": 2, "to": "cse-in/page", "fr": "Cpage"})
            assert answer["rsc"] == 4106 and "must authenticate" in answer["pc"]["m2m:dbg"]
            for query, headers, why in ((f"access_token={token}", {"Authorization": f"Bearer {token}"}, "both"),
                                        (f"access_token={token}&access_token={token}", {}, "more than once"),
                                        ("access_token=", {}, "empty")):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(f"{url}/?{query}", protocols=("oneM2M.json",), headers=headers)
                assert refused.value.status == 400, why
    finally:
        await running.stop()


@pytest.mark.parametrize("serialization", ["json", "cbor"])
async def test_notifications_arrive_over_the_aes_own_websocket_without_poa(cse, serialization):
    transport = WsTransport(ws_of(cse).url, serialization=serialization)
    async with CseClient(ws_of(cse).url, transport=transport, cse_rn="cse-in") as app:
        receiver = WsNotificationReceiver(transport)
        registered = await app.register("Nportal", rn="portal", receiver=receiver)
        assert "poa" not in registered or registered["poa"] == []
        await app.create(app.ae_address, {"m2m:cnt": {"rn": "power"}})
        await app.subscribe(f"{app.ae_address}/power", nu=[app.originator], net=[3])
        await app.add_instance(f"{app.ae_address}/power", "1530")
        notification = await receiver.next(timeout=10)
        while notification.verification:
            notification = await receiver.next(timeout=10)
        assert notification.event == 3 and notification.resource["con"] == "1530"


async def test_a_closed_websocket_is_no_longer_a_target(cse):
    me = unique("C")
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse)
        assert (await peer.call({"op": 1, "to": "cse-in", "fr": me, "ty": 2, "pc": ae("gone")}))["rsc"] == 2001
        connection_url = cse.outbound.live_url(me)
        assert connection_url is not None and connection_url.startswith("wsconn://")
        await peer.socket.close()
        for _ in range(100):
            if cse.outbound.live_url(me) is None:
                break
            await asyncio.sleep(0.02)
        assert cse.outbound.live_url(me) is None
        assert ws_of(cse).connections == 0


async def test_rt5_gets_no_response_but_is_executed(cse):
    me = unique("C")
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse)
        assert (await peer.call({"op": 1, "to": "cse-in", "fr": me, "ty": 2, "pc": ae("quiet")}))["rsc"] == 2001
        await peer.socket.send_str(orjson.dumps({"op": 1, "to": "cse-in/quiet", "fr": me, "ty": 3, "rqi": "silent",
                                                 "rvi": "4", "rt": {"rtv": 5},
                                                 "pc": {"m2m:cnt": {"rn": "c"}}}).decode())
        for _ in range(100):                  # executed in the background (rt 5)
            answer = await peer.call({"op": 2, "to": "cse-in/quiet/c", "fr": me})
            if answer["rsc"] == 2000:
                break
            await asyncio.sleep(0.02)
        assert answer["rsc"] == 2000
        assert [a for a in peer.stray if a.get("rqi") == "silent"] == []     # no response to rt 5


async def test_bad_handshakes_are_refused_with_a_onem2m_error(cse):
    url = ws_of(cse).url.replace("ws://", "http://")
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as answer:
            assert answer.status == 400 and answer.headers["X-M2M-RSC"] == "4000"
            assert "oneM2M.json" in (await answer.json())["m2m:dbg"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(ws_of(cse).url, protocols=("oneM2M.xml",))
        assert caught.value.status == 400
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(ws_of(cse).url)


async def test_bad_messages_get_error_primitives_and_the_connection_stays_usable(cse):
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse)
        for bad in ("{nope", '{"op": 2, "rqi": "no-target"}', "[]", '{"op": 2, "to": "cse-in", "rqi": 7}'):
            await peer.socket.send_str(bad)
            answer = await peer.receive()
            assert answer["rsc"] == 4000 and answer["pc"]["m2m:dbg"], bad
        assert answer.get("rqi", "") == ""
        await peer.socket.send_str('{"op": 2, "rqi": "no-target"}')
        assert (await peer.receive())["rqi"] == "no-target"
        # A response nobody waits for is dropped quietly.
        await peer.socket.send_str('{"rsc": 2000, "rqi": "unknown"}')
        assert (await peer.call({"op": 2, "to": "cse-in", "fr": "CAdmin"}))["rsc"] == 2000


async def test_cbor_connections_refuse_text_frames(cse):
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse, "cbor")
        await peer.socket.send_str('{"op": 2, "to": "cse-in", "rqi": "t"}')
        answer = await peer.receive()
        assert answer["rsc"] == 4000 and "binary frames" in answer["pc"]["m2m:dbg"]


async def test_oversized_messages_close_the_connection_not_the_cse():
    running = await start(**{"ws.max_message_bytes": 1000})
    try:
        async with aiohttp.ClientSession() as session:
            peer = await connect(session, running)
            await peer.socket.send_str(orjson.dumps({"op": 2, "to": "cse-in", "rqi": "x", "pc": "y" * 5000}).decode())
            message = await peer.socket.receive(5)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            again = await connect(session, running)
            assert (await again.call({"op": 2, "to": "cse-in", "fr": "CAdmin"}))["rsc"] == 2000
    finally:
        await running.stop()


async def test_connections_are_capped():
    running = await start(**{"ws.max_connections": 2})
    try:
        async with aiohttp.ClientSession() as session:
            kept = [await connect(session, running), await connect(session, running)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await connect(session, running)
            assert caught.value.status == 503
            await kept[0].socket.close()
            for _ in range(100):
                if ws_of(running).connections < 2:
                    break
                await asyncio.sleep(0.02)
            third = await connect(session, running)     # a slot freed is usable again
            assert (await third.call({"op": 2, "to": "cse-in", "fr": "CAdmin"}))["rsc"] == 2000
    finally:
        await running.stop()


async def test_requests_in_flight_to_a_silent_peer_are_bounded():
    """A peer that never answers the CSE's requests holds at most max_pending_per_connection
    of them; the notifier keeps the rest in its own bounded queue."""
    running = await start(**{"ws.max_pending_per_connection": 3, "notification.timeout": 30.0})
    me = unique("C")
    try:
        async with aiohttp.ClientSession() as session:
            peer = await connect(session, running)
            assert (await peer.call({"op": 1, "to": "cse-in", "fr": me, "ty": 2, "pc": ae("mute")}))["rsc"] == 2001
            assert (await peer.call({"op": 1, "to": "cse-in/mute", "fr": me, "ty": 3,
                                     "pc": {"m2m:cnt": {"rn": "c"}}}))["rsc"] == 2001
            answer = await peer.call({"op": 1, "to": "cse-in/mute/c", "fr": me, "ty": 23,
                                      "pc": {"m2m:sub": {"rn": "s", "nu": [me], "enc": {"net": [3]}}}})
            assert answer["rsc"] == 2001, answer
            for i in range(10):
                assert (await peer.call({"op": 1, "to": "cse-in/mute/c", "fr": me, "ty": 4,
                                         "pc": {"m2m:cin": {"con": str(i)}}}))["rsc"] == 2001
            await asyncio.sleep(0.5)
            connection = next(iter(running.bindings[-1].sender.connections.values()))
            assert 1 <= len(connection._pending) <= 3
            assert peer.requests.qsize() >= 1       # the requests that were sent reached the peer
    finally:
        await running.stop()


async def test_ws_is_off_by_default_and_listed_in_poa_when_on(cse):
    assert ws_of(cse).url in cse.cse_base["poa"]
    plain = build_cse(make_config(), bindings=configured_bindings)
    await plain.start()
    try:
        assert all(b.name != "ws" for b in plain.bindings)
    finally:
        await plain.stop()


async def test_ws_urls_from_outside_are_not_accepted_as_targets(cse):
    """The CSE never opens WebSockets itself, and its internal wsconn:// URLs cannot be given."""
    me = unique("C")
    async with aiohttp.ClientSession() as session:
        peer = await connect(session, cse)
        assert (await peer.call({"op": 1, "to": "cse-in", "fr": me, "ty": 2, "pc": ae("urls")}))["rsc"] == 2001
        assert (await peer.call({"op": 1, "to": "cse-in/urls", "fr": me, "ty": 3,
                                 "pc": {"m2m:cnt": {"rn": "c"}}}))["rsc"] == 2001
        for url in ("ws://127.0.0.1:1/x", "wsconn://1"):
            answer = await peer.call({"op": 1, "to": "cse-in/urls/c", "fr": me, "ty": 23,
                                      "pc": {"m2m:sub": {"nu": [url], "enc": {"net": [3]}}}})
            assert answer["rsc"] == 4000, answer
            assert f"no binding that sends over {url.split(':')[0]}" in answer["pc"]["m2m:dbg"], answer


async def test_a_handshake_that_never_completes_is_closed_after_the_header_timeout():
    running = await start(**{"http.header_timeout": 0.3})
    try:
        binding = ws_of(running)
        reader, writer = await asyncio.open_connection("127.0.0.1", binding.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")     # and nothing more
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), 5)      # EOF (or an error answer), not a hang
        assert closed == b"" or closed.startswith(b"HTTP/1.1 4")
        writer.close()
        async with aiohttp.ClientSession() as session:          # a normal client is served meanwhile
            peer = await connect(session, running)
            assert (await peer.call({"op": 2, "to": "cse-in", "fr": "CAdmin"}))["rsc"] == 2000
    finally:
        await running.stop()
