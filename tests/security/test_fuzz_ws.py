"""Property-based fuzzing of the WebSocket binding (hypothesis), with the generated primitives,
content and garbage of the MQTT fuzzer, sent over a real WebSocket in text and binary frames.

Every message gets at most one answer, and exactly one unless it asked for none (rt 5): a
decodable response primitive with a known rsc (never 5000, only the 5xxx codes the TS
prescribes), echoing a string rqi, with m2m:dbg on errors; the connection stays usable, no
internal error is logged, and the seed data are unchanged at the end.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import sys
from typing import Any

import aiohttp
import cbor2
import orjson
import pytest
from hypothesis import given, seed
from hypothesis import strategies as st

from cse.primitives import Request
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

from .test_fuzz_http import ADMIN, SEED, _fuzz_settings, cbor_exotic, raw_bodies, values
from .test_fuzz_mqtt_coap import ErrorLog, _encode, check_rsc, plausible_primitives, primitives


class Harness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.codes: collections.Counter = collections.Counter()
        self.errors = ErrorLog()
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        self.cse = build_cse(make_config(**{"ws.enabled": True, "ws.port": 0, "limits.max_execution_delay": 1.0,
                                            "notification.timeout": 0.5}), bindings=configured_bindings)
        await self.cse.start()
        for method, path, originator, ty, body in SEED:
            op = {"POST": 1, "PUT": 3}[method]
            answer = await self.cse.dispatcher.handle(Request(op=op, to=path[1:], fr=originator, rqi="seed",
                                                              rvi="3", ty=ty, pc=body))
            assert answer.rsc in (2001, 2004), (path, answer)
        url = next(b for b in self.cse.bindings if b.name == "ws").url
        self.session = aiohttp.ClientSession()
        self.sockets = {s: await self.session.ws_connect(url, protocols=(f"oneM2M.{s}",)) for s in ("json", "cbor")}
        logging.getLogger().addHandler(self.errors)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, 20))

    async def exchange(self, serialization: str, frame: bytes | str, silent_ok: bool) -> list[dict]:
        """Send one message; the answers to it (requests the CSE sends us are left unanswered)."""
        socket = self.sockets[serialization]
        if isinstance(frame, str):
            await socket.send_str(frame)
        else:
            await socket.send_bytes(frame)
        probe = {"op": 2, "to": "cse-in", "fr": ADMIN, "rqi": "probe", "rvi": "3"}
        answers: list[dict] = []
        probed = False
        while True:
            message = await socket.receive(10)
            assert message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), (frame, message)
            data = orjson.loads(message.data) if serialization == "json" else cbor2.loads(message.data)
            assert isinstance(data, dict), data
            if "op" in data:
                continue
            if data.get("rqi") == "probe" and probed:
                assert data["rsc"] == 2000           # the connection is still usable
                return answers
            answers.append(data)
            if not silent_ok and not probed:
                probed = True
                await socket.send_str(orjson.dumps(probe).decode()) if serialization == "json" else \
                    await socket.send_bytes(cbor2.dumps(probe))
            if silent_ok and not probed:
                probed = True
                await socket.send_str(orjson.dumps(probe).decode()) if serialization == "json" else \
                    await socket.send_bytes(cbor2.dumps(probe))

    def snapshot(self) -> Any:
        answer = self.run(self.cse.dispatcher.handle(Request(op=2, to="cse-in/seed", fr=ADMIN, rqi="snap",
                                                             rvi="3", rcn=4)))
        assert answer.rsc == 2000
        return answer.pc

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)

        async def stop() -> None:
            for socket in self.sockets.values():
                await socket.close()
            await self.session.close()
            await self.cse.stop()
        self.loop.run_until_complete(stop())
        self.loop.close()


@pytest.fixture(scope="module")
def harness():
    running = Harness()
    try:
        yield running
    finally:
        running.close()


@st.composite
def ws_messages(draw):
    serialization = draw(st.sampled_from(["json", "cbor"]))
    shape = draw(st.integers(0, 9))
    primitive = draw(plausible_primitives() if shape < 6 else primitives() if shape < 9 else values)
    if isinstance(primitive, dict) and draw(st.integers(0, 9)) == 0:
        primitive = {"m2m:rqp": primitive}
    garbage = draw(st.integers(0, 9))
    frame: bytes | str
    if garbage == 0:
        frame = draw(raw_bodies)
    elif garbage == 1:
        frame = cbor2.dumps(draw(cbor_exotic))
    else:
        frame = _encode(primitive, serialization)
    if serialization == "json" and isinstance(frame, bytes) and draw(st.booleans()):
        frame = frame.decode("utf-8", "replace")          # mostly text frames on JSON connections
    if isinstance(primitive, dict):
        inner = primitive.get("m2m:rqp", primitive)
    else:
        inner = None
    rt = inner.get("rt") if isinstance(inner, dict) else None
    silent_ok = garbage > 1 and ((isinstance(rt, dict) and rt.get("rtv") == 5) or rt == 5)
    rqi = inner.get("rqi") if isinstance(inner, dict) and garbage > 1 else None
    return serialization, frame, silent_ok, rqi


def test_hostile_websocket_messages_get_one_well_formed_answer_and_change_nothing(harness):
    before = harness.snapshot()
    sent = 0

    @_fuzz_settings()
    @given(ws_messages())
    def one_message(message):
        nonlocal sent
        serialization, frame, silent_ok, rqi = message
        answers = harness.run(harness.exchange(serialization, frame, silent_ok))
        sent += 1
        assert len(answers) <= 1 if silent_ok else len(answers) == 1, (frame[:200], answers)
        for answer in answers:
            check_rsc(answer.get("rsc"), (frame[:300], answer))
            assert isinstance(answer.get("rqi"), str), answer
            if isinstance(rqi, str):
                assert answer["rqi"] == rqi, (rqi, answer)
            if answer["rsc"] >= 4000:
                assert isinstance(answer.get("pc", {}).get("m2m:dbg"), str), answer
            harness.codes[answer["rsc"]] += 1

    if "CSE_FUZZ_SEED" in os.environ:
        one_message = seed(int(os.environ["CSE_FUZZ_SEED"]))(one_message)
    one_message()
    assert harness.snapshot() == before
    assert harness.errors.records == [], "\n".join(harness.errors.records)[-3000:]
    print(f"\nfuzz: {sent} WebSocket messages; response codes {dict(harness.codes.most_common())}",
          file=sys.stderr)
