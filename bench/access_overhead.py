"""What access control costs on the hot path: CREATE contentInstance and RETRIEVE `la`
over HTTP, with the default policy (no acpi) and with an ACP that grants another AE.

    python -m bench.access_overhead [--requests N] [--concurrency C] [--json FILE]
    python -m bench.access_overhead --no-acp      # only the scenarios an ACP-less CSE can run

The CSE runs in its own process (bench.common.CseProcess); figures depend on the load of
the machine, so compare runs taken back to back.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from pathlib import Path

import aiohttp

from .common import CseProcess, Result, closed_loop, report

ADMIN = "CAdmin"
OWNER = "CbenchOwner"
READER = "CbenchReader"


def cpu_seconds(pid: int) -> float:
    """CPU time the process's threads have used (schedstat, ns resolution)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


async def measured(name: str, concurrency: int, requests: int, operation, pid: int) -> Result:
    """closed_loop plus the CSE's CPU time per request, which other load on the machine
    disturbs far less than requests per second."""
    before = cpu_seconds(pid)
    result = await closed_loop(name, concurrency, requests, operation)
    result.scenario = f"{name} [{(cpu_seconds(pid) - before) / requests * 1e6:.0f} us CPU/req]"
    return result


class Client:
    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base = base
        self.session = session
        self.rqi = itertools.count()

    async def call(self, method: str, path: str, originator: str, body: dict | None = None,
                   ty: int | None = None) -> tuple[int, dict | None]:
        headers = {"X-M2M-Origin": originator, "X-M2M-RI": f"b{next(self.rqi)}", "X-M2M-RVI": "3",
                   "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json" + (f";ty={ty}" if ty else "")
            data = json.dumps(body)
        async with self.session.request(method, self.base + path, data=data, headers=headers) as rsp:
            rsc = int(rsp.headers.get("X-M2M-RSC", "0"))
            payload = await rsp.read()
            return rsc, (json.loads(payload) if payload else None)


async def setup(client: Client, with_acp: bool) -> None:
    for originator in (OWNER, READER):
        rsc, body = await client.call("POST", "/cse-in", originator,
                                      {"m2m:ae": {"rn": originator, "api": "Nbench", "rr": False,
                                                  "srv": ["3"]}}, ty=2)
        assert rsc == 2001, (rsc, body)
    rsc, body = await client.call("POST", f"/cse-in/{OWNER}", OWNER, {"m2m:cnt": {"rn": "plain"}}, ty=3)
    assert rsc == 2001, (rsc, body)
    if with_acp:
        rsc, body = await client.call("POST", f"/cse-in/{OWNER}", OWNER, {"m2m:acp": {
            "rn": "share", "pv": {"acr": [{"acor": [OWNER], "acop": 63},
                                          {"acor": ["Cother1", "Cother2", READER], "acop": 3}]},
            "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}, ty=1)
        assert rsc == 2001 and body is not None, (rsc, body)
        acp_ri = body["m2m:acp"]["ri"]
        rsc, body = await client.call("POST", f"/cse-in/{OWNER}", OWNER,
                                      {"m2m:cnt": {"rn": "shared", "acpi": [acp_ri]}}, ty=3)
        assert rsc == 2001, (rsc, body)


async def run(requests: int, concurrency: int, with_acp: bool) -> list[Result]:
    results = []
    with CseProcess() as cse:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            client = Client(cse.url, session)
            await setup(client, with_acp)
            scenarios = [("default policy (owner)", "plain", OWNER)]
            if with_acp:
                scenarios.append(("ACP grant (other AE)", "shared", READER))
            for label, container, originator in scenarios:
                path = f"/cse-in/{OWNER}/{container}"

                async def create(i: int, path=path, originator=originator) -> bool:
                    rsc, _ = await client.call("POST", path, originator, {"m2m:cin": {"con": str(i)}}, ty=4)
                    return rsc == 2001

                async def latest(i: int, path=path, originator=originator) -> bool:
                    rsc, _ = await client.call("GET", path + "/la", originator)
                    return rsc == 2000

                pid = cse.running_pid
                results.append(await measured(f"create cin, {label}", concurrency, requests, create, pid))
                results.append(await measured(f"retrieve la, {label}", concurrency, requests, latest, pid))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-acp", action="store_true", help="skip the ACP scenarios")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    report(asyncio.run(run(args.requests, args.concurrency, not args.no_acp)), args.json)


if __name__ == "__main__":
    main()
