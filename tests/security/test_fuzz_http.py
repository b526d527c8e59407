"""Property-based fuzzing of the HTTP binding and the core behind it (hypothesis).

A CSE runs in its own process.  Generated requests (methods, paths, query strings, oneM2M
headers, content types, JSON and CBOR bodies, garbage bytes, deep nesting, huge numbers)
are sent by originators that have no rights on the seeded data.  For every request:

* the answer is a well-formed oneM2M response: X-M2M-RSC is a known code whose HTTP status
  matches TS-0009, X-M2M-RI echoes the request, a body decodes in its Content-Type and an
  error carries m2m:dbg;
* no 5xxx except those the TS prescribes for a situation (never 5000);
* the CSE process is still running, and never logged an internal error.
Afterwards the seeded resources are exactly as before.

The number of examples is bounded for the normal test run; CSE_FUZZ_EXAMPLES=20000 runs
longer, CSE_FUZZ_SEED=<n> repeats a run.
"""
from __future__ import annotations

import collections
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from bindings.http_codec import HTTP_STATUS, http_status
from cse.errors import RSC

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CSE_FUZZ_EXAMPLES", "300"))
ADMIN, SEED_OWNER, FUZZER = "CAdmin", "Cseed", "Cfuzz"
# 5xxx codes the TS prescribes for situations a request can cause; 5000 is never fine.
ALLOWED_5XXX = {5001, 5103, 5105, 5106, 5107, 5203, 5204, 5205, 5206, 5207, 5209}
KNOWN_RSC = {int(code) for code in RSC} | set(HTTP_STATUS)


