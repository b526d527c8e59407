"""Timestamps in readings, commands and alerts: oneM2M's basic ISO 8601 form
(20240601T183000), in simulated local time.  Shared by devices and the application, which
agree on nothing else but the content of the resources they exchange."""
from __future__ import annotations

from datetime import datetime

FORMAT = "%Y%m%dT%H%M%S"


def stamp(t: datetime) -> str:
    return t.strftime(FORMAT)


def parse_stamp(text: str) -> datetime:
    """ValueError for anything that is not such a timestamp."""
    if not isinstance(text, str):
        raise ValueError(f"a timestamp is a string like 20240601T183000, not {text!r}")
    return datetime.strptime(text, FORMAT)
