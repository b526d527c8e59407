"""/metrics (Prometheus text format) and /health on the admin listener."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cse.auth import hash_secret, new_token
from cse.config import ConfigError
from tests.conftest import free_port, make_config

from .conftest import start_observed


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, parsed as Prometheus would."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_requests_are_counted_by_binding_op_and_rsc(observed):
    for binding in ("http", "mqtt", "coap"):
        async with observed.client(binding) as client:
            assert (await client.request(2, "cse-in")).rsc == 2000
            assert (await client.request(2, "cse-in/absent")).rsc == 4004
    status, text = await observed.admin_get("/metrics")
    assert status == 200
    found = samples(text)
    for binding in ("http", "mqtt", "coap"):
        assert found[("cse_requests_total", (("binding", binding), ("op", "RETRIEVE"), ("rsc", "2000")))] == 1
        assert found[("cse_requests_total", (("binding", binding), ("op", "RETRIEVE"), ("rsc", "4004")))] == 1
        assert found[("cse_request_duration_seconds_count", (("binding", binding), ("op", "RETRIEVE")))] == 2
        inf = found[("cse_request_duration_seconds_bucket", (("binding", binding), ("le", "+Inf"), ("op", "RETRIEVE")))]
        assert inf == 2


async def test_state_metrics(observed):
    async with observed.client("http", originator="Cmeter") as meter:
        await meter.register("Nmeter", rn="meter")
        await meter.create("cse-in/meter", {"m2m:cnt": {"rn": "power"}})
    found = samples((await observed.admin_get("/metrics"))[1])
    assert found[("cse_registered", (("kind", "ae"),))] == 1
    assert found[("cse_registered", (("kind", "cse"),))] == 0
    assert found[("cse_storage_commit_seconds_count", ())] >= 3
    assert found[("cse_sqlite_wal_bytes", ())] > 0
    assert found[("cse_connections", (("binding", "mqtt"),))] == 1
    assert ("cse_connections", (("binding", "http"),)) in found
    for outcome in ("delivered", "rejected", "dropped"):
        assert ("cse_notifications_total", (("outcome", outcome),)) in found
    assert ("cse_notification_queue_depth", ()) in found


async def test_notification_outcomes_are_counted(observed):
    from client import NotificationReceiver
    async with NotificationReceiver() as receiver, observed.client("http", originator="Cwatch") as watch:
        await watch.register("Nwatch", rn="watch")
        await watch.create("cse-in/watch", {"m2m:cnt": {"rn": "c"}})
        await watch.create("cse-in/watch/c", {"m2m:sub": {"nu": [receiver.url], "enc": {"net": [3]}}})
        await watch.add_instance("cse-in/watch/c", "1")
        await receiver.next(timeout=10)
        for _ in range(50):
            found = samples((await observed.admin_get("/metrics"))[1])
            if found[("cse_notifications_total", (("outcome", "delivered"),))] >= 1:
                break
            await asyncio.sleep(0.1)
    assert found[("cse_notifications_total", (("outcome", "delivered"),))] >= 1


async def test_health_is_ready_with_storage_and_broker(observed):
    status, body = await observed.admin_get("/health")
    health = json.loads(body)
    assert status == 200 and health["ready"] and health["live"]
    assert health["checks"]["storage"]["ok"] and health["checks"]["broker"]["ok"]
    status, body = await observed.admin_get("/health/live")
    assert status == 200 and json.loads(body) == {"live": True}


async def test_not_ready_while_the_broker_is_unreachable(tmp_path):
    running = await start_observed(tmp_path, **{"mqtt.port": free_port(), "mqtt.connect_wait": 0.0})
    try:
        status, body = await running.admin_get("/health/ready")
        health = json.loads(body)
        assert status == 503 and health["ready"] is False and health["live"] is True
        assert health["checks"]["broker"]["ok"] is False and "not connected" in health["checks"]["broker"]["detail"]
        assert health["checks"]["storage"]["ok"] is True
        assert (await running.admin_get("/health/live"))[0] == 200
    finally:
        await running.cse.stop()


async def test_not_ready_while_not_registered_with_the_registrar(tmp_path):
    running = await start_observed(tmp_path, **{
        "mqtt.enabled": False, "cse.type": "MN", "registrar.url": f"http://127.0.0.1:{free_port()}",
        "registrar.cse_id": "/id-in", "registrar.retry_min": 0.1, "registrar.timeout": 1.0})
    try:
        status, body = await running.admin_get("/health")
        registrar = json.loads(body)["checks"]["registrar"]
        assert status == 503 and registrar["ok"] is False and "not registered with /id-in" in registrar["detail"]
    finally:
        await running.cse.stop()


async def test_the_admin_token_is_required_when_set(tmp_path):
    token = new_token()
    running = await start_observed(tmp_path, **{"mqtt.enabled": False, "admin.token": hash_secret(token, 1000)})
    try:
        assert (await running.admin_get("/metrics"))[0] == 401
        assert (await running.admin_get("/health", {"Authorization": "Bearer wrong"}))[0] == 401
        status, text = await running.admin_get("/metrics", {"Authorization": f"Bearer {token}"})
        assert status == 200 and "cse_requests" in text
        assert (await running.admin_get("/health", {"Authorization": f"Bearer {token}"}))[0] == 200
    finally:
        await running.cse.stop()


async def test_the_admin_listener_is_not_the_onem2m_port(observed):
    async with aiohttp.ClientSession() as session:
        async with session.get(observed.urls["http"] + "/metrics",
                               headers={"X-M2M-Origin": "CAdmin", "X-M2M-RI": "m", "X-M2M-RVI": "3"}) as answer:
            assert answer.headers["X-M2M-RSC"] == "4004"


@pytest.mark.parametrize("values, message", [
    ({"admin.enabled": True, "admin.host": "0.0.0.0"}, "not a loopback address: set admin.token"),
    ({"admin.token": "plain"}, "admin.token"),
    ({"admin.port": 70000}, "admin.port 70000 is not a TCP port"),
    ({"log.format": "xml"}, "log.format must be 'text' or 'json'"),
    ({"log_level": "LOUD"}, "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
])
def test_bad_settings_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        make_config(**values)


def test_commit_times_fall_in_the_bucket_of_their_upper_bound():
    from cse.storage.commit_times import CommitTimes
    times = CommitTimes()
    for seconds in (0.0005, 0.0006, 3.0):
        times.add(seconds)
    assert times.counts[0] == 1 and times.counts[1] == 1 and times.counts[-1] == 1
    assert times.count == 3 and abs(times.total_seconds - 3.0011) < 1e-9