# -- the CSE under test --------------------------------------------------------------------
class CseUnderTest:
    def __init__(self, directory: str):
        self.log = Path(directory) / "cse.log"
        config = Path(directory) / "cse.toml"
        config.write_text(f'[storage]\nurl = "sqlite:///{directory}/cse.sqlite"\n'
                          '[http]\nport = 0\nmax_body_bytes = 65536\n'
                          '[cse]\nexpiry_interval = 3600.0\n')
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "--config", str(config), "--log-level", "WARNING"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=open(self.log, "wb"), text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.process.stdout.readline()
        match = re.search(r"serving http://([\d.]+):(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the CSE did not start: {line!r} {self.log.read_text()}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.sent = 0
        self.codes: collections.Counter = collections.Counter()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            self.codes[headers.get("x-m2m-rsc")] += 1
            return response.status, headers, response.read()
        finally:
            connection.close()
            self.sent += 1

    def call(self, method: str, path: str, originator: str, body: dict | None = None,
             ty: int | None = None) -> tuple[int, dict | None]:
        headers = {"X-M2M-Origin": originator, "X-M2M-RI": "setup", "X-M2M-RVI": "3"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json" + (f";ty={ty}" if ty else "")
            data = json.dumps(body).encode()
        status, response_headers, payload = self.send(method, path, headers, data)
        return int(response_headers["x-m2m-rsc"]), (json.loads(payload) if payload else None)


SEED = [
    ("POST", "/cse-in", SEED_OWNER, 2, {"m2m:ae": {"rn": "seed", "api": "Nseed", "rr": False, "srv": ["3"],
                                                  "lbl": ["energy"]}}),
    ("POST", "/cse-in/seed", SEED_OWNER, 1, {"m2m:acp": {
        "rn": "readable", "pv": {"acr": [{"acor": [SEED_OWNER], "acop": 63}, {"acor": ["all"], "acop": 34}]},
        "pvs": {"acr": [{"acor": [SEED_OWNER], "acop": 63}]}}}),
    ("POST", "/cse-in/seed", SEED_OWNER, 3, {"m2m:cnt": {"rn": "power", "mni": 5, "lbl": ["meter:elec"]}}),
    ("POST", "/cse-in/seed", SEED_OWNER, 3, {"m2m:cnt": {"rn": "open", "acpi": ["cse-in/seed/readable"]}}),
    ("POST", "/cse-in/seed/power", SEED_OWNER, 4, {"m2m:cin": {"rn": "r1", "con": "1530"}}),
    ("POST", "/cse-in/seed/power", SEED_OWNER, 4, {"m2m:cin": {"rn": "r2", "con": {"w": 1610}}}),
    ("POST", "/cse-in/seed/open", SEED_OWNER, 4, {"m2m:cin": {"rn": "o1", "con": "tariff"}}),
    ("POST", "/cse-in", FUZZER, 2, {"m2m:ae": {"rn": "fuzz", "api": "Nfuzz", "rr": False, "srv": ["3"]}}),
    ("POST", "/cse-in/fuzz", FUZZER, 3, {"m2m:cnt": {"rn": "box"}}),
    ("POST", "/cse-in/fuzz/box", FUZZER, 4, {"m2m:cin": {"con": "x"}}),
    # The fuzzer may do anything in its area except remove it (which would end the fun).
    ("POST", "/cse-in", ADMIN, 1, {"m2m:acp": {
        "rn": "fuzzRights", "pv": {"acr": [{"acor": [FUZZER], "acop": 63 - 8}]},
        "pvs": {"acr": [{"acor": [ADMIN], "acop": 63}]}}}),
    ("PUT", "/cse-in/fuzz", ADMIN, None, {"m2m:ae": {"acpi": ["cse-in/fuzzRights"]}}),
    ("PUT", "/cse-in/fuzz/box", ADMIN, None, {"m2m:cnt": {"acpi": ["cse-in/fuzzRights"]}}),
]


def snapshot(cse: CseUnderTest) -> dict:
    rsc, tree = cse.call("GET", "/cse-in/seed?rcn=4", ADMIN)
    assert rsc == 2000
    return tree


@pytest.fixture(scope="module")
def cse():
    with tempfile.TemporaryDirectory(prefix="cse-fuzz-") as directory:
        server = CseUnderTest(directory)
        try:
            for method, path, originator, ty, body in SEED:
                rsc, answer = server.call(method, path, originator, body, ty)
                assert rsc in (2001, 2004), (path, answer)
            yield server
        finally:
            server.stop()


# -- what gets sent ----------------------------------------------------------------------------
def _is_privileged(originator: str) -> bool:
    """Originators that may change the seeded data: never generated."""
    local = originator
    for prefix in ("//onem2m.example.net/id-in/", "/id-in/"):
        if local.startswith(prefix):
            local = local[len(prefix):]
    return local in (ADMIN, SEED_OWNER, "/id-in", "//onem2m.example.net/id-in") or local == ""


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
originators = st.one_of(
    st.sampled_from([FUZZER, "Cother", "C", "S", "/id-in/Cfuzz", "/id-mn", "//x/y/z", "all", "*",
                     "Cfuzz ", " Cfuzz", "cadmin", "CAdmin2", "/id-in/CAdmin/x", "-", "/", "//"]),
    HEADER_TEXT).filter(lambda o: not _is_privileged(o.strip()))

NAMES = ["rn", "ty", "ri", "pi", "ct", "lt", "et", "lbl", "acpi", "st", "cr", "con", "cnf", "cs", "mni", "mbs",
         "mia", "cni", "cbs", "disr", "or", "api", "aei", "rr", "srv", "poa", "csz", "apn", "pv", "pvs", "acr",
         "acor", "acop", "acco", "actw", "acip", "ipv4", "ipv6", "acaf", "acod", "chty", "aclr", "nu", "enc",
         "net", "nct", "at", "aa", "daci", "ch", "m2m:atrl", "m2m:uril", "__proto__", "_path", "_own", "_org"]
ROOTS = ["m2m:ae", "m2m:cnt", "m2m:cin", "m2m:acp", "m2m:cb", "m2m:sub", "m2m:grp", "m2m:atrl", "m2m:xyz",
         "cnt", "", "m2m:dbg"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                    st.sampled_from(["20991231T235959", "19700101T000000", "C*", "all", "* * * * * * *",
                                     "10.0.0.0/8", "cse-in/seed/readable", "", "\u0000", "la", "..",
                                     "application/json:0", "PT1S"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=15)
attribute_sets = st.dictionaries(st.sampled_from(NAMES), values, max_size=6)
onem2m_content = st.one_of(st.builds(lambda root, attributes: {root: attributes},
                                     st.sampled_from(ROOTS), attribute_sets),
                           st.dictionaries(st.sampled_from(ROOTS), attribute_sets, min_size=2, max_size=3),
                           values)

cbor_exotic = st.one_of(
    st.binary(max_size=20).map(lambda b: {"m2m:cin": {"con": b}}),
    st.integers(min_value=2**64, max_value=2**80).map(lambda i: {"m2m:cnt": {"mni": i}}),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]).map(lambda f: {"m2m:cnt": {"mni": f}}),
    st.integers(0, 2**16).map(lambda tag: cbor2.CBORTag(tag, "x")),
    st.just({1: "non-text key"}),
    st.just(cbor2.undefined),
)


def _nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    return b'{"m2m:cnt":{"lbl":' + opener * depth + closer * depth + b"}}"


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"{", b"null", b"[]", b'"x"', b"1e400", b'{"m2m:cin":{"con":1e400}}',
                     b'{"m2m:cnt":{"mni":18446744073709551616}}', b'{"m2m:cnt":{"mni":-1}}',
                     b'{"m2m:cin":{"con":"\\ud800"}}', b"\xef\xbb\xbf{}", b'{"a":1,"a":2}',
                     b'{"m2m:cin":{"con":"' + b"x" * 70000 + b'"}}']),
    st.integers(1, 3000).map(lambda n: _nested(n, b"[", b"]")),
    st.integers(1, 200).map(lambda n: _nested(n, b'{"a":', b"}")),
)

