"""Opening the PostgreSQL backend's connections and its schema, and what a psycopg error
means as a StorageError: the parts of `postgresql.py` that run once per connection or per
failure, not per statement.

This module must never hold a connection: the storage owns them and passes them in.
"""
from __future__ import annotations

import logging
from typing import Any

from .base import StorageError
from .pg_schema import VERSION_TABLE, too_new_message

try:
    import psycopg
except ImportError:          # the optional "postgresql" extra is not installed
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger(__name__.rpartition(".")[0] + ".postgresql")

MIGRATION_LOCK = "onem2m-cse schema migration"


def connect(conninfo: str, url: str, synchronous_commit: str) -> "psycopg.Connection":
    """An autocommit connection with server-side prepared statements (prepare_threshold=0)."""
    options: dict[str, Any] = {}
    for name, default in (("connect_timeout", 10), ("application_name", "onem2m-cse")):
        if name + "=" not in conninfo:      # the URL's own value wins
            options[name] = default
    try:
        conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, **options)
        conn.execute(f"SET synchronous_commit = {synchronous_commit}", prepare=False)
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to PostgreSQL at {url}: {exc}") from exc
    return conn


def migrate(conn: "psycopg.Connection", schema: str, url: str, migrations: tuple[str, ...]) -> None:
    """Create or upgrade the schema, once even when several workers start together."""
    quoted = '"' + schema + '"'
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (MIGRATION_LOCK + " " + schema,), prepare=False)
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}", prepare=False)
            conn.execute(VERSION_TABLE.format(s=quoted), prepare=False)
            row = conn.execute(f"SELECT version FROM {quoted}.cse_schema_version", prepare=False).fetchone()
            version = row[0] if row else 0
            if version > len(migrations):
                raise StorageError(too_new_message(schema, version, len(migrations)))
            for step in range(version, len(migrations)):
                log.info("PostgreSQL schema %s: migrating to version %d", schema, step + 1)
                conn.execute(migrations[step].format(s=quoted), prepare=False)
            if version < len(migrations):
                conn.execute(f"INSERT INTO {quoted}.cse_schema_version(version) VALUES (%s) "
                             "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                             (len(migrations),), prepare=False)
    except psycopg.Error as exc:
        raise StorageError(f"cannot create or migrate the schema {schema!r} at {url}: {exc}") from exc


def failure(exc: Exception) -> StorageError:
    """The StorageError for a failed statement, saying whether the connection was the cause."""
    if isinstance(exc, psycopg.errors.NoDataFound):     # cse_expect() in a batched statement
        return StorageError(exc.diag.message_primary or str(exc))
    if isinstance(exc, psycopg.IntegrityError):
        return StorageError(f"constraint violated: {exc}")
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return StorageError(f"PostgreSQL failed (connection): {exc}")
    return StorageError(f"PostgreSQL failed: {exc}")
