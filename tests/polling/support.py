"""Helpers for polling tests: an rr=false meter with its channel, polling and answering as it."""
from __future__ import annotations

import asyncio

from tests.conftest import CoreClient

SGN = {"m2m:sgn": {"sur": "/id-mn/sub1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "1530"}}}}}
PCU = "cse-in/meter/pch/pcu"


async def register(core: CoreClient, originator: str = "Cmeter", rn: str = "meter", **attributes) -> None:
    """An AE behind NAT: rr=false, no poa."""
    response = await core.create("cse-in", 2, {"m2m:ae": {"rn": rn, "api": "Nmeter", "rr": False, "srv": ["3"],
                                                          **attributes}}, fr=originator)
    assert response.rsc == 2001, response.pc


async def open_channel(core: CoreClient) -> None:
    await register(core)
    response = await core.create("cse-in/meter", 15, {"m2m:pch": {"rn": "pch"}}, fr="Cmeter")
    assert response.rsc == 2001, response.pc


async def poll(core: CoreClient, rqet: str = "5000", originator: str = "Cmeter"):
    return await core.retrieve(PCU, fr=originator, rqet=rqet)


async def answer(core: CoreClient, rqi: str, rsc: int = 2000, originator: str = "Cmeter", **members):
    return await core.request(5, PCU, originator, pc={"m2m:rsp": {"rsc": rsc, "rqi": rqi, **members}})


class Poller:
    """The AE's side on the core: fetch every request from `pcu`, record it, answer `rsc`."""

    def __init__(self, core: CoreClient, originator: str = "Cmeter", pcu: str = PCU, rsc: int = 2000):
        self.core, self.originator, self.pcu, self.rsc = core, originator, pcu, rsc
        self.requests: list[dict] = []
        self._task = None

    @property
    def notifications(self) -> list[dict]:
        return [r["pc"]["m2m:sgn"] for r in self.requests if not r["pc"]["m2m:sgn"].get("vrq")]

    def start(self) -> "Poller":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            fetched = await self.core.retrieve(self.pcu, fr=self.originator, rqet="1000")
            if fetched.rsc == 4008:
                continue
            assert fetched.rsc == 2000, fetched.pc
            rqp = fetched.pc["m2m:rqp"]
            self.requests.append(rqp)
            answer = {"m2m:rsp": {"rsc": self.rsc, "rqi": rqp["rqi"]}}
            await self.core.request(5, self.pcu, self.originator, pc=answer)