bodies = st.one_of(
    st.none(),
    onem2m_content.map(lambda v: json.dumps(v).encode()),
    onem2m_content.map(cbor2.dumps),
    cbor_exotic.map(cbor2.dumps),
    raw_bodies,
)

CONTENT_TYPES = ["application/json", "application/cbor", "application/vnd.onem2m-res+json",
                 "text/plain", "application/xml", "multipart/form-data; boundary=x", "", ";", "application/json;ty",
                 "application/json; ty=", "application/json;ty=abc"]
content_types = st.one_of(
    st.sampled_from(CONTENT_TYPES),
    st.builds(lambda base, ty: f"{base};ty={ty}", st.sampled_from(CONTENT_TYPES[:4]),
              st.one_of(st.sampled_from([1, 2, 3, 4, 5, 9, 16, 23, 28, 0, -1, 99999]),
                        st.integers(-2**70, 2**70), HEADER_TEXT)),
    HEADER_TEXT)

SEGMENTS = ["cse-in", "-", "~", "_", "id-in", "id-mn", "seed", "power", "open", "readable", "fuzz", "box", "la",
            "ol", "fopt", "pcu", "ntsr", "..", ".", "%2F", "%00", "%7E", "r1", "o1", "onem2m.example.net",
            "cse-in#lbl", "%23ty", "Cseed", "Cfuzz"]
URL_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "?#%")
segments = st.one_of(st.sampled_from(SEGMENTS), st.text(URL_CHARS, max_size=12),
                     st.binary(max_size=8).map(lambda b: urllib.parse.quote(b, safe="")))
paths = st.one_of(
    st.lists(segments, max_size=6).map(lambda s: "/" + "/".join(s)),
    st.lists(segments, min_size=1, max_size=4).map(lambda s: "/~/id-in/" + "/".join(s)),
    st.lists(segments, min_size=1, max_size=4).map(lambda s: "/_/onem2m.example.net/id-in/" + "/".join(s)),
    st.sampled_from(["/", "//", "/~", "/_", "/~/", "/_/", "/cse-in/seed/power/la", "/cse-in/seed/open/la",
                     "/cse-in/fuzz/box", "/cse-in/fuzz/box/la", "/" + "a/" * 300, "/cse-in/" + "x" * 5000]))

QUERY_NAMES = ["rcn", "rt", "drt", "rp", "atrl", "da", "fu", "fo", "lim", "lvl", "ofst", "sts", "stb", "sza",
               "szb", "ty", "chty", "lbl", "cty", "cra", "crb", "ms", "us", "exa", "exb", "arp", "cfs", "cfq",
               "gmty", "op", "lbq", "smf", "", "rn", "con", "x"]
query_values = st.one_of(st.sampled_from(["1", "2", "4", "6", "8", "11", "0", "-1", "99999999999999999999999",
                                          "1+2", "a", "", "true", "20250101T000000", "energy"]),
                         st.text(max_size=20))
queries = st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=6)), query_values),
                   max_size=5).map(lambda pairs: urllib.parse.urlencode(pairs))

# (Relative times are in ms: "100" makes the CSE wait 0.1 s for an oet, "10000" would be 10 s.)
header_values = st.one_of(st.sampled_from(["", "3", "2a", "1", "5", "99", "-5", "100", "20991231T235959",
                                           "19700101T000000", "abc", "1.5", "9" * 40]), HEADER_TEXT)
