"""What operators see of the requests: the request log and the request metrics.

`Observer` is made once by the composition root; each binding gets `observer.recorder(name)`,
a `cse.observe.RequestRecorder` it calls once per answered request.  The recorder writes one
line to the request log (logger `cse.requests`; text or JSON, `server/logs.py`) and counts
the request in the Prometheus metrics (`server/metrics.py`).  A new binding (WebSocket) only
asks for its own recorder and calls it; nothing here knows a wire format.

Cost on the request path (measured with `python -m bench.http_crud --compare-args
--no-request-log`, docs/operations.md): one dictionary lookup for the cached metric
children, one histogram observation, and, with the log on, one log record.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from cse.primitives import Operation, Request, Response

if TYPE_CHECKING:
    from .metrics import Metrics

request_log = logging.getLogger("cse.requests")

OPERATIONS = {int(op): op.name for op in Operation}
# Refusals are INFO (a client's fault is not the server's); server-side failures WARNING.
SERVER_ERROR = 5000


def reason_of(response: Response) -> str:
    """The explanation an error response carries (m2m:dbg), or ""."""
    pc = response.pc
    if isinstance(pc, dict):
        reason = pc.get("m2m:dbg")
        if isinstance(reason, str):
            return reason
    return ""


class Observer:
    """The request log (on unless `enabled` is False) and the request metrics of one CSE."""

    def __init__(self, metrics: "Metrics", *, log_requests: bool = True):
        self.metrics = metrics
        self.log_requests = log_requests

    def recorder(self, binding: str) -> "BindingRecorder":
        return BindingRecorder(binding, self.metrics, request_log if self.log_requests else None)


class BindingRecorder:
    """`cse.observe.RequestRecorder` for one binding."""

    def __init__(self, binding: str, metrics: "Metrics", log: logging.Logger | None):
        self.binding = binding
        self.metrics = metrics
        self.log = log
        # (op, rsc) -> (counter child, histogram child): labels() takes a lock and builds a
        # tuple each time; the children are cached so a request costs one dict lookup.
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def __call__(self, started: float, request: Request | None, response: Response,
                 fallback_to: str = "") -> None:
        seconds = time.perf_counter() - started
        op = OPERATIONS.get(request.op, str(request.op)) if request is not None else "-"
        rsc = _int_rsc(response.rsc)
        children = self._children.get((op, rsc))
        if children is None:
            children = self.metrics.request_children(self.binding, op, rsc)
            if len(self._children) < 1000:       # bounded: op x rsc is small, but rsc comes from peers
                self._children[(op, rsc)] = children
        children[0].inc()
        children[1].observe(seconds)
        log = self.log
        if log is None or not log.isEnabledFor(logging.INFO):
            return
        to = (request.to if request is not None else fallback_to) or "-"
        fr = (request.fr if request is not None else None) or "-"
        rqi = (request.rqi if request is not None else "") or response.rqi or "-"
        fields = {"binding": self.binding, "op": op, "to": to, "fr": fr, "rqi": rqi, "rsc": rsc,
                  "ms": round(seconds * 1000, 2)}
        # makeRecord + handle, not log.info: the same record and handlers, without the
        # caller lookup (a stack walk) that logging does for every info() call.
        if rsc < 4000:
            record = log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %s fr=%s rqi=%s rsc=%d %.2fms",
                                    (self.binding, op, to, fr, rqi, rsc, seconds * 1000), None, extra={"m2m": fields})
        else:
            fields["reason"] = reason = reason_of(response)
            failed = rsc >= SERVER_ERROR
            level = logging.WARNING if failed else logging.INFO
            record = log.makeRecord(log.name, level, __file__, 0, "%s %s %s fr=%s rqi=%s rsc=%d %.2fms %s: %s",
                                    (self.binding, op, to, fr, rqi, rsc, seconds * 1000,
                                     "failed" if failed else "refused", reason or "(no reason given)"),
                                    None, extra={"m2m": fields})
        log.handle(record)


def _int_rsc(rsc: Any) -> int:
    try:
        return int(rsc)
    except (TypeError, ValueError):
        return 0
