"""Property-based fuzzing of the MQTT and CoAP bindings (hypothesis), as test_fuzz_http.py
does for HTTP, with the same generated content, originators and query strings.

One CSE runs in this process with the seed data of the HTTP fuzzer.
* MQTT: generated request primitives, wrapped primitives, garbage and exotic CBOR are handed
  to the binding as the broker would (topic, payload), on request and registration topics of
  every serialization; the publications it makes are captured.  (The broker hop itself is
  covered by test_mqtt.py.)  Every message on a request topic gets exactly one answer on the
  matching response topic, decodable in the topic's serialization (JSON for unsupported
  ones), a response primitive echoing the rqi, with m2m:dbg on errors.
* CoAP: generated methods, Uri-Path, Uri-Query, oneM2M options (text, bytes that are not
  UTF-8, numbers, repeated), content formats and payloads go over UDP to the binding.  Every
  request gets a response whose code matches its oneM2M-RSC option (TS-0008 table).
For both: never 5000, only the 5xxx codes the TS prescribes, no internal error logged, and
the seed data are unchanged at the end.

CSE_FUZZ_EXAMPLES / CSE_FUZZ_SEED work as for the HTTP fuzzer.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import sys
from typing import Any

import cbor2
import orjson
import pytest
from hypothesis import given, seed
from hypothesis import strategies as st

from bindings import coap_codec, coap_options
from bindings.mqtt import MqttBinding
from bindings.mqtt_topics import parse_topic
from cse.primitives import Request
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

from .test_fuzz_http import (ADMIN, ALLOWED_5XXX, FUZZER, KNOWN_RSC, PROPER_PARENT, SEED, TARGETS, TYPES,
                             _fuzz_settings, acp_attributes, cbor_exotic, good_acp, onem2m_content, originators,
                             queries, raw_bodies, typed_attributes, values)

EXAMPLES = int(os.environ.get("CSE_FUZZ_EXAMPLES", "300"))
SEGMENTS = ["cse-in", "-", "~", "_", "id-in", "seed", "power", "open", "fuzz", "box", "la", "ol", "fopt", "pcu",
            "onem2m.example.net", "", ".", "..", "r1", "Cfuzz", "cse-in#lbl"]


class ErrorLog(logging.Handler):
    """Every ERROR (or worse) anything in the CSE logs while fuzzing."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


