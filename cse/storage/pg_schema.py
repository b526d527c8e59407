"""The PostgreSQL schema of the CSE: the tables, their indexes, and the migration steps the
CSE applies itself when it opens a database.

The schema lives in one PostgreSQL schema (namespace), `public` unless the storage URL says
`?schema=NAME`, so that several CSEs (or test runs) can share one database.  Its table
`cse_schema_version` holds one row: the number of migration steps applied.  Opening applies
the missing steps in order, in one transaction, under an advisory lock, so that several
CSE workers starting at once migrate once; a database whose version is newer than this code
knows is refused with a clear message (it was written by a newer CSE).

Why these indexes (each keeps one access path independent of how much is stored):
    resources_ri (unique)        get(ri); the database enforces unique resource IDs
    resources_path (unique)      get_by_path, subtree ranges for descendants/delete_subtree;
                                 unique structured paths (so unique rn per parent)
    resources_children           (pi, ty, seq): children in creation order, la/ol (edge_child),
                                 removing the oldest instance, child_stats
    resources_type               (ty, path): discovery by type within a subtree
    resources_expiry (partial)   et of resources that expire: the reaper's scan
    labels (lbl, path) + ri      discovery by label within a subtree; label maintenance
The table cse_flush_barrier has one row per barrier connection (pg_flush.py): a barrier must
write WAL, or PostgreSQL commits it without waiting for the flush.  cse_expect() fails a
batched statement whose UPDATE found no row (pg_batch.py).
All text columns use the "C" collation: subtree ranges ("a/b/" .. "a/b0") and timestamp
comparisons need plain byte order, whatever the database's default collation is.

This module must never hold data or connections: it only says what the schema is, how a
URL names it, and the SQL of each storage method.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import StorageError

# Each step takes the schema from version N to N+1; "{s}" is the quoted schema name.
# Never edit a released step: add a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: the resource table and the label index, as in the SQLite backend.
    """
    CREATE TABLE {s}.resources (
        seq   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ri    text COLLATE "C" NOT NULL,
        pi    text COLLATE "C" NOT NULL,
        ty    integer NOT NULL,
        path  text COLLATE "C" NOT NULL,
        depth integer NOT NULL,
        et    text COLLATE "C",
        cs    bigint,
        doc   bytea NOT NULL
    );
    CREATE UNIQUE INDEX resources_ri ON {s}.resources (ri);
    CREATE UNIQUE INDEX resources_path ON {s}.resources (path);
    CREATE INDEX resources_children ON {s}.resources (pi, ty, seq);
    CREATE INDEX resources_type ON {s}.resources (ty, path);
    CREATE INDEX resources_expiry ON {s}.resources (et) WHERE et IS NOT NULL;
    CREATE TABLE {s}.labels (
        lbl  text COLLATE "C" NOT NULL,
        path text COLLATE "C" NOT NULL,
        ri   text COLLATE "C" NOT NULL,
        PRIMARY KEY (lbl, path)
    );
    CREATE INDEX labels_ri ON {s}.labels (ri);
    CREATE TABLE {s}.cse_flush_barrier (
        pid     integer PRIMARY KEY,
        flushes bigint NOT NULL
    );
    CREATE FUNCTION {s}.cse_expect(matched bigint, message text) RETURNS bigint
    LANGUAGE plpgsql AS $$
    BEGIN
        IF matched = 0 THEN
            RAISE EXCEPTION USING MESSAGE = message, ERRCODE = 'no_data_found';
        END IF;
        RETURN matched;
    END $$;
    """,
)

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS {s}.cse_schema_version (
    version integer NOT NULL,
    one     boolean PRIMARY KEY DEFAULT true CHECK (one)
)
"""

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def valid_schema_name(name: str) -> bool:
    """Lower-case letters, digits and '_' (a plain SQL identifier, up to 63 characters)."""
    return bool(_SCHEMA_NAME.match(name))


def too_new_message(schema: str, found: int, known: int) -> str:
    return (f"the PostgreSQL schema {schema!r} has version {found}, newer than this CSE knows "
            f"(up to {known}): it was written by a newer CSE version; run that version, or point "
            f"the storage URL at another database or ?schema=")


