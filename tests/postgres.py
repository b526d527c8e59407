"""The PostgreSQL server for tests: the one scripts/test made sure of (CSE_TEST_POSTGRES,
default postgresql://127.0.0.1:5432/postgres), shared with other runs on the machine.

Every test gets a schema of its own (`cse_t<run>_<n>`), named uniquely per run and dropped
afterwards, so tests never see each other's rows and leave nothing behind.
"""
from __future__ import annotations

import itertools
import os
import uuid
from urllib.parse import urlsplit

import pytest

DEFAULT_URL = "postgresql://127.0.0.1:5432/postgres"
RUN_PREFIX = f"cse_t{uuid.uuid4().hex[:10]}_"
_numbers = itertools.count()


def server_url() -> str:
    return os.environ.get("CSE_TEST_POSTGRES") or DEFAULT_URL


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + f"schema={schema}"


def connect():
    """An autocommit connection to the test server (fails the test when none answers)."""
    import psycopg
    try:
        return psycopg.connect(server_url(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"no PostgreSQL at {server_url()}: {error}; run scripts/test (it finds or starts one) "
                    "or set CSE_TEST_POSTGRES=postgresql://user@host:port/database")


class TestSchema:
    """A fresh schema name on the test server; `drop()` removes it and all it holds."""

    __test__ = False

    def __init__(self):
        self.name = RUN_PREFIX + str(next(_numbers))
        self.url = with_schema(server_url(), self.name)

    def drop(self) -> None:
        with connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


def drop_run_schemas() -> None:
    """Every schema this test run made (for fixtures that cannot drop their own)."""
    with connect() as conn:
        names = [row[0] for row in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (RUN_PREFIX,))]
        for name in names:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
