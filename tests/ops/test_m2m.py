"""`m2m`, driven as a user drives it: a subprocess against a CSE process, over HTTP, MQTT, CoAP and
WebSocket."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cse.auth import hash_secret
from tests.bindings.brokers import shared_broker
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class CseProcess:
    def __init__(self, directory: Path, *extra: str):
        broker = shared_broker()
        self.cse_id = "/m" + uuid.uuid4().hex[:10]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--data-dir", str(directory), "--log-level", "WARNING",
             "--cse-id", self.cse_id, "--mqtt-host", broker.host, "--mqtt-port", str(broker.port),
             "--coap-port", "0", "--ws-port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        line = self.process.stdout.readline()
        self.urls = {match.group(1): match.group(0) for match in re.finditer(r"(http|mqtt|coap|ws)://\S+", line)}
        if "http" not in self.urls:
            self.stop()
            raise RuntimeError(f"the CSE did not start: {line!r}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def cse(tmp_path_factory):
    running = CseProcess(tmp_path_factory.mktemp("m2m"))
    yield running
    running.stop()


def m2m(cse: CseProcess | None, *args: str, binding: str = "http", stdin: str | None = None,
        url: str | None = None) -> subprocess.CompletedProcess:
    where = ["--url", url or cse.urls[binding]] + (["--cse-id", cse.cse_id] if cse else [])
    return subprocess.run([sys.executable, "-m", "client.m2m", *where, *args], capture_output=True, text=True,
                          input=stdin, timeout=60, cwd=ROOT)


def ok(done: subprocess.CompletedProcess):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("binding", ["http", "mqtt", "coap", "ws"])
def test_register_create_retrieve_update_discover_delete(cse, binding):
    ae = "C" + binding + uuid.uuid4().hex[:6]
    me = ("-o", ae)
    registered = ok(m2m(cse, *me, "register", "Nm2m", "--rn", ae, binding=binding))["m2m:ae"]
    assert registered["aei"] == ae and registered["api"] == "Nm2m"
    container = ok(m2m(cse, *me, "create", f"cse-in/{ae}", '{"m2m:cnt": {"rn": "power", "lbl": ["zone:7"]}}',
                       binding=binding))["m2m:cnt"]
    assert container["rn"] == "power"
    reading = ok(m2m(cse, *me, "create", f"cse-in/{ae}/power", "-", stdin='{"m2m:cin": {"con": "1530"}}',
                     binding=binding))["m2m:cin"]
    assert reading["con"] == "1530"
    assert ok(m2m(cse, *me, "retrieve", f"cse-in/{ae}/power/la", binding=binding))["m2m:cin"]["con"] == "1530"
    children = ok(m2m(cse, *me, "retrieve", f"cse-in/{ae}/power", "--rcn", "4", binding=binding))
    assert children["m2m:cnt"]["m2m:cin"][0]["con"] == "1530"
    updated = ok(m2m(cse, *me, "update", f"cse-in/{ae}/power", '{"m2m:cnt": {"mni": 5}}', binding=binding))
    assert updated["m2m:cnt"]["mni"] == 5
    found = ok(m2m(cse, *me, "discover", f"cse-in/{ae}", "--ty", "3", "--lbl", "zone:7", binding=binding))
    assert found == {"m2m:uril": [f"cse-in/{ae}/power"]}
    assert ok(m2m(cse, *me, "discover", f"cse-in/{ae}", "--fc", "ty=4", binding=binding))["m2m:uril"] == \
        [f"cse-in/{ae}/power/{reading['rn']}"]
    deleted = m2m(cse, *me, "delete", f"cse-in/{ae}", binding=binding)
    assert deleted.returncode == 0, deleted.stderr
    gone = m2m(cse, *me, "retrieve", f"cse-in/{ae}", binding=binding)
    assert gone.returncode == 1 and gone.stderr.startswith("m2m: 4004 ")


def test_full_prints_the_response_primitive(cse):
    primitive = ok(m2m(cse, "retrieve", "cse-in", "--full", "--rvi", "4"))
    assert primitive["rsc"] == 2000 and primitive["rqi"] and primitive["pc"]["m2m:cb"]["csi"] == cse.cse_id


def test_attributes_and_filter_criteria(cse):
    base = ok(m2m(cse, "retrieve", "cse-in", "--attributes", "csi,cst"))["m2m:cb"]
    assert base == {"csi": cse.cse_id, "cst": 1}


@pytest.mark.parametrize("args, status, message", [
    (["create", "cse-in", "{not json"], 2, "m2m: the content is not JSON"),
    (["create", "cse-in", '{"x:y": {}}'], 2, "m2m: no resource type known for 'x:y': give --ty"),
    (["discover", "cse-in", "--fc", "novalue"], 2, "m2m: --fc takes NAME=VALUE"),
    (["create", "cse-in", "@/nonexistent.json"], 2, "m2m: cannot read the content from /nonexistent.json"),
    (["--user", "nopassword", "retrieve", "cse-in"], 2, "m2m: --user takes ORIGINATOR:PASSWORD"),
    (["-o", "Cnobody", "delete", "cse-in"], 1, "m2m: 4"),
])
def test_bad_use_and_refusals(cse, args, status, message):
    done = m2m(cse, *args)
    assert done.returncode == status and done.stderr.startswith(message), done.stderr


def test_an_unreachable_cse(cse):
    done = m2m(None, "retrieve", "cse-in", url=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 3 and "is not reachable" in done.stderr
    done = m2m(None, "retrieve", "cse-in", url="gopher://127.0.0.1:70")
    assert done.returncode == 2 and "no client transport for 'gopher'" in done.stderr


def test_subscribe_prints_notifications_then_removes_its_subscription(cse):
    ae = "Csub" + uuid.uuid4().hex[:6]
    ok(m2m(cse, "-o", ae, "register", "Nsub", "--rn", ae))
    ok(m2m(cse, "-o", ae, "create", f"cse-in/{ae}", '{"m2m:cnt": {"rn": "c"}}'))
    listener = subprocess.Popen([sys.executable, "-m", "client.m2m", "--url", cse.urls["http"], "-o", ae,
                                 "subscribe", f"cse-in/{ae}/c", "--net", "3", "--count", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert "m2m: subscribed" in listener.stderr.readline()
        ok(m2m(cse, "-o", ae, "create", f"cse-in/{ae}/c", '{"m2m:cin": {"con": "one"}}', binding="coap"))
        ok(m2m(cse, "-o", ae, "create", f"cse-in/{ae}/c", '{"m2m:cin": {"con": "two"}}', binding="mqtt"))
        out, _ = listener.communicate(timeout=30)
    finally:
        listener.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["rep"]["m2m:cin"]["con"] for line in lines] == ["one", "two"]
    assert all(line["net"] == 3 and line["sur"] for line in lines)
    assert listener.returncode == 0
    subscriptions = ok(m2m(cse, "-o", ae, "discover", f"cse-in/{ae}", "--ty", "23"))
    assert subscriptions == {"m2m:uril": []}


def test_credentials(tmp_path):
    config = tmp_path / "cse.toml"
    config.write_text(f'[auth.credentials]\nCmeter = ["{hash_secret("s3cret", 1000)}"]\n')
    running = CseProcess(tmp_path / "data", "--config", str(config), "--no-mqtt")
    try:
        refused = m2m(running, "-o", "Cmeter", "register", "Nmeter", "--rn", "meter")
        assert refused.returncode == 1 and refused.stderr.startswith("m2m: 4")
        registered = m2m(running, "-o", "Cmeter", "--user", "Cmeter:s3cret", "register", "Nmeter", "--rn", "meter")
        assert ok(registered)["m2m:ae"]["aei"] == "Cmeter"
        wrong = m2m(running, "-o", "Cmeter", "--user", "Cmeter:wrong", "retrieve", "cse-in/meter")
        assert wrong.returncode == 1 and "credential" in wrong.stderr
        over_coap = m2m(running, "-o", "Cmeter", "--user", "Cmeter:s3cret", "retrieve", "cse-in", binding="coap")
        assert over_coap.returncode == 2 and "credentials travel only over HTTP" in over_coap.stderr
    finally:
        running.stop()