def split_url(url: str) -> tuple[str, str, str]:
    """postgresql://user:pw@host:port/db?schema=NAME&<libpq options> ->
    (URL for libpq without `schema`, schema, URL to show: password masked)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StorageError(f"not a PostgreSQL URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = "public"
    kept = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if not valid_schema_name(schema):
        raise StorageError(f"storage URL: schema {schema!r} is not a plain lower-case SQL name "
                           f"(letters, digits, '_', at most 63)")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    shown = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return conninfo, schema, shown


def statements(schema: str) -> dict[str, str]:
    r = f"{schema}.resources"
    lb = f"{schema}.labels"
    cols = "ri, pi, ty, path, depth, et, cs, doc"
    values = "%s, %s, %s, %s, %s, %s, %s, %s"
    subtree = "path = %s OR (path > %s AND path < %s)"
    statements = {
        "resources": r,
        "labels": lb,
        "version": f"SELECT version FROM {schema}.cse_schema_version",
        "get": f"SELECT doc FROM {r} WHERE ri = %s",
        "get_by_path": f"SELECT doc FROM {r} WHERE path = %s",
        "insert": f"INSERT INTO {r}({cols}) VALUES ({values})",
        "insert_labelled": (f"WITH new AS (INSERT INTO {r}({cols}) VALUES ({values}) RETURNING ri, path) "
                            f"INSERT INTO {lb}(lbl, path, ri) SELECT l, new.path, new.ri "
                            "FROM new, unnest(%s::text[]) AS l ON CONFLICT DO NOTHING"),
        "update": f"UPDATE {r} SET et = %s, cs = %s, doc = %s WHERE ri = %s",
        # Labels no longer present go, new ones come; rows kept are left alone (one statement
        # cannot delete and re-insert the same row).
        "update_labels": (f"WITH changed AS (UPDATE {r} SET et = %s, cs = %s, doc = %s WHERE ri = %s "
                          "RETURNING ri, path), "
                          f"gone AS (DELETE FROM {lb} USING changed WHERE {lb}.ri = changed.ri "
                          f"AND NOT ({lb}.lbl = ANY(%s::text[]))), "
                          f"added AS (INSERT INTO {lb}(lbl, path, ri) SELECT l, changed.path, changed.ri "
                          "FROM changed, unnest(%s::text[]) AS l ON CONFLICT DO NOTHING) "
                          "SELECT count(*) FROM changed"),
        "delete": f"WITH gone AS (DELETE FROM {r} WHERE ri = %s) DELETE FROM {lb} WHERE ri = %s",
        "delete_subtree": (f"WITH gone AS (DELETE FROM {r} WHERE {subtree} RETURNING 1), "
                           f"labels AS (DELETE FROM {lb} WHERE {subtree}) SELECT count(*) FROM gone"),
        "child_stats": f"SELECT count(*), COALESCE(sum(cs), 0) FROM {r} WHERE pi = %s AND ty = %s",
        "expired": f"SELECT doc FROM {r} WHERE et IS NOT NULL AND et <= %s ORDER BY et LIMIT %s",
        "count": f"SELECT count(*) FROM {r}",
        "barrier": (f"INSERT INTO {schema}.cse_flush_barrier(pid, flushes) VALUES (pg_backend_pid(), 1) "
                    "ON CONFLICT (pid) DO UPDATE SET flushes = cse_flush_barrier.flushes + 1"),
        "barrier_cleanup": (f"DELETE FROM {schema}.cse_flush_barrier WHERE pid NOT IN "
                            "(SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)"),
    }
    for order in ("asc", "desc"):
        statements["children_" + order] = (f"SELECT doc FROM {r} WHERE pi = %s ORDER BY seq {order} "
                                           "LIMIT %s OFFSET %s")
        statements["children_ty_" + order] = (f"SELECT doc FROM {r} WHERE pi = %s AND ty = %s "
                                              f"ORDER BY seq {order} LIMIT %s OFFSET %s")
    for name, order in (("edge_newest", "DESC"), ("edge_oldest", "ASC")):
        statements[name] = f"SELECT doc FROM {r} WHERE pi = %s AND ty = %s ORDER BY seq {order} LIMIT 1"
        statements[name + "_live"] = (f"SELECT doc FROM {r} WHERE pi = %s AND ty = %s AND (et IS NULL OR et > %s) "
                                      f"ORDER BY seq {order} LIMIT 1")
    return statements
