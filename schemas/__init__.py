"""JSON Schemas of the resource types: one file per type, named by its short name.

Each file is a JSON Schema (draft 2020-12) of the resource representation plus one
extension keyword, `x-presence`, mapping every attribute to "<create> <update>" presence
(M mandatory, O optional, NP not permitted; TS-0004 notation).  Shared value types live
in common.json and are referenced as "common.json#/$defs/<name>".
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent


@cache
def load(name: str) -> dict:
    """The parsed schema file `<name>.json`."""
    with open(SCHEMA_DIR / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)