optional_headers = st.fixed_dictionaries({}, optional={
    "X-M2M-RI": header_values, "X-M2M-RVI": header_values, "X-M2M-RET": header_values,
    "X-M2M-RST": header_values, "X-M2M-OET": header_values, "X-M2M-OT": header_values,
    "X-M2M-EC": header_values, "X-M2M-RTU": header_values, "X-M2M-GID": header_values,
    "X-M2M-VSI": header_values, "Accept": st.one_of(st.sampled_from(
        ["application/json", "application/cbor", "*/*", "text/html", "application/json;q=0",
         "application/cbor;q=abc, application/json;q=0.5"]), HEADER_TEXT),
    "Authorization": st.one_of(st.sampled_from(["Basic Q2Z1eno6eA==", "Bearer x", "Basic", "Negotiate"]),
                               HEADER_TEXT),
})


TARGETS = ["/cse-in", "/cse-in/fuzz", "/cse-in/fuzz/box", "/cse-in/fuzz/box/la", "/cse-in/fuzz/box/ol",
           "/cse-in/seed", "/cse-in/seed/power", "/cse-in/seed/power/la", "/cse-in/seed/open",
           "/cse-in/seed/open/la", "/cse-in/seed/readable", "/~/id-in/cse-in/fuzz", "/cse-in/fuzz/new"]
PROPER_PARENT = {1: ["/cse-in/fuzz"], 2: ["/cse-in"], 3: ["/cse-in/fuzz", "/cse-in/fuzz/box"],
                 4: ["/cse-in/fuzz/box"], 5: ["/cse-in"], 9: ["/cse-in/fuzz"], 23: ["/cse-in/fuzz/box"]}
TYPES = {1: "m2m:acp", 2: "m2m:ae", 3: "m2m:cnt", 4: "m2m:cin", 5: "m2m:cb", 23: "m2m:sub", 9: "m2m:grp"}
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
# Per attribute: values of the right type (mostly valid), and values that are not.
GOOD = {
    "rn": st.text(NAME_CHARS, min_size=1, max_size=20),
    "lbl": st.lists(st.one_of(st.text(NAME_CHARS + ":", min_size=1, max_size=12), st.just("energy")), max_size=5),
    "mni": st.integers(0, 1000), "mbs": st.integers(0, 10**6), "mia": st.integers(0, 10**6),
    "con": st.one_of(st.text(max_size=40), st.dictionaries(st.text(max_size=5), scalars, max_size=3)),
    "cnf": st.sampled_from(["application/json:0", "text/plain:0"]),
    "et": st.sampled_from(["20991231T235959", "20991231T235959,123456"]), "disr": st.booleans(),
    "or": st.text(NAME_CHARS, min_size=1, max_size=20),
    "acpi": st.lists(st.sampled_from(["cse-in/seed/readable", "cse-in/fuzzRights"]), max_size=2),
    "api": st.sampled_from(["Nfuzz", "Rfuzz.example.com"]), "rr": st.booleans(),
    "srv": st.lists(st.sampled_from(["3", "2a", "4"]), min_size=1, max_size=3),
    "poa": st.lists(st.sampled_from(["http://127.0.0.1:1", "mqtt://127.0.0.1:1"]), max_size=2),
    "nu": st.lists(st.sampled_from(["http://127.0.0.1:1/n", "Cfuzz"]), max_size=2),
}
BAD = {
    "rn": st.sampled_from(["la", "ol", "..", "a/b", "", " ", "x" * 300, "ä", "a#b"]),
    "lbl": st.one_of(st.lists(st.sampled_from(["", "a" * 300, "x y"]), min_size=1, max_size=3),
                     st.lists(st.just("l"), min_size=65, max_size=70)),
    "mni": st.one_of(st.integers(-5, -1), st.integers(2**63, 2**64)), "mbs": st.integers(-5, -1),
    "mia": st.integers(-5, -1), "con": st.just("x" * 70000),
    "cnf": st.sampled_from(["x", "a/b:9", "text/plain:0:9"]),
    "et": st.one_of(st.sampled_from(["19700101T000000", "20990230T000000", "99991231T235959", "2099-12-31"]),
                    st.text(max_size=20)),
    "disr": st.sampled_from([0, "true", None]), "or": st.sampled_from(["", 5]),
    "acpi": st.lists(st.sampled_from(["acpXXXXXXXXXX", "/id-mn/acp1", "cse-in/fuzz/box", ""]), min_size=1,
                     max_size=3),
    "api": st.sampled_from(["x", "", "N", "Q12"]), "rr": st.sampled_from(["yes", 1]),
    "srv": st.sampled_from([[], ["9"], "3"]), "poa": st.sampled_from([["ftp://x"], ["http://"], "x"]),
    "nu": st.sampled_from([[], [""], "x"]),
}
rule = st.fixed_dictionaries({}, optional={
    "acor": st.one_of(st.lists(st.sampled_from(["all", "C*", "Cfuzz", "CAdmin", "*", ""]), max_size=3), values),
    "acop": st.one_of(st.integers(-1, 70), values),
    "acco": st.one_of(st.lists(st.fixed_dictionaries({}, optional={
        "actw": st.lists(st.one_of(st.sampled_from(["* * * * * * *", "* * 8-18 * * 1-5 *", "*/0 * * * * * *",
                                                    "1-0 * * * * * *", "* * * * * 9 *"]), st.text(max_size=20)),
                         max_size=2),
        "acip": st.fixed_dictionaries({}, optional={"ipv4": st.lists(st.text(max_size=18), max_size=2),
                                                    "ipv6": st.lists(st.text(max_size=40), max_size=2)}),
        "aclr": values}), max_size=2), values),
    "acaf": values, "acod": values})
