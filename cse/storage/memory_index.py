"""In-memory indexes over stored resources, for backends whose files cannot be queried.

The TinyDB backend keeps every resource here as its serialized document plus the few
fields the queries need, and answers every `Storage` query from these structures: by ri,
by path, children per (parent, type) in creation order, type, label and expiry.  The cost
of adding a child, removing the oldest one or finding the newest one does not depend on
how many children a parent has.

Removal only marks a row dead; dead rows are swept out of the child lists when no
transaction is open, so a rollback can bring a row back exactly where it was.  This module
never touches files and never serializes: it is handed ready documents.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
from typing import Iterable, Iterator


def _seq_of(row: "Row") -> int:
    return row.seq


class Row:
    """One stored resource: its document (serialized) and the fields the indexes use."""

    __slots__ = ("seq", "ri", "pi", "ty", "path", "depth", "et", "cs", "labels", "doc", "alive", "below")

    def __init__(self, seq: int, ri: str, pi: str, ty: int, path: str, et: str | None,
                 cs: int | None, labels: tuple[str, ...], doc: bytes):
        self.seq = seq
        self.ri = ri
        self.pi = pi
        self.ty = ty
        self.path = path
        self.depth = path.count("/")
        self.et = et
        self.cs = cs
        self.labels = labels
        self.doc = doc
        self.alive = True
        self.below = 0          # number of live resources in the subtree under this one


def label_tuple(labels: object) -> tuple[str, ...]:
    """The distinct string labels of an lbl value (anything else is not indexed)."""
    if not isinstance(labels, list) or not labels:
        return ()
    return tuple(dict.fromkeys(label for label in labels if isinstance(label, str)))


class ChildList:
    """Children of one parent and one type, oldest first; dead rows are skipped."""

    __slots__ = ("pi", "ty", "rows", "head", "dead", "cs_total")

    def __init__(self, pi: str, ty: int) -> None:
        self.pi = pi
        self.ty = ty
        self.rows: list[Row] = []
        self.head = 0           # rows before head are all dead
        self.dead = 0           # dead rows still in `rows`
        self.cs_total = 0       # sum of cs of the live rows

    def __len__(self) -> int:
        return len(self.rows) - self.dead

    def append(self, row: Row) -> None:
        self.rows.append(row)
        self.cs_total += row.cs or 0

    def mark_dead(self, row: Row) -> None:
        self.dead += 1
        self.cs_total -= row.cs or 0

    def revive(self, row: Row) -> None:
        rows = self.rows
        position = bisect.bisect_left(rows, row.seq, key=_seq_of)
        if position < len(rows) and rows[position] is row:
            self.dead -= 1
        else:
            rows.insert(position, row)
        if position < self.head:
            self.head = position
        self.cs_total += row.cs or 0

    def sweep(self) -> None:
        """Drop dead rows once they are a good part of the list (amortized O(1) per removal)."""
        rows = self.rows
        while rows and not rows[-1].alive:
            rows.pop()
            self.dead -= 1
        if self.dead > 16 and self.dead * 2 > len(rows):
            self.rows = [row for row in rows if row.alive]
            self.dead = 0
            self.head = 0
        elif self.head > len(rows):
            self.head = len(rows)

    def forward(self) -> Iterator[Row]:
        rows = self.rows
        head = self.head
        while head < len(rows) and not rows[head].alive:
            head += 1
        self.head = head
        return (row for row in itertools.islice(rows, head, None) if row.alive)

    def backward(self) -> Iterator[Row]:
        rows = self.rows
        return (row for row in itertools.islice(reversed(rows), len(rows) - self.head) if row.alive)


class ResourceIndex:
    """All live rows and the indexes over them."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.by_path: dict[str, Row] = {}
        self.children: dict[str, dict[int, ChildList]] = {}
        self.by_type: dict[int, dict[str, Row]] = {}
        self.by_label: dict[str, dict[str, Row]] = {}
        self._expiry: list[tuple[str, int, Row]] = []     # heap; stale entries are skipped
        self._expiry_counter = itertools.count()
        self._expiring = 0                               # live rows that have an et
        self._unswept: set[ChildList] = set()
        self.next_seq = 1

    # -- building -----------------------------------------------------------------------
    def load(self, rows: Iterable[Row]) -> None:
        """Fill an empty index from stored rows (any order)."""
        ordered = sorted(rows, key=_seq_of)
        for row in ordered:
            self._link(row, count_ancestors=False)
        for row in ordered:
            self._count_ancestors(row, 1)
        if ordered:
            self.next_seq = ordered[-1].seq + 1

    # -- changes ------------------------------------------------------------------------
    def add(self, row: Row) -> None:
        self._link(row, count_ancestors=True)
        self.next_seq = max(self.next_seq, row.seq + 1)

    def _link(self, row: Row, count_ancestors: bool) -> None:
        row.alive = True
        self.rows[row.ri] = row
        self.by_path[row.path] = row
        by_type = self.children.get(row.pi)
        if by_type is None:
            by_type = self.children[row.pi] = {}
        siblings = by_type.get(row.ty)
        if siblings is None:
            siblings = by_type[row.ty] = ChildList(row.pi, row.ty)
        siblings.append(row)
        self.by_type.setdefault(row.ty, {})[row.ri] = row
        self._index_labels(row)
        if row.et is not None:
            self._expiring += 1
            self._push_expiry(row)
        if count_ancestors:
            self._count_ancestors(row, 1)

    def remove(self, row: Row) -> None:
        """Unlink a live row; its place in the child list is kept until `sweep`."""
        row.alive = False
        del self.rows[row.ri]
        del self.by_path[row.path]
        siblings = self.children[row.pi][row.ty]
        siblings.mark_dead(row)
        self._unswept.add(siblings)
        del self.by_type[row.ty][row.ri]
        self._unindex_labels(row)
        if row.et is not None:
            self._expiring -= 1
        self._count_ancestors(row, -1)

    def revive(self, row: Row) -> None:
        """Undo `remove` (rollback): the row returns to its place in creation order."""
        row.alive = True
        self.rows[row.ri] = row
        self.by_path[row.path] = row
        by_type = self.children.setdefault(row.pi, {})
        siblings = by_type.get(row.ty)
        if siblings is None:
            siblings = by_type[row.ty] = ChildList(row.pi, row.ty)
        siblings.revive(row)
        self.by_type.setdefault(row.ty, {})[row.ri] = row
        self._index_labels(row)
        if row.et is not None:
            self._expiring += 1
            self._push_expiry(row)
        self._count_ancestors(row, 1)

    def change(self, row: Row, doc: bytes, et: str | None, cs: int | None,
               labels: tuple[str, ...] | None) -> None:
        """New document and indexed fields of a live row (labels None: unchanged)."""
        row.doc = doc
        if et != row.et:
            self._expiring += (et is not None) - (row.et is not None)
            row.et = et
            if et is not None:
                self._push_expiry(row)
        if cs != row.cs:
            self.children[row.pi][row.ty].cs_total += (cs or 0) - (row.cs or 0)
            row.cs = cs
        if labels is not None and labels != row.labels:
            self._unindex_labels(row)
            row.labels = labels
            self._index_labels(row)

    def sweep(self) -> None:
        """Drop dead rows from the child lists touched since the last sweep."""
        for siblings in self._unswept:
            siblings.sweep()
            if not siblings.rows:
                by_type = self.children.get(siblings.pi)
                if by_type is not None and by_type.get(siblings.ty) is siblings:
                    del by_type[siblings.ty]
                    if not by_type:
                        del self.children[siblings.pi]
        self._unswept.clear()

    def _index_labels(self, row: Row) -> None:
        for label in row.labels:
            self.by_label.setdefault(label, {})[row.ri] = row

    def _unindex_labels(self, row: Row) -> None:
        for label in row.labels:
            holders = self.by_label.get(label)
            if holders is not None:
                holders.pop(row.ri, None)
                if not holders:
                    del self.by_label[label]

    def _count_ancestors(self, row: Row, delta: int) -> None:
        rows = self.rows
        parent = rows.get(row.pi)
        while parent is not None:
            parent.below += delta
            parent = rows.get(parent.pi)

    def _push_expiry(self, row: Row) -> None:
        et = row.et
        if et is None:          # never expires
            return
        heap = self._expiry
        if len(heap) > 2 * self._expiring + 1024:
            # Mostly stale entries (et changed or resource gone): rebuild from live rows.
            heap[:] = [(r.et, next(self._expiry_counter), r) for r in self.rows.values()
                       if r.et is not None and r is not row]
            heapq.heapify(heap)
        heapq.heappush(heap, (et, next(self._expiry_counter), row))

    # -- queries ------------------------------------------------------------------------
    def child_list(self, pi: str, ty: int) -> ChildList | None:
        by_type = self.children.get(pi)
        return by_type.get(ty) if by_type else None

    def children_of(self, pi: str, ty: int | None, newest_first: bool) -> Iterator[Row]:
        by_type = self.children.get(pi)
        if not by_type:
            return iter(())
        if ty is not None:
            siblings = by_type.get(ty)
            if siblings is None:
                return iter(())
            return siblings.backward() if newest_first else siblings.forward()
        lists = [s.backward() if newest_first else s.forward() for s in by_type.values() if len(s)]
        if len(lists) == 1:
            return lists[0]
        return heapq.merge(*lists, key=_seq_of, reverse=newest_first)

    def edge(self, pi: str, ty: int, newest: bool, now: str | None) -> Row | None:
        siblings = self.child_list(pi, ty)
        if siblings is None:
            return None
        for row in (siblings.backward() if newest else siblings.forward()):
            if now is None or row.et is None or row.et > now:
                return row
        return None

    def expired(self, now: str, limit: int) -> list[Row]:
        heap = self._expiry
        found: list[Row] = []
        kept: list[tuple[str, int, Row]] = []
        seen: set[int] = set()
        while heap and len(found) < limit and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            et, _, row = entry
            if not row.alive or row.et != et or id(row) in seen:
                continue                     # stale or duplicate entry: drop it
            seen.add(id(row))
            found.append(row)
            kept.append(entry)
        for entry in kept:
            heapq.heappush(heap, entry)
        return found

    def descendants(self, path: str, types: set[int] | None, labels: list[str] | None,
                    max_level: int | None, limit: int | None = None) -> Iterator[Row]:
        """Rows strictly below `path` in creation order (so parents before children);
        `limit` only lets an index scan keep the first rows instead of sorting all."""
        root = self.by_path.get(path)
        max_depth = None if max_level is None else path.count("/") + max_level
        candidates = self._indexed_candidates(types, labels)
        if candidates is not None and (root is None or len(candidates) <= root.below):
            return self._scan(candidates, path + "/", types, labels, max_depth, limit)
        if root is None:
            return iter(())
        return self._walk(root, types, set(labels) if labels is not None else None, max_depth)

    def _indexed_candidates(self, types: set[int] | None, labels: list[str] | None) -> dict[str, Row] | None:
        """The smaller of the type and label index sets for the filters given (None: no filter)."""
        options = []
        if types is not None:
            by_type: dict[str, Row] = {}
            for ty in types:
                by_type.update(self.by_type.get(ty, {}))
            options.append(by_type)
        if labels is not None:
            by_label: dict[str, Row] = {}
            for label in labels:
                by_label.update(self.by_label.get(label, {}))
            options.append(by_label)
        return min(options, key=len) if options else None

    @staticmethod
    def _scan(candidates: dict[str, Row], prefix: str, types: set[int] | None,
              labels: list[str] | None, max_depth: int | None, limit: int | None) -> Iterator[Row]:
        wanted = set(labels) if labels is not None else None
        found = [row for row in candidates.values()
                 if row.path.startswith(prefix)
                 and (types is None or row.ty in types)
                 and (wanted is None or not wanted.isdisjoint(row.labels))
                 and (max_depth is None or row.depth <= max_depth)]
        if limit is not None and limit < len(found):
            return iter(heapq.nsmallest(max(limit, 0), found, key=_seq_of))
        found.sort(key=_seq_of)
        return iter(found)

    def _walk(self, root: Row, types: set[int] | None, labels: set[str] | None,
              max_depth: int | None) -> Iterator[Row]:
        """Visit the subtree in global creation order: a k-way merge of the child lists,
        where each visited row adds its own child lists (children are younger than parents)."""
        frontier: list[tuple[int, int, Row, Iterator[Row]]] = []
        tiebreak = itertools.count()
        children = self.children

        def enter(row: Row) -> None:
            if max_depth is not None and row.depth >= max_depth:
                return
            for siblings in children.get(row.ri, {}).values():
                rows = siblings.forward()
                first = next(rows, None)
                if first is not None:
                    heapq.heappush(frontier, (first.seq, next(tiebreak), first, rows))

        enter(root)
        while frontier:
            _, _, row, rows = frontier[0]
            following = next(rows, None)
            if following is None:
                heapq.heappop(frontier)
            else:
                heapq.heapreplace(frontier, (following.seq, next(tiebreak), following, rows))
            if (types is None or row.ty in types) and (labels is None or not labels.isdisjoint(row.labels)):
                yield row
            enter(row)

    def subtree(self, root: Row) -> list[Row]:
        """The root and every live row below it, parents before children."""
        found = [root]
        children = self.children
        for row in found:            # grows while iterating: breadth-first
            for siblings in children.get(row.ri, {}).values():
                found.extend(siblings.forward())
        return found
