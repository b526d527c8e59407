"""Fixtures of the security tests: a CSE with its HTTP binding built from given settings."""
from __future__ import annotations

import contextlib

import aiohttp
import pytest

from server.compose import build_cse
from tests.conftest import HttpClient, make_config


@pytest.fixture
def start_http_cse(tmp_path):
    """`async with start_http_cse(**settings) as (cse, url):` a CSE serving HTTP(S)."""
    from server.compose import configured_bindings

    @contextlib.asynccontextmanager
    async def start(**overrides):
        overrides.setdefault("storage.url", f"sqlite:///{tmp_path / 'cse.sqlite'}")
        cse = build_cse(make_config(**overrides), bindings=configured_bindings)
        await cse.start()
        try:
            http = next(b for b in cse.bindings if b.name == "http")
            yield cse, http.url
        finally:
            await cse.stop()

    return start


@contextlib.asynccontextmanager
async def client_for(url: str, **session_args):
    async with aiohttp.ClientSession(**session_args) as session:
        yield HttpClient(url, session)
