"""How long a backend's commits took: a fixed-bucket histogram kept by the storage and
read by the metrics when scraped (the storage imports no metrics library)."""
from __future__ import annotations

import bisect

# Upper bounds (seconds) of the commit-time buckets: sub-millisecond WAL commits up to
# fsyncs on a slow disk.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class CommitTimes:
    """How long the flushes took, as a cumulative histogram the metrics read when scraped
    (the storage knows no metrics library; counting here costs one bisect per flush)."""

    def __init__(self) -> None:
        self.buckets = COMMIT_BUCKETS
        self.counts = [0] * (len(COMMIT_BUCKETS) + 1)   # the last one: above every bound
        self.total_seconds = 0.0
        self.count = 0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total_seconds += seconds
        self.count += 1
