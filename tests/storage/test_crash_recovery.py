"""The real CSE process, killed with SIGKILL right after it acknowledged writes, and stopped
with SIGTERM: after a restart on the same data directory (or PostgreSQL schema) every
acknowledged resource is there and the container counters agree with the instances
actually stored."""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal

import aiohttp
import pytest

from bench.common import CseProcess
from cse.storage import open_storage
from tests.postgres import TestSchema

ADMIN = "CAdmin"
AES = 3
WORKERS = 12
ACKS_BEFORE_KILL = 120
_rqi = itertools.count()


@pytest.fixture
def storage_url(tmp_path):
    """storage_url(backend): where that backend keeps this test's data (PostgreSQL: a fresh
    schema on the test server, dropped afterwards)."""
    schemas = []

    def url(backend: str) -> str:
        if backend == "postgresql":
            schemas.append(TestSchema())
            return schemas[-1].url
        return f"sqlite://{tmp_path / 'cse.sqlite'}" if backend == "sqlite" else f"tinydb://{tmp_path / 'tinydb'}"

    yield url
    for schema in schemas:
        schema.drop()


class Client:
    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base = base
        self.session = session

    async def call(self, method: str, path: str, originator: str = ADMIN, ty: int | None = None,
                   body: dict | None = None, params: dict | None = None) -> tuple[int, dict]:
        headers = {"X-M2M-Origin": originator, "X-M2M-RI": f"r{next(_rqi)}", "X-M2M-RVI": "3",
                   "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = f"application/json;ty={ty}"
            data = json.dumps(body)
        async with self.session.request(method, self.base + path, data=data, headers=headers,
                                        params=params) as response:
            raw = await response.read()
            return int(response.headers.get("X-M2M-RSC", "0")), (json.loads(raw) if raw else {})

    async def create(self, parent: str, ty: int, root: str, attributes: dict, originator: str = ADMIN):
        return await self.call("POST", "/" + parent, originator, ty, {root: attributes})

    async def retrieve(self, path: str, originator: str = ADMIN, **params):
        return await self.call("GET", "/" + path, originator, params=params or None)


async def write_until_killed(cse: CseProcess) -> dict:
    """Register AEs, then workers concurrently create containers and post instances; the
    process is killed from the handler of the ACKS_BEFORE_KILL-th acknowledged instance,
    while the other workers' requests are in flight."""
    acked = {"ae": [], "cnt": [], "cin": []}
    killed = asyncio.Event()

    def kill_now() -> None:
        if not killed.is_set():
            os.kill(cse.process.pid, signal.SIGKILL)
            killed.set()

    async with aiohttp.ClientSession() as session:
        client = Client(cse.url, session)
        results = await asyncio.gather(*(client.create(
            "cse-in", 2, "m2m:ae", {"rn": f"meter{i}", "api": "Nmeter", "rr": False, "srv": ["3"]},
            originator=f"Cmeter{i}") for i in range(AES)))
        assert [rsc for rsc, _ in results] == [2001] * AES
        acked["ae"] = [f"cse-in/meter{i}" for i in range(AES)]

        async def worker(number: int) -> None:
            ae = f"cse-in/meter{number % AES}"
            originator = f"Cmeter{number % AES}"
            container = f"{ae}/w{number}"
            try:
                rsc, _ = await client.create(ae, 3, "m2m:cnt", {"rn": f"w{number}"}, originator)
                assert rsc == 2001, rsc
                acked["cnt"].append(container)
                for reading in itertools.count():
                    if killed.is_set():
                        return
                    con = f"{number}:{reading}:" + "x" * (reading % 7)
                    rsc, body = await client.create(container, 4, "m2m:cin", {"con": con}, originator)
                    assert rsc == 2001, (rsc, body)
                    instance = body["m2m:cin"]
                    acked["cin"].append((f"{container}/{instance['rn']}", con, instance["cs"]))
                    if len(acked["cin"]) >= ACKS_BEFORE_KILL:
                        kill_now()
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                assert killed.is_set(), "a request failed before the CSE was killed"

        await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(WORKERS))), timeout=120)
    assert killed.is_set()
    return acked


