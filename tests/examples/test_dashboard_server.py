"""The dashboard's server side against a real CSE: it registers CDashboard with its token over
the WebSocket binding, serves the page, the vendored chart library and config.json, and
refuses clearly when the token is wrong or the platform has no WebSocket binding."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from cse.auth import hash_secret
from examples.dashboard.server import DashboardServer, platform_credentials
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "page-token-for-tests"


async def platform(ws: bool = True):
    values = {"auth.credentials": {"CDashboard": [hash_secret(TOKEN, iterations=1000)]}}
    if ws:
        values.update({"ws.enabled": True, "ws.port": 0})
    cse = build_cse(make_config(**values), bindings=configured_bindings)
    await cse.start()
    return cse


def http_url(cse) -> str:
    return next(url for b in cse.bindings for url in b.poa if url.startswith("http://"))


async def test_it_registers_its_ae_and_serves_the_page_offline_and_its_config():
    cse = await platform()
    server = DashboardServer(http_url(cse), token=TOKEN)
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url) as page:
                html = await page.text()
                assert page.status == 200 and "Energy dashboard" in html
            # nothing from elsewhere: every script and style is served here
            assert "http://" not in html and "https://" not in html
            async with session.get(f"{server.url}static/vendor/uplot-1.6.32/LICENSE") as licence:
                assert licence.status == 200 and "MIT" in await licence.text()
            async with session.get(f"{server.url}static/vendor/uplot-1.6.32/uPlot.iife.min.js") as library:
                assert library.status == 200 and len(await library.read()) > 40_000
            async with session.get(f"{server.url}config.json") as config:
                body = await config.json()
            assert body["ws"].startswith("ws://127.0.0.1:") and body["originator"] == "CDashboard"
            assert body["token"] == TOKEN and body["cseId"] == "/id-in"
            headers = {"X-M2M-Origin": "CDashboard", "X-M2M-RI": "1", "X-M2M-RVI": "3",
                       "Accept": "application/json", "Authorization": f"Bearer {TOKEN}"}
            async with session.get(f"{http_url(cse)}/cse-in/dashboard", headers=headers) as registered:
                assert registered.status == 200
                assert (await registered.json(content_type=None))["m2m:ae"]["aei"] == "CDashboard"
            async with session.get(f"{server.url}static/../server.py") as escape:
                assert escape.status in (403, 404)
    finally:
        await server.stop()
        await cse.stop()


async def test_a_wrong_token_and_a_platform_without_websocket_are_refused_clearly():
    cse = await platform()
    try:
        with pytest.raises(RuntimeError, match="refused the dashboard's AE CDashboard: 4106"):
            await DashboardServer(http_url(cse), token="wrong").start()
    finally:
        await cse.stop()
    cse = await platform(ws=False)
    try:
        with pytest.raises(RuntimeError, match="no ws:// point of access"):
            await DashboardServer(http_url(cse), token=TOKEN).start()
    finally:
        await cse.stop()


def test_the_command_wants_a_token():
    done = subprocess.run([sys.executable, "-m", "examples.dashboard", "--platform", "http://127.0.0.1:9"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--token" in done.stderr and "hash-secret" in done.stderr


def test_the_demo_credentials_hold_only_a_hash(tmp_path: Path):
    token, config = platform_credentials(tmp_path)
    text = config.read_text()
    assert token not in text and text.startswith("[auth.credentials]\nCDashboard = [\"pbkdf2-sha256$")
    assert config.stat().st_mode & 0o077 == 0
