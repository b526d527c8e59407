"""The request log: one line per request answered, on every binding, refusals with their reason."""
from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from server.logs import JsonFormatter

from .conftest import start_observed



def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cse.requests"]


@pytest.mark.parametrize("binding", ["http", "mqtt", "coap"])
async def test_one_line_per_request_with_its_fields(observed, caplog, binding):
    caplog.set_level(logging.INFO, logger="cse.requests")
    async with observed.client(binding) as client:
        caplog.clear()
        response = await client.request(2, "cse-in")
    assert response.rsc == 2000
    lines = [r for r in request_lines(caplog) if r.m2m["rqi"] == response.rqi]
    assert len(lines) == 1, [r.getMessage() for r in request_lines(caplog)]
    record = lines[0]
    fields = record.m2m
    assert (fields["binding"], fields["op"], fields["to"], fields["fr"], fields["rsc"]) == \
        (binding, "RETRIEVE", "cse-in", "CAdmin", 2000)
    assert fields["ms"] >= 0 and record.levelno == logging.INFO
    text = record.getMessage()
    assert text.startswith(f"{binding} RETRIEVE cse-in fr=CAdmin rqi={response.rqi} rsc=2000 ")
    assert text.endswith("ms")


async def test_refusals_are_logged_at_info_with_their_reason(observed, caplog):
    caplog.set_level(logging.INFO, logger="cse.requests")
    async with observed.client("http", originator="Cnobody") as client:
        missing = await client.request(2, "cse-in/not-there")
    assert missing.rsc == 4004
    (record,) = [r for r in request_lines(caplog) if r.m2m["rqi"] == missing.rqi]
    assert record.levelno == logging.INFO
    assert record.m2m["rsc"] == 4004 and "does not exist" in record.m2m["reason"]
    assert "refused: resource 'cse-in/not-there' does not exist" in record.getMessage()


async def test_a_request_the_binding_refuses_before_the_core_is_logged(observed, caplog):
    """No originator: the HTTP binding answers 4000 itself; the line still appears."""
    caplog.set_level(logging.INFO, logger="cse.requests")
    async with aiohttp.ClientSession() as session:
        async with session.get(observed.urls["http"] + "/cse-in", headers={"X-M2M-RI": "no-fr-1",
                                                                           "X-M2M-RVI": "3"}) as answer:
            assert answer.headers["X-M2M-RSC"] == "4000"
    (record,) = [r for r in request_lines(caplog) if r.m2m["rqi"] == "no-fr-1"]
    assert record.m2m["fr"] == "-" and record.m2m["rsc"] == 4000 and "originator" in record.m2m["reason"]


async def test_a_failed_authentication_is_logged_with_its_reason(tmp_path, caplog):
    from cse.auth import hash_secret
    running = await start_observed(tmp_path, **{"auth.credentials": {"Cmeter": [hash_secret("right", 1000)]},
                                                "mqtt.enabled": False})
    caplog.set_level(logging.INFO, logger="cse.requests")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(running.urls["http"] + "/cse-in", headers={
                    "X-M2M-Origin": "Cmeter", "X-M2M-RI": "auth-1", "X-M2M-RVI": "3",
                    "Authorization": "Bearer wrong"}) as answer:
                rsc = answer.headers["X-M2M-RSC"]
    finally:
        await running.cse.stop()
    (record,) = [r for r in request_lines(caplog) if r.m2m["rqi"] == "auth-1"]
    assert record.m2m["rsc"] == int(rsc) and int(rsc) >= 4000
    assert "credential" in record.m2m["reason"] and record.levelno == logging.INFO


async def test_no_request_log_writes_no_line_but_still_counts(tmp_path, caplog):
    running = await start_observed(tmp_path, **{"log.requests": False, "mqtt.enabled": False})
    caplog.set_level(logging.INFO, logger="cse.requests")
    try:
        async with running.client("http") as client:
            assert (await client.request(2, "cse-in")).rsc == 2000
        status, metrics = await running.admin_get("/metrics")
    finally:
        await running.cse.stop()
    assert request_lines(caplog) == []
    assert 'cse_requests_total{binding="http",op="RETRIEVE",rsc="2000"} 1.0' in metrics


def test_json_lines_carry_the_request_fields():
    record = logging.LogRecord("cse.requests", logging.INFO, __file__, 1, "%s", ("ignored",), None)
    record.m2m = {"binding": "coap", "op": "CREATE", "to": "cse-in/x", "fr": "Cx", "rqi": "7",
                  "rsc": 4105, "ms": 0.5, "reason": "exists"}
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "cse.requests"
    assert {k: line[k] for k in record.m2m} == record.m2m
    other = logging.LogRecord("cse", logging.WARNING, __file__, 1, "disk %s", ("full",), None)
    assert json.loads(JsonFormatter().format(other))["message"] == "disk full"
