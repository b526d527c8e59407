"""WebSocket binding benchmark, next to HTTP in the same run: create contentInstance and
retrieve `la` at concurrency 1 and 32, over the WebSocket binding (TS-0020, oneM2M.json) and
over HTTP, against one CSE process (SQLite), with the CSE's CPU time per request.

    python -m bench.websocket [--requests 2000] [--repeat 2] [--json out.json]

The two bindings run interleaved, scenario by scenario (HTTP, WebSocket, HTTP, ...), so a
burst of load from elsewhere on the machine hits both alike; CPU per request is the figure
to compare on a busy machine.  WebSocket workers share a few sockets (requests are matched to
answers by rqi), as a gateway multiplexing its devices would.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import sys
from typing import Any

import aiohttp
import orjson

from .common import CpuProbe, CseProcess, OneM2MHttp, Result, closed_loop, json_body, machine, merge, table, write_json

CONCURRENCY = (1, 32)
SOCKETS = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WsClient:
    """A few WebSocket connections; each request goes on the next one and waits for the
    response primitive with its rqi."""

    def __init__(self, url: str, connections: int):
        self.url = url
        self.connections = connections
        self._rqi = itertools.count(1)
        self._pending: dict[str, asyncio.Future[int]] = {}
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._readers: list[asyncio.Task] = []
        self._next = itertools.cycle(range(connections))
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "WsClient":
        self.session = aiohttp.ClientSession()
        for _ in range(self.connections):
            ws = await self.session.ws_connect(self.url, protocols=("oneM2M.json",), max_msg_size=0)
            self._sockets.append(ws)
            self._readers.append(asyncio.get_running_loop().create_task(self._read(ws)))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for ws in self._sockets:
            await ws.close()
        for reader in self._readers:
            reader.cancel()
        if self.session is not None:
            await self.session.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            answer = orjson.loads(message.data)
            future = self._pending.pop(answer.get("rqi", ""), None)
            if future is not None and not future.done():
                future.set_result(answer.get("rsc", 0))

    async def call(self, primitive_tail: str) -> int:
        """`primitive_tail`: the JSON object's members after rqi, pre-encoded."""
        rqi = f"w{next(self._rqi)}"
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[rqi] = future
        await self._sockets[next(self._next)].send_str(f'{{"rqi":"{rqi}",{primitive_tail}')
        return await asyncio.wait_for(future, 30)


async def run(requests: int, repeat: int) -> list[Result]:
    ws_port = free_port()
    results: list[Result] = []
    with CseProcess("--ws-port", str(ws_port)) as process:
        cpu = CpuProbe(process.pid)
        async with OneM2MHttp(process.url) as http, WsClient(f"ws://127.0.0.1:{ws_port}", SOCKETS) as ws:
            ae = "Cbenchws"
            reply = await http.create("/cse-in", 2, json_body({"m2m:ae": {"rn": "meter", "api": "Nbench",
                                                                         "rr": False, "srv": ["3"]}}), ae)
            assert reply.rsc == 2001, f"AE registration answered {reply.rsc}"
            for name in ("http", "ws"):
                reply = await http.create("/cse-in/meter", 3, json_body({"m2m:cnt": {"rn": name, "mni": 1000}}), ae)
                assert reply.rsc == 2001, f"container creation answered {reply.rsc}"
            body = json_body({"m2m:cin": {"cnf": "text/plain:0", "con": "1532.4"}})
            create_tail = ('"op":1,"to":"cse-in/meter/ws","fr":"Cbenchws","rvi":"3","ty":4,'
                           '"pc":{"m2m:cin":{"cnf":"text/plain:0","con":"1532.4"}}}')
            latest_tail = '"op":2,"to":"cse-in/meter/ws/la","fr":"Cbenchws","rvi":"3"}'

            async def http_create(i: int) -> bool | str:
                rsc = (await http.create("/cse-in/meter/http", 4, body, ae)).rsc
                return rsc == 2001 or f"rsc {rsc}"

            async def http_latest(i: int) -> bool | str:
                rsc = (await http.retrieve("/cse-in/meter/http/la", ae)).rsc
                return rsc == 2000 or f"rsc {rsc}"

            async def ws_create(i: int) -> bool | str:
                rsc = await ws.call(create_tail)
                return rsc == 2001 or f"rsc {rsc}"

            async def ws_latest(i: int) -> bool | str:
                rsc = await ws.call(latest_tail)
                return rsc == 2000 or f"rsc {rsc}"

            scenarios = [("http create cin", http_create), ("ws create cin", ws_create),
                         ("http retrieve la", http_latest), ("ws retrieve la", ws_latest)]
            for concurrency in CONCURRENCY:
                passes: dict[str, list[Result]] = {name: [] for name, _ in scenarios}
                for _ in range(repeat):
                    for name, operation in scenarios:
                        passes[name].append(await closed_loop(name, concurrency, requests, operation, cpu=cpu))
                for name, _ in scenarios:
                    results.append(merge(passes[name]))
                    print(table([results[-1]]).splitlines()[-1], flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.websocket", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario and pass (default 2000)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved passes per scenario (default 2)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.requests, args.repeat))
    print()
    print(table(results))
    if args.json:
        write_json(args.json, results, {"machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
