"""The access control operations (TS-0001 9.6.2 accessControlOperations), as flags.

A module of its own so that the protocols of `cse.context` can name them without importing
`cse.access` (which takes a context): `from cse.access import Permission` works as before.
"""
from __future__ import annotations

import enum


class Permission(enum.IntFlag):
    CREATE = 1
    RETRIEVE = 2
    UPDATE = 4
    DELETE = 8
    NOTIFY = 16
    DISCOVER = 32
    ALL = 63
