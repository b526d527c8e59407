"""The writes of one transaction block, held back and sent as ONE SQL statement.

A round trip to PostgreSQL costs the CSE ~20-30 us of CPU and ~45 us of wall time on
loopback, and BEGIN + INSERT + UPDATE + COMMIT is four of them.  A CREATE contentInstance
writes the instance and its container's counters and reads nothing in between, so the
backend keeps those writes here and, when the block ends, sends them as one statement of
data-modifying CTEs (WITH w0 AS (INSERT ...), w1 AS (UPDATE ...) SELECT ...): one round
trip, atomic on its own in autocommit, row locks held only while it runs.

A statement's CTEs all see the same snapshot and must not touch the same row twice, so:
    - a second update of a row already held (the container's counters, then its st)
      replaces the held write (each write carries the whole document);
    - anything else touching a held row, an insert after a held delete (the delete's path
      is unknown here), or any read, makes the backend send what is held first, in a
      real transaction (pg_batch never sees reads: postgresql.py does that);
    - an update that finds no row fails the whole statement through cse_expect(), as a
      single UPDATE would fail ("update of unknown resource").

This module builds SQL text and parameters only; it never talks to the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HeldWrite:
    kind: str                    # "insert", "update" or "delete"
    ri: str
    values: list = field(default_factory=list)     # insert: the columns; update: et, cs, doc
    labels: list[str] | None = None                # None: leave the label rows alone


class WriteBatch:
    def __init__(self, schema: str):
        self._resources = f"{schema}.resources"
        self._labels = f"{schema}.labels"
        self._expect = f"{schema}.cse_expect"
        self.writes: list[HeldWrite] = []
        self._by_ri: dict[str, HeldWrite] = {}
        self._paths: set[str] = set()
        self._deleted = False

    def __bool__(self) -> bool:
        return bool(self.writes)

    def clear(self) -> None:
        self.writes.clear()
        self._by_ri.clear()
        self._paths.clear()
        self._deleted = False

    # -- holding writes: each returns False when the write cannot join the batch ----------
    def insert(self, columns: list, labels: list[str]) -> bool:
        ri, path = columns[0], columns[3]
        if self._deleted or ri in self._by_ri or path in self._paths:
            return False
        self._hold(HeldWrite("insert", ri, columns, labels))
        self._paths.add(path)
        return True

    def update(self, ri: str, et, cs, doc: bytes, labels: list[str] | None) -> bool:
        held = self._by_ri.get(ri)
        if held is None:
            self._hold(HeldWrite("update", ri, [et, cs, doc], labels))
            return True
        if held.kind == "delete":
            return False
        if held.kind == "insert":
            held.values[5], held.values[6], held.values[7] = et, cs, doc
            if labels is not None:
                held.labels = labels
        else:
            held.values = [et, cs, doc]
            if labels is not None:
                held.labels = labels
        return True

    def delete(self, ri: str) -> bool:
        if ri in self._by_ri:
            return False
        self._hold(HeldWrite("delete", ri))
        self._deleted = True
        return True

    def _hold(self, write: HeldWrite) -> None:
        self.writes.append(write)
        self._by_ri[write.ri] = write

    # -- the statement --------------------------------------------------------------------
    def statement(self) -> tuple[str, list]:
        """One statement for everything held.  Inserts are one INSERT (several resources
        through unnest, WITH ORDINALITY), which assigns `seq` in the order they were
        created: separate CTEs run in no defined order.  Updates are one CTE each (their
        rows differ: a second update of a row replaced the first), deletes one CTE.
        Scalar parameters where one row is written: psycopg's array parameters cost the
        client several microseconds each, and CREATE contentInstance (one insert, one
        update, no labels) is the case that matters."""
        r, lb = self._resources, self._labels
        inserts = [w for w in self.writes if w.kind == "insert"]
        updates = [w for w in self.writes if w.kind == "update"]
        deletes = [w.ri for w in self.writes if w.kind == "delete"]
        ctes: list[str] = []
        params: list = []
        if len(inserts) == 1:
            write = inserts[0]
            ctes.append(f"ins AS (INSERT INTO {r}(ri, pi, ty, path, depth, et, cs, doc) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s))")
            params.extend(write.values)
            if write.labels:
                ctes.append(f"insl AS (INSERT INTO {lb}(lbl, path, ri) SELECT l, %s, %s "
                            "FROM unnest(%s::text[]) AS l ON CONFLICT DO NOTHING)")
                params.extend([write.values[3], write.ri, write.labels])
        elif inserts:
            ctes.append(f"ins AS (INSERT INTO {r}(ri, pi, ty, path, depth, et, cs, doc) "
                        "SELECT ri, pi, ty, path, depth, et, cs, doc FROM unnest(%s::text[], %s::text[], %s::int[], "
                        "%s::text[], %s::int[], %s::text[], %s::bigint[], %s::bytea[]) WITH ORDINALITY "
                        "AS x(ri, pi, ty, path, depth, et, cs, doc, n) ORDER BY n)")
            params.extend([w.values[i] for w in inserts] for i in range(8))
            labelled = [(label, w.values[3], w.ri) for w in inserts for label in (w.labels or ())]
            if labelled:
                ctes.append(f"insl AS (INSERT INTO {lb}(lbl, path, ri) SELECT * FROM "
                            "unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING)")
                params.extend([[row[i] for row in labelled] for i in range(3)])
        checks: list[str] = []
        for n, write in enumerate(updates):
            u = f"u{n}"
            ctes.append(f"{u} AS (UPDATE {r} SET et = %s, cs = %s, doc = %s WHERE ri = %s RETURNING ri, path)")
            params.extend(write.values)
            params.append(write.ri)
            if write.labels is not None:
                # labels no longer present go, new ones come; kept rows are left alone
                ctes.append(f"{u}g AS (DELETE FROM {lb} WHERE ri = %s AND NOT (lbl = ANY(%s::text[])))")
                ctes.append(f"{u}a AS (INSERT INTO {lb}(lbl, path, ri) SELECT l, {u}.path, {u}.ri "
                            f"FROM {u}, unnest(%s::text[]) AS l ON CONFLICT DO NOTHING)")
                params.extend([write.ri, write.labels, write.labels])
            checks.append(f"{self._expect}((SELECT count(*) FROM {u}), %s)")
        if len(deletes) == 1:
            ctes.append(f"del AS (DELETE FROM {r} WHERE ri = %s)")
            ctes.append(f"dell AS (DELETE FROM {lb} WHERE ri = %s)")
            params.extend([deletes[0], deletes[0]])
        elif deletes:
            ctes.append(f"del AS (DELETE FROM {r} WHERE ri = ANY(%s::text[]))")
            ctes.append(f"dell AS (DELETE FROM {lb} WHERE ri = ANY(%s::text[]))")
            params.extend([deletes, deletes])
        params.extend(f"update of unknown resource {w.ri}" for w in updates)
        select = "SELECT " + (", ".join(checks) if checks else "1")
        return "WITH " + ", ".join(ctes) + " " + select, params