good_rule = st.fixed_dictionaries(
    {"acor": st.lists(st.sampled_from(["all", "C*", FUZZER, "Cother"]), min_size=1, max_size=2),
     "acop": st.integers(0, 63)},
    optional={"acco": st.lists(st.fixed_dictionaries({}, optional={
        "actw": st.lists(st.sampled_from(["* * * * * * *", "* * 8-18 * * 1-5 *", "*/5 0-30 * * 1,3 * 2020-2100"]),
                         max_size=2),
        "acip": st.fixed_dictionaries({}, optional={"ipv4": st.lists(st.sampled_from(["127.0.0.1", "10.0.0.0/8"]),
                                                                     max_size=2),
                                                    "ipv6": st.lists(st.sampled_from(["::1", "fd00::/8"]),
                                                                     max_size=2)})}), max_size=2),
        "acaf": st.booleans(), "acod": st.lists(st.fixed_dictionaries({}, optional={
            "ty": st.sampled_from([2, 3, 4]), "chty": st.lists(st.sampled_from([1, 3, 4]), max_size=2)}),
            max_size=2)})
good_acp = st.fixed_dictionaries({"pv": st.fixed_dictionaries({"acr": st.lists(good_rule, max_size=3)}),
                                  "pvs": st.fixed_dictionaries({"acr": st.lists(good_rule, min_size=1, max_size=2)})},
                                 optional={"rn": GOOD["rn"], "lbl": GOOD["lbl"]})
acp_attributes = st.fixed_dictionaries({}, optional={
    "pv": st.one_of(st.fixed_dictionaries({"acr": st.lists(rule, max_size=3)}), values),
    "pvs": st.one_of(st.fixed_dictionaries({"acr": st.lists(rule, max_size=3)}), values),
    "rn": values, "et": values, "lbl": values})


TYPE_ATTRIBUTES = {2: ["rn", "api", "rr", "srv", "poa", "lbl", "acpi", "et", "or"],
                   3: ["rn", "mni", "mbs", "mia", "lbl", "acpi", "et", "disr", "or"],
                   4: ["rn", "con", "cnf", "lbl", "et", "or"],
                   5: ["lbl"], 9: ["rn", "lbl"], 23: ["rn", "nu", "lbl", "et"]}


MANDATORY = {2: ["api", "rr", "srv"], 4: ["con"]}


@st.composite
def typed_attributes(draw, ty: int):
    names = draw(st.lists(st.sampled_from(TYPE_ATTRIBUTES[ty]), max_size=4, unique=True))
    names += [n for n in MANDATORY.get(ty, ()) if n not in names and draw(st.integers(0, 9)) > 0]
    attributes = {}
    for name in names:
        attributes[name] = draw(st.one_of(GOOD[name], GOOD[name], GOOD[name], GOOD[name], BAD[name], values))
    if draw(st.integers(0, 9)) == 0:
        attributes.update(draw(attribute_sets))
    return attributes


