"""The Prometheus metrics of one CSE (`/metrics` on the admin listener, docs/operations.md).

One `CollectorRegistry` per CSE, never prometheus-client's global one, so two CSEs in one
process (tests, the federation demo) keep their numbers apart.  Requests are counted as
they are answered (`server/observe.py`); everything else is read from the parts when the
endpoint is scraped (queue depths, the notifier's totals, commit times, WAL size, open
connections, registrations), so collecting it adds nothing to the request path.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from cse.resource_types import Ty
from cse.storage.sqlite import SqliteStorage

if TYPE_CHECKING:
    from cse.notify import Notifier
    from cse.storage import Storage

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latency buckets (seconds): a cached retrieve takes well under a millisecond, a
# forwarded request or a long poll up to many seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Request counters and histograms, plus `sources` read at scrape time."""

    def __init__(self, cse_ri: str, storage: "Storage", notifier: "Notifier"):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("cse_requests", "Requests answered, by binding, operation and response status code",
                                ("binding", "op", "rsc"), registry=self.registry)
        self.latency = Histogram("cse_request_duration_seconds",
                                 "Time from a request's arrival to its response, by binding and operation",
                                 ("binding", "op"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self._state = _StateCollector(cse_ri, storage, notifier)
        self.registry.register(self._state)

    def request_children(self, binding: str, op: str, rsc: int) -> tuple[Any, Any]:
        """The counter and histogram series one kind of request is counted in."""
        return self.requests.labels(binding, op, str(rsc)), self.latency.labels(binding, op)

    def add_connections(self, binding: str, count: Callable[[], int]) -> None:
        """A binding's open connections (or 0/1 for a broker connection), read when scraped."""
        self._state.connections.append((binding, count))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector:
    """What the parts hold right now, as metric families (a prometheus-client custom collector)."""

    def __init__(self, cse_ri: str, storage: "Storage", notifier: "Notifier"):
        self.cse_ri = cse_ri
        self.storage = storage
        self.notifier = notifier
        self.connections: list[tuple[str, Callable[[], int]]] = []

    def describe(self) -> Iterable[Metric]:
        return []       # the families are made at collect time (their labels depend on the state)

    def collect(self) -> Iterator[Metric]:
        delivery = self.notifier.delivery
        depth = GaugeMetricFamily("cse_notification_queue_depth",
                                  "Notifications waiting or in flight, over all targets")
        depth.add_metric([], sum(queue.pending for queue in delivery.queues.values()))
        yield depth
        targets = GaugeMetricFamily("cse_notification_targets", "Notification targets with a queue")
        targets.add_metric([], len(delivery.queues))
        yield targets
        outcomes = CounterMetricFamily("cse_notifications", "Notifications settled, by outcome "
                                       "(delivered; rejected by the target; dropped)", labels=["outcome"])
        for outcome in ("delivered", "rejected", "dropped"):
            outcomes.add_metric([outcome], delivery.totals.get(outcome, 0))
        yield outcomes
        retries = CounterMetricFamily("cse_notification_retries", "Notification attempts repeated after a failure")
        retries.add_metric([], delivery.totals.get("retries", 0))
        yield retries
        yield from self._storage()
        connections = GaugeMetricFamily("cse_connections", "Open client connections per binding "
                                        "(mqtt: 1 while connected to the broker)", labels=["binding"])
        for binding, count in self.connections:
            connections.add_metric([binding], count())
        yield connections
        registered = GaugeMetricFamily("cse_registered", "Entities registered here, by kind",
                                       labels=["kind"])
        for kind, ty in (("ae", Ty.AE), ("cse", Ty.CSR)):
            registered.add_metric([kind], self._children(ty))
        yield registered

    def _children(self, ty: int) -> int:
        try:
            return self.storage.child_stats(self.cse_ri, int(ty))[0]
        except Exception:       # a closed or failing storage: /health says so; metrics stay up
            return 0

    def _storage(self) -> Iterator[Metric]:
        times = self.storage.commit_times
        if times is not None:
            histogram = HistogramMetricFamily("cse_storage_commit_seconds", "Time one group commit took")
            cumulative, buckets = 0, []
            for bound, count in zip(times.buckets, times.counts):
                cumulative += count
                buckets.append((repr(float(bound)), cumulative))
            buckets.append(("+Inf", times.count))
            histogram.add_metric([], buckets, times.total_seconds)
            yield histogram
        if isinstance(self.storage, SqliteStorage) and self.storage.filename != ":memory:":
            filename = self.storage.filename
            wal = GaugeMetricFamily("cse_sqlite_wal_bytes", "Size of the SQLite write-ahead log file")
            try:
                wal.add_metric([], os.path.getsize(filename + "-wal"))
            except OSError:
                wal.add_metric([], 0)
            yield wal