class Harness:
    """The CSE, its CoAP binding on UDP, an MQTT binding fed directly, and a CoAP client,
    all on one event loop that the (synchronous) hypothesis tests drive."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.published: list[tuple[str, bytes]] = []
        self.codes: collections.Counter = collections.Counter()
        self.errors = ErrorLog()
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        import aiocoap
        self.cse = build_cse(make_config(**{"coap.enabled": True, "coap.port": 0,
                                            "limits.max_execution_delay": 1.0}), bindings=configured_bindings)
        await self.cse.start()
        self.coap_url = next(b for b in self.cse.bindings if b.name == "coap").url
        self.mqtt = MqttBinding(self.cse.config, self.cse.dispatcher)   # never connects
        self.mqtt.connection.publish = lambda topic, payload: self.published.append((topic, payload))
        self.coap_client = await aiocoap.Context.create_client_context(transports=["udp6"])
        for method, path, originator, ty, body in SEED:
            op = {"POST": 1, "PUT": 3}[method]
            answer = await self.cse.dispatcher.handle(Request(op=op, to=path[1:], fr=originator, rqi="seed",
                                                              rvi="3", ty=ty, pc=body))
            assert answer.rsc in (2001, 2004), (path, answer)
        logging.getLogger().addHandler(self.errors)

    def run(self, coroutine):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, 20))

    def snapshot(self) -> Any:
        answer = self.run(self.cse.dispatcher.handle(Request(op=2, to="cse-in/seed", fr=ADMIN, rqi="snap",
                                                             rvi="3", rcn=4)))
        assert answer.rsc == 2000
        return answer.pc

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)

        async def stop():
            await self.coap_client.shutdown()
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


def check_rsc(rsc: Any, detail: Any) -> None:
    assert isinstance(rsc, int) and rsc in KNOWN_RSC, (rsc, detail)
    assert rsc != 5000, detail
    if rsc >= 5000:
        assert rsc in ALLOWED_5XXX, (rsc, detail)


# -- MQTT ---------------------------------------------------------------------------------------
TIMES = st.sampled_from(["20991231T235959", "19700101T000000", "100", "-5", "abc", 5, 50, "", None])
PARAMETERS = {
    "op": st.one_of(st.integers(1, 5), st.integers(1, 5), values),
    "to": st.one_of(st.sampled_from([t[1:] for t in TARGETS]), st.sampled_from(["/id-in/cse-in/fuzz", "//x/y",
                                                                                "", "/", "cse-in/fuzz#lbl"]),
                    values),
    "fr": st.one_of(originators, values),
    "rqi": st.one_of(st.text(max_size=12), values),
    "rvi": st.one_of(st.sampled_from(["3", "2a", "1", "9"]), values),
    "ty": st.one_of(st.sampled_from([1, 2, 3, 4, 9, 23, 0, -1]), values),
    "pc": onem2m_content,
    "rcn": st.one_of(st.integers(0, 12), values),
    "rt": st.one_of(st.fixed_dictionaries({"rtv": st.integers(0, 6)}, optional={
        "nu": st.one_of(st.lists(st.sampled_from(["http://127.0.0.1:1", "Cfuzz", "mqtt://127.0.0.1:1"]),
                                 max_size=2), values)}), values),
    "fc": st.one_of(st.dictionaries(st.sampled_from(["fu", "ty", "lbl", "lim", "lvl", "cra", "atr", "x"]), values,
                                    max_size=3), values),
    "ec": st.one_of(st.integers(0, 5), values), "drt": st.one_of(st.integers(0, 3), values),
    "gid": values, "vsi": values, "rp": values,
    "ot": TIMES, "rqet": TIMES, "rset": TIMES, "oet": TIMES,
}


@st.composite
def primitives(draw):
    names = draw(st.lists(st.sampled_from(sorted(PARAMETERS)), max_size=len(PARAMETERS), unique=True))
    # Mostly the mandatory parameters, so requests reach the core and the resource types.
    for name in ("op", "to", "fr", "rqi", "rvi"):
        if name not in names and draw(st.integers(0, 9)) > 0:
            names.append(name)
    return {name: draw(PARAMETERS[name]) for name in names}


def _encode(value: Any, serialization: str) -> bytes:
    # json, not orjson: the generated integers go beyond 64 bits on purpose.
    return cbor2.dumps(value) if serialization == "cbor" else json.dumps(value).encode()


@st.composite
def plausible_primitives(draw):
    """Well-formed requests with hostile attribute values, mostly where the fuzzer has
    rights (as the HTTP fuzzer's plausible_requests), now and then one parameter wrong."""
    op = draw(st.sampled_from([1, 1, 2, 3, 4]))
    ty = draw(st.sampled_from(list(TYPES)))
    to = draw(st.one_of(st.sampled_from(TARGETS), st.sampled_from(PROPER_PARENT[ty])))[1:]
    primitive = {"op": op, "to": to, "fr": draw(st.sampled_from([FUZZER, FUZZER, "Cother"])),
                 "rqi": draw(st.text("abcdefghij0123456789", min_size=1, max_size=8)), "rvi": "3"}
    if op in (1, 3):
        attributes = draw(st.one_of(good_acp, good_acp, acp_attributes)) if ty == 1 else \
            draw(typed_attributes(ty))
        primitive["pc"] = {TYPES[ty]: attributes}
        if op == 1:
            primitive["ty"] = ty
    if draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from(sorted(PARAMETERS)))
        primitive[name] = draw(PARAMETERS[name])
    return primitive if draw(st.integers(0, 4)) == 0 else _without_surrogates(primitive)