@st.composite
def plausible_requests(draw):
    """Well-formed requests with hostile attribute values, mostly where the fuzzer has rights."""
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]))
    headers = {"X-M2M-RI": draw(st.text("abcdefghij0123456789", min_size=1, max_size=8)),
               "X-M2M-RVI": "3", "X-M2M-Origin": draw(st.sampled_from([FUZZER, FUZZER, "Cother"]))}
    ty = draw(st.sampled_from(list(TYPES)))
    path = draw(st.one_of(st.sampled_from(TARGETS), st.sampled_from(PROPER_PARENT[ty]),
                          st.sampled_from(PROPER_PARENT[ty])))
    body = None
    if method in ("POST", "PUT"):
        root = TYPES[ty]
        if ty == 1:
            attributes = draw(st.one_of(good_acp, good_acp, good_acp, acp_attributes))
        else:
            attributes = draw(typed_attributes(ty))
        content = {root: attributes}
        serialization = draw(st.sampled_from(["json", "cbor"]))
        body = json.dumps(content).encode() if serialization == "json" else cbor2.dumps(content)
        headers["Content-Type"] = f"application/{serialization}" + (f";ty={ty}" if method == "POST" else "")
    # Mostly clean requests, so the attribute values reach the resource types; some mutated.
    query = draw(queries) if draw(st.integers(0, 9)) == 0 else ""
    if draw(st.integers(0, 9)) == 0:
        headers.update(draw(optional_headers))
    return method, path + ("?" + query if query else ""), headers, body


@st.composite
def wild_requests(draw):
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "GET", "POST", "PATCH", "HEAD", "OPTIONS",
                                   "FOO"]))
    path = draw(paths)
    query = draw(queries)
    headers = draw(optional_headers)
    originator = draw(st.one_of(originators, originators, originators, st.none()))
    if originator is not None:
        headers["X-M2M-Origin"] = originator
    body = draw(bodies)
    if body is not None or draw(st.booleans()):
        headers["Content-Type"] = draw(content_types)
    return method, path + ("?" + query if query else ""), headers, body


requests = st.one_of(plausible_requests(), wild_requests())


# -- what every answer must look like ------------------------------------------------------------
def check_response(method: str, headers: dict, status: int, answer: dict, payload: bytes) -> None:
    assert "x-m2m-rsc" in answer, (status, answer, payload[:200])
    rsc = int(answer["x-m2m-rsc"])
    assert rsc in KNOWN_RSC, rsc
    assert status == http_status(rsc), (status, rsc)
    assert rsc != 5000, payload[:500]
    if rsc >= 5000:
        assert rsc in ALLOWED_5XXX, (rsc, payload[:500])
    sent_rqi = headers.get("X-M2M-RI")
    unparsable = rsc == 4000 and b"malformed HTTP request" in payload
    if not unparsable:     # when the HTTP request cannot be parsed its headers are unknown
        # HTTP drops leading and trailing white space of header values.
        assert answer.get("x-m2m-ri", "") == (sent_rqi or "").strip(" \t"), (sent_rqi, answer.get("x-m2m-ri"))
    if method == "HEAD":
        return
    if payload:
        content_type = answer.get("content-type", "")
        if content_type.startswith("application/json"):
            decoded = json.loads(payload)
        else:
            assert content_type.startswith("application/cbor"), content_type
            decoded = cbor2.loads(payload)
        if rsc >= 4000:
            assert isinstance(decoded, dict) and isinstance(decoded.get("m2m:dbg"), str), decoded
    else:
        assert rsc < 4000, f"error {rsc} without m2m:dbg"


def _fuzz_settings():
    options = dict(max_examples=EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much, HealthCheck.large_base_example])
    return settings(**options)


def test_hostile_requests_get_well_formed_answers_and_change_nothing(cse):
    before = snapshot(cse)

    @_fuzz_settings()
    @given(requests)
    def one_request(request):
        method, path, headers, body = request
        status, answer, payload = cse.send(method, path, headers, body)
        assert cse.alive(), "the CSE process died"
        check_response(method, headers, status, answer, payload)

    if "CSE_FUZZ_SEED" in os.environ:
        one_request = seed(int(os.environ["CSE_FUZZ_SEED"]))(one_request)
    one_request()
    assert cse.alive()
    assert snapshot(cse) == before
    log = cse.log.read_text(errors="replace")
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    print(f"\nfuzz: {cse.sent} HTTP requests sent, {EXAMPLES} examples; response codes: "
          f"{dict(cse.codes.most_common())}", file=sys.stderr)