async def check_recovered(cse: CseProcess, acked: dict) -> None:
    async with aiohttp.ClientSession() as session:
        client = Client(cse.url, session)
        for path in acked["ae"] + acked["cnt"]:
            rsc, _ = await client.retrieve(path)
            assert rsc == 2000, f"acknowledged {path} is missing after the restart"
        for path, con, cs in acked["cin"]:
            rsc, body = await client.retrieve(path)
            assert rsc == 2000, f"acknowledged instance {path} is missing after the restart"
            assert body["m2m:cin"]["con"] == con
            assert body["m2m:cin"]["cs"] == cs
        for container in acked["cnt"]:
            rsc, body = await client.retrieve(container, rcn=4)
            assert rsc == 2000
            attributes = body["m2m:cnt"]
            instances = attributes.get("m2m:cin", [])
            assert attributes["cni"] == len(instances), container
            assert attributes["cbs"] == sum(i["cs"] for i in instances), container
            if instances:
                rsc, latest = await client.retrieve(container + "/la")
                assert latest["m2m:cin"]["ri"] == instances[-1]["ri"]


@pytest.mark.parametrize("backend, durability", [("sqlite", "process"), ("tinydb", "process"),
                                                 ("tinydb", "power"), ("postgresql", "process"),
                                                 ("postgresql", "power")])
async def test_acknowledged_writes_survive_kill_9(tmp_path, storage_url, backend, durability):
    url = storage_url(backend)
    args = ("--storage", url, "--durability", durability)
    with CseProcess(*args, data_dir=str(tmp_path)) as cse:
        acked = await write_until_killed(cse)
        assert cse.process.wait(timeout=20) == -signal.SIGKILL
    assert len(acked["cin"]) >= ACKS_BEFORE_KILL
    with CseProcess(*args, data_dir=str(tmp_path)) as cse:
        await check_recovered(cse, acked)


@pytest.mark.parametrize("backend", ["sqlite", "tinydb", "postgresql"])
async def test_a_clean_restart_keeps_the_tree_and_one_cse_base(tmp_path, storage_url, backend):
    url = storage_url(backend)
    with CseProcess("--storage", url, data_dir=str(tmp_path)) as cse:
        async with aiohttp.ClientSession() as session:
            client = Client(cse.url, session)
            _, base = await client.retrieve("cse-in")
            assert (await client.create("cse-in", 2, "m2m:ae", {"rn": "meter", "api": "Nmeter", "rr": False,
                                                                "srv": ["3"]}, "Cmeter"))[0] == 2001
            assert (await client.create("cse-in/meter", 3, "m2m:cnt", {"rn": "power", "mni": 2},
                                        "Cmeter"))[0] == 2001
            for watts in (100, 200, 300):
                assert (await client.create("cse-in/meter/power", 4, "m2m:cin", {"con": str(watts)},
                                            "Cmeter"))[0] == 2001
    assert cse.process.returncode == 0

    with CseProcess("--storage", url, data_dir=str(tmp_path)) as cse:
        async with aiohttp.ClientSession() as session:
            client = Client(cse.url, session)
            rsc, again = await client.retrieve("cse-in")
            assert rsc == 2000
            assert again["m2m:cb"]["ct"] == base["m2m:cb"]["ct"]
            assert again["m2m:cb"]["ri"] == base["m2m:cb"]["ri"]
            rsc, container = await client.retrieve("cse-in/meter/power", "Cmeter", rcn=4)
            assert container["m2m:cnt"]["cni"] == 2
            assert [i["con"] for i in container["m2m:cnt"]["m2m:cin"]] == ["200", "300"]
            rsc, latest = await client.retrieve("cse-in/meter/power/la", "Cmeter")
            assert latest["m2m:cin"]["con"] == "300"
    assert cse.process.returncode == 0

    storage = open_storage(url)
    storage.open()
    try:
        bases = storage.children("")
        assert [b["ty"] for b in bases] == [5]
        assert storage.count() == 5        # CSEBase, AE, container, two instances
    finally:
        storage.close()
    if backend == "tinydb":
        directory = tmp_path / "tinydb"
        assert (directory / "db.json").stat().st_size > 0
        assert all(p.stat().st_size == 0 for p in directory.glob("journal.*"))
