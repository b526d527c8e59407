"""The local action over HTTP, on SQLite: a meter reading sent by the device switches the EV
charger off within one second, as the device and the charger see it."""
from __future__ import annotations

import asyncio
import json
import time

from .conftest import ENERGY, LIMIT, SWITCH

HOME = "Chome"


async def test_a_reading_over_http_switches_the_charger_off_within_a_second(http_cse):
    cse, http = http_cse

    async def call(method: str, path: str, body=None, ty=None):
        response, payload = await http.call(method, path, originator=HOME, ty=ty, body=body)
        return response.status, json.loads(payload) if payload else None

    ae = {"m2m:ae": {"rn": "home", "api": "Nhome", "rr": False, "srv": ["3"]}}
    assert (await call("POST", "/cse-in", ae, 2))[0] == 201
    assert (await call("POST", "/cse-in/home", {"cod:eneCn": {"rn": "meter", "cnd": ENERGY, "abECn": 1.0,
                                                              "power": 900.0}}, 28))[0] == 201
    assert (await call("POST", "/cse-in/home", {"cod:binSh": {"rn": "charger", "cnd": SWITCH, "state": True}},
                       28))[0] == 201
    action = {"m2m:actr": {"rn": "chargerOff", "sri": "cse-in/home/meter",
                           "evc": {"sbjt": "power", "optr": 3, "thld": LIMIT}, "evm": 3,
                           "orc": "cse-in/home/charger", "apv": {"op": 3, "pc": {"cod:binSh": {"state": False}}}}}
    status, created = await call("POST", "/cse-in/home", action, 65)
    assert status == 201, created
    started = time.perf_counter()
    assert (await call("PUT", "/cse-in/home/meter", {"cod:eneCn": {"power": LIMIT + 800}}))[0] == 200
    while (await call("GET", "/cse-in/home/charger"))[1]["cod:binSh"]["state"]:
        assert time.perf_counter() - started < 1.0, "the charger is still on after one second"
        await asyncio.sleep(0.005)
    status, stored = await call("GET", "/cse-in/home/chargerOff")
    assert stored["m2m:actr"]["air"]["rsc"] == 2004
