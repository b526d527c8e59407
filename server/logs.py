"""Where the CSE's log records go, and in which form (docs/operations.md).

`configure(config)` is called once by the `cse` command: every record goes to stderr as one
line, as text or as one JSON object (`log.format`); the request log (logger `cse.requests`,
`server/observe.py`, INFO records; refusals INFO, server failures WARNING) goes to stderr
with the rest or to `log.request_file`.  Like every INFO record it is hidden by
`--log-level WARNING`; `--no-request-log` turns it off while keeping the other INFO lines.  Library users who build a CSE themselves configure logging their way.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cse.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and for request-log records
    the request's fields (binding, op, to, fr, rqi, rsc, ms, reason) as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                "level": record.levelname, "logger": record.name}
        fields = getattr(record, "m2m", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def formatter(form: str) -> logging.Formatter:
    return JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT)


def configure(config: "Config") -> None:
    # The formats use neither thread nor process names: not collecting them makes every
    # record (one per request with the request log on) cheaper.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(config.log.format))
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    requests = logging.getLogger("cse.requests")
    for old in list(requests.handlers):
        requests.removeHandler(old)
        old.close()
    requests.setLevel(logging.NOTSET)       # log_level decides, as for every logger
    requests.propagate = True
    if config.log.requests and config.log.request_file:
        file_handler = logging.FileHandler(config.log.request_file, encoding="utf-8")
        file_handler.setFormatter(formatter(config.log.format))
        requests.addHandler(file_handler)
        requests.propagate = False