def _without_surrogates(value: Any) -> Any:
    """Generated text may hold lone surrogates, which no UTF-8 body can carry (JSON escapes
    of them are refused, rightly): mostly replaced, so the request reaches the core."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


@st.composite
def mqtt_messages(draw):
    # Weights by explicit draws: mostly messages a confused or hostile client could send
    # through a normal MQTT library, some plain garbage.
    serialization = draw(st.sampled_from(["json", "cbor"])) if draw(st.integers(0, 9)) else \
        draw(st.sampled_from(["xml", "JSON", ""]))
    shape = draw(st.integers(0, 9))
    primitive = draw(plausible_primitives() if shape < 6 else primitives() if shape < 9 else values)
    if isinstance(primitive, dict) and draw(st.integers(0, 9)) == 0:
        primitive = {"m2m:rqp": primitive}
    inner = primitive.get("m2m:rqp", primitive) if isinstance(primitive, dict) else None
    fr = inner.get("fr") if isinstance(inner, dict) else None
    # Mostly the topic level that matches fr (else the binding refuses before the core).
    originator = fr if isinstance(fr, str) and fr and "/" not in fr and "+" not in fr else FUZZER
    if draw(st.integers(0, 9)) == 0:
        originator = draw(st.sampled_from([FUZZER, "id-in:Cfuzz", "Cother", "C", "x+y"]))
    kind = "reg_req" if draw(st.integers(0, 9)) == 0 else "req"
    garbage = draw(st.integers(0, 9))
    if garbage == 0:
        payload = draw(raw_bodies)
    elif garbage == 1:
        payload = draw(cbor_exotic.map(cbor2.dumps))
    else:
        payload = _encode(primitive, "cbor" if serialization == "cbor" else "json")
    return f"/oneM2M/{kind}/{originator}/id-in/{serialization}", payload


def check_mqtt_answer(topic: str, payload: bytes, published: list[tuple[str, bytes]]) -> int | None:
    request_topic = parse_topic(topic)
    try:
        sent = orjson.loads(payload) if request_topic.serialization == "json" else \
            cbor2.loads(payload) if request_topic.serialization == "cbor" else None
    except Exception:
        sent = None
    inner = sent.get("m2m:rqp") if isinstance(sent, dict) and len(sent) == 1 else None
    sent = inner if isinstance(inner, dict) else sent
    rt = sent.get("rt") if isinstance(sent, dict) else None
    silent_ok = (isinstance(rt, dict) and rt.get("rtv") == 5) or rt == 5
    if silent_ok and not published:
        return None   # rt 5: a successful request is not answered
    assert len(published) == 1, (topic, payload[:200], published)
    answer_topic, answer_payload = published[0]
    assert answer_topic == str(request_topic.response()), (answer_topic, topic)
    answer_format = request_topic.serialization if request_topic.serialization in ("json", "cbor") else "json"
    answer = orjson.loads(answer_payload) if answer_format == "json" else cbor2.loads(answer_payload)
    assert isinstance(answer, dict) and "op" not in answer, answer
    check_rsc(answer.get("rsc"), (topic, payload[:300], answer))
    rqi = sent.get("rqi") if isinstance(sent, dict) else None
    if isinstance(rqi, str):
        assert answer["rqi"] == rqi, (rqi, answer)
    assert isinstance(answer["rqi"], str)
    if answer["rsc"] >= 4000:
        assert isinstance(answer.get("pc", {}).get("m2m:dbg"), str), answer
    return answer["rsc"]


def test_hostile_mqtt_messages_get_one_well_formed_answer_and_change_nothing(harness):
    before = harness.snapshot()
    sent = 0

    @_fuzz_settings()
    @given(mqtt_messages())
    def one_message(message):
        nonlocal sent
        topic, payload = message
        harness.published.clear()
        harness.run(harness.mqtt._serve(topic, payload))
        sent += 1
        harness.codes[check_mqtt_answer(topic, payload, harness.published)] += 1

    if "CSE_FUZZ_SEED" in os.environ:
        one_message = seed(int(os.environ["CSE_FUZZ_SEED"]))(one_message)
    one_message()
    assert harness.snapshot() == before
    assert harness.errors.records == [], "\n".join(harness.errors.records)[-3000:]
    print(f"\nfuzz: {sent} MQTT messages; response codes {dict(harness.codes.most_common())}", file=sys.stderr)
    harness.codes.clear()


# -- CoAP ---------------------------------------------------------------------------------------
OPTION_TEXT = st.one_of(st.text(max_size=20), st.binary(max_size=6), st.sampled_from(
    ["3", "2a", FUZZER, "Cother", "20991231T235959", "100", "", "http://127.0.0.1:1"]))
OPTION_UINT = st.one_of(st.integers(0, 2**32), st.binary(max_size=9))
ONEM2M_OPTIONS = {**{number: OPTION_UINT if name in coap_codec.UINT_PARAMETERS else OPTION_TEXT
                     for name, number in coap_codec.CURRENT.items()},
                  **{number: OPTION_UINT if name in coap_codec.UINT_PARAMETERS else OPTION_TEXT
                     for name, number in coap_codec.LEGACY.items() if number < 259}}


@st.composite
def coap_requests(draw):
    from aiocoap.numbers.codes import Code
    methods = {1: Code.POST, 2: Code.GET, 3: Code.PUT, 4: Code.DELETE}
    if draw(st.integers(0, 9)) < 6:      # a plausible request, as a device library would send it
        primitive = draw(plausible_primitives())
        op = primitive.get("op")
        method = methods.get(op, Code.POST) if isinstance(op, int) and not isinstance(op, bool) else Code.POST
        to = primitive.get("to") if isinstance(primitive.get("to"), str) else "cse-in"
        path = to.split("/")
        options = {283: [primitive.get("rqi", "r")], 271: ["3"], 279: [primitive.get("fr", FUZZER)]}
        if isinstance(primitive.get("ty"), int) and primitive["ty"] >= 0:
            options[267] = [primitive["ty"]]
        options = {number: [v for v in values if isinstance(v, (str, int))] for number, values in options.items()}
        serialization = draw(st.sampled_from(["json", "cbor"]))
        body = _encode(primitive["pc"], serialization) if "pc" in primitive else None
        content_format = {"json": 50, "cbor": 60}[serialization] if body else None
        accept = None
        query = draw(queries) if draw(st.integers(0, 4)) == 0 else ""
        extra = draw(st.lists(st.sampled_from(sorted(ONEM2M_OPTIONS)), max_size=1))
    else:
        method = draw(st.sampled_from([Code.GET, Code.POST, Code.PUT, Code.DELETE, Code.FETCH, Code.iPATCH]))
        path = draw(st.one_of(st.sampled_from([t[1:].split("/") for t in TARGETS]),
                              st.lists(st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=8)), max_size=5)))
        options = {283: [draw(st.text(max_size=8))], 271: ["3"],
                   279: [draw(st.one_of(originators, st.just(FUZZER)))]}
        if method == Code.POST and draw(st.booleans()):
            options[267] = [draw(st.sampled_from([1, 2, 3, 4, 9, 23]))]
        body = draw(st.one_of(st.none(), onem2m_content.map(lambda v: json.dumps(v).encode()),
                              onem2m_content.map(cbor2.dumps), cbor_exotic.map(cbor2.dumps), raw_bodies))
        content_format = draw(st.one_of(st.none(), st.sampled_from([50, 60, 10001, 10010, 0, 41, 40, 65535])))
        accept = draw(st.one_of(st.none(), st.none(), st.sampled_from([50, 60, 10013, 0, 41])))
        query = draw(queries)
        extra = draw(st.lists(st.sampled_from(sorted(ONEM2M_OPTIONS)), max_size=4))
    for number in extra:
        value = draw(ONEM2M_OPTIONS[number])
        if draw(st.integers(0, 4)) == 0:
            options.setdefault(number, []).append(value)     # repeated
        else:
            options[number] = [value]
    return method, path, query, options, body, content_format, accept


async def send_coap(harness: Harness, method, path, query, options, body, content_format, accept):
    import aiocoap
    from aiocoap.numbers.optionnumbers import OptionNumber
    from aiocoap.optiontypes import OpaqueOption, UintOption
    message = aiocoap.Message(code=method, uri=harness.coap_url, payload=body or b"")
    message.opt.uri_path = tuple(path)
    message.opt.uri_query = tuple(part for part in query.split("&") if part) if query else ()
    if content_format is not None:
        message.opt.content_format = content_format
    if accept is not None:
        message.opt.accept = accept
    for number, entries in options.items():
        for value in entries:
            if isinstance(value, bytes):
                message.opt.add_option(OpaqueOption(OptionNumber(number), value))
            elif isinstance(value, int):
                message.opt.add_option(UintOption(OptionNumber(number), value))
            else:
                message.opt.add_option(OptionNumber(number).create_option(value=value))
    return await harness.coap_client.request(message).response


def check_coap_answer(request: tuple, answer) -> int:
    legacy = coap_options.uses_legacy(answer)
    rsc = coap_options.get(answer, "rsc", legacy)
    check_rsc(rsc, (request, answer, answer.payload[:300]))
    # The CoAP code is the TS-0008 one for that RSC (2000 depends on the operation).
    if rsc != 2000:
        assert answer.code == coap_codec.coap_code(rsc, None), (rsc, answer.code)
    if rsc >= 4000:
        kind = coap_codec.serialization_of(int(answer.opt.content_format))
        decoded = orjson.loads(answer.payload) if kind == "json" else cbor2.loads(answer.payload)
        assert isinstance(decoded.get("m2m:dbg"), str), decoded
    sent_rqi = request[3].get(283 if not legacy else 257)
    if sent_rqi and len(sent_rqi) == 1 and isinstance(sent_rqi[0], str) and sent_rqi[0]:
        echoed = coap_options.get(answer, "rqi", legacy)
        assert echoed == sent_rqi[0], (sent_rqi, echoed)
    return rsc


def test_hostile_coap_requests_get_well_formed_answers_and_change_nothing(harness):
    before = harness.snapshot()
    sent = 0

    @_fuzz_settings()
    @given(coap_requests())
    def one_request(request):
        nonlocal sent
        answer = harness.run(send_coap(harness, *request))
        sent += 1
        harness.codes[check_coap_answer(request, answer)] += 1

    if "CSE_FUZZ_SEED" in os.environ:
        one_request = seed(int(os.environ["CSE_FUZZ_SEED"]))(one_request)
    one_request()
    assert harness.snapshot() == before
    assert harness.errors.records == [], "\n".join(harness.errors.records)[-3000:]
    print(f"\nfuzz: {sent} CoAP requests; response codes {dict(harness.codes.most_common())}", file=sys.stderr)
    harness.codes.clear()
