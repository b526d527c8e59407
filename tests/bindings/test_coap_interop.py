"""Interoperability: libcoap's coap-client (another CoAP implementation, in C) drives the CSE.

RFC 7252 5.4.1 makes a client reject a response carrying critical options it does not know,
and every oneM2M response option (RSC 307, RQI 283, RVI 271) is critical.  coap-client has
no way to register them, so it logs the response it received (-v 7: code, options, payload
as libcoap decoded them) and then refuses it; the test reads that log.  It bounds the wait
for the never-accepted answer with -B 1.  Exchanges without oneM2M options
(/.well-known/core, the 2.31 Continue of each Block1 block) complete normally.
"""
from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass

import orjson
import pytest
from aiocoap.numbers.codes import Code

from .conftest import CoapCse, option, unique

CLIENTS = ("coap-client", "coap-client-notls", "coap-client-openssl", "coap-client-gnutls")
RSC, RQI = "307", "283"


def coap_client() -> str:
    for name in CLIENTS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("libcoap's coap-client is not installed and could not be installed "
                "(scripts/test tries: apt-get install libcoap3-bin)")


@dataclass
class Received:
    code: str                       # "2.01"
    options: list[tuple[str, str]]  # [("Location-Path", "cse-in"), ("307", "\\x07\\xD1"), ...]
    payload: str

    def option(self, name: str) -> str | None:
        return next((value for key, value in self.options if key == name), None)

    def uint(self, name: str) -> int | None:
        value = self.option(name)
        return int.from_bytes(_bytes(value), "big") if value is not None else None

    def text(self, name: str) -> str | None:
        value = self.option(name)
        return _bytes(value).decode() if value is not None else None


def _bytes(escaped: str) -> bytes:
    return bytes(int(h, 16) for h in re.findall(r"\\x([0-9A-Fa-f]{2})", escaped)) if "\\x" in escaped \
        else escaped.encode()


_PDU = re.compile(r"^v:1 t:(?:ACK|CON|NON) c:(\d\.\d\d) i:\w+ \{\w*\} \[ ?(.*?) ?\](?: :: '(.*)')?$")


async def run_client(*args: str) -> tuple[list[Received], str]:
    """Run coap-client with debug output; return the PDUs it received and its stdout."""
    process = await asyncio.create_subprocess_exec(
        coap_client(), "-v", "7", "-B", "1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    lines = output.decode(errors="replace").splitlines()
    received = []
    for before, line in zip(lines, lines[1:]):
        if "received" in before and (match := _PDU.match(line)):
            options = [tuple(item.split(":", 1)) for item in match.group(2).split(", ") if ":" in item]
            received.append(Received(match.group(1), options, match.group(3) or ""))
    return received, "\n".join(lines)


def onem2m(fr: str, rqi: str, ty: int | None = None) -> list[str]:
    args = ["-O", f"279,{fr}", "-O", f"283,{rqi}", "-O", "271,3"]
    if ty is not None:
        args += ["-O", f"267,0x{ty:02x}"]
    return args


async def test_libcoap_client_creates_reads_and_uploads_block_wise(coap_cse: CoapCse, tmp_path):
    me = unique("C")
    url = coap_cse.url
    answer = await coap_cse.call(Code.POST, "/cse-in", fr=me, ty=2,
                                 body={"m2m:ae": {"rn": "meter", "api": "Nm", "rr": False, "srv": ["3"]}})
    answer = await coap_cse.call(Code.POST, "/cse-in/meter", fr=me, ty=3, body={"m2m:cnt": {"rn": "power"}})
    assert option(answer, 307) == 2001
    large = "".join(f"{n:05d}," for n in range(500))            # 3000 bytes: ~48 blocks of 64
    body_file = tmp_path / "reading.json"
    body_file.write_bytes(orjson.dumps({"m2m:cin": {"con": large}}))
    other = unique("C")

    (registered, _), (uploaded, _), (listed, _), (wrong_format, _), (no_rqi, _), (core, _) = \
        await asyncio.gather(
            run_client("-m", "post", "-t", "50", *onem2m(other, "reg-lc", ty=2), "-e",
                       '{"m2m:ae":{"rn":"lcmeter","api":"Nlc","rr":false,"srv":["3"]}}', f"{url}/cse-in"),
            run_client("-m", "post", "-t", "50", "-b", "64", *onem2m(me, "up-lc", ty=4), "-f", str(body_file),
                       f"{url}/cse-in/meter/power?rcn=0"),
            run_client("-m", "get", *onem2m(me, "get-lc"), f"{url}/cse-in/meter?rcn=6&ty=3"),
            run_client("-m", "post", "-t", "0", *onem2m(me, "bad-lc", ty=3), "-e", "x", f"{url}/cse-in/meter"),
            run_client("-m", "get", "-O", f"279,{me}", f"{url}/cse-in"),
            run_client("-m", "get", f"{url}/.well-known/core"),
        )

    reply = registered[-1]
    assert (reply.code, reply.uint(RSC), reply.text(RQI)) == ("2.01", 2001, "reg-lc")
    assert ("Location-Path", "lcmeter") in reply.options
    assert orjson.loads(reply.payload)["m2m:ae"]["aei"] == other

    continues = [r for r in uploaded if r.code == "2.31"]
    blocks = -(-body_file.stat().st_size // 64)
    assert blocks > 40 and len(continues) == blocks - 1         # every block but the last
    final = uploaded[-1]
    assert (final.code, final.uint(RSC), final.text(RQI)) == ("2.01", 2001, "up-lc")
    answer = await coap_cse.call(Code.GET, "/cse-in/meter/power/la", fr=me)
    assert orjson.loads(answer.payload)["m2m:cin"]["con"] == large

    reply = listed[-1]
    assert (reply.code, reply.uint(RSC)) == ("2.05", 2000)
    assert [ref["nm"] for ref in orjson.loads(reply.payload)["m2m:rrl"]["rrf"]] == ["power"]

    reply = wrong_format[-1]
    assert (reply.code, reply.uint(RSC), reply.text(RQI)) == ("4.15", 4015, "bad-lc")
    assert "content format 0" in orjson.loads(reply.payload)["m2m:dbg"]

    reply = no_rqi[-1]
    assert (reply.code, reply.uint(RSC)) == ("4.00", 4000)
    assert "request identifier" in orjson.loads(reply.payload)["m2m:dbg"]

    assert core[-1].code == "2.05" and "</cse-in>" in core[-1].payload
