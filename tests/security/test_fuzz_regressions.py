"""Requests the HTTP fuzzer (test_fuzz_http.py) found mishandled, kept as regression tests.

Each was answered wrongly before its fix (no oneM2M response, 5000, or a crash)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("query", ["da=1", "sqi=true", "tqi=0", "asi=false"])
async def test_boolean_query_parameters_are_accepted(http_cse, query):
    _, client = http_cse
    response, body = await client.call("GET", f"/cse-in?{query}")
    assert response.headers["X-M2M-RSC"] == "2000", body


async def test_boolean_query_parameter_with_a_bad_value(http_cse):
    _, client = http_cse
    response, body = await client.call("GET", "/cse-in?da=maybe")
    assert response.headers["X-M2M-RSC"] == "4000" and b"'da'" in body
