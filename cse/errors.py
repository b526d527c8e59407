"""Response status codes and the one exception type the core raises.

Anything in the core that refuses a request raises `OneM2MError(rsc, message)`; the dispatcher
turns it into a response in exactly one place, so every binding renders errors the same way.
"""
from __future__ import annotations

import enum


class RSC(enum.IntEnum):
    """Response status codes (TS-0004 6.6)."""

    ACCEPTED = 1000
    ACCEPTED_NON_BLOCKING_SYNCH = 1001
    ACCEPTED_NON_BLOCKING_ASYNCH = 1002
    OK = 2000
    CREATED = 2001
    DELETED = 2002
    UPDATED = 2004
    BAD_REQUEST = 4000
    RELEASE_VERSION_NOT_SUPPORTED = 4001
    NOT_FOUND = 4004
    OPERATION_NOT_ALLOWED = 4005
    REQUEST_TIMEOUT = 4008
    UNSUPPORTED_MEDIA_TYPE = 4015
    SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE = 4101
    CONTENTS_UNACCEPTABLE = 4102
    ORIGINATOR_HAS_NO_PRIVILEGE = 4103
    GROUP_REQUEST_IDENTIFIER_EXISTS = 4104
    CONFLICT = 4105
    ORIGINATOR_NOT_AUTHENTICATED = 4106
    SECURITY_ASSOCIATION_REQUIRED = 4107
    INVALID_CHILD_RESOURCE_TYPE = 4108
    NO_MEMBERS = 4109
    GROUP_MEMBER_TYPE_INCONSISTENT = 4110
    ORIGINATOR_HAS_ALREADY_REGISTERED = 4117
    SPECIALIZATION_SCHEMA_NOT_FOUND = 4125
    APP_RULE_VALIDATION_FAILED = 4126
    BLOCKING_SUBSCRIPTION_ALREADY_EXISTS = 4124
    OPERATION_DENIED_BY_REMOTE_ENTITY = 4127
    INTERNAL_SERVER_ERROR = 5000
    NOT_IMPLEMENTED = 5001
    TARGET_NOT_REACHABLE = 5103
    RECEIVER_HAS_NO_PRIVILEGE = 5105
    ALREADY_EXISTS = 5106
    REMOTE_ENTITY_NOT_REACHABLE = 5107
    TARGET_NOT_SUBSCRIBABLE = 5203
    SUBSCRIPTION_VERIFICATION_INITIATION_FAILED = 5204
    SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE = 5205
    NON_BLOCKING_SYNCH_REQUEST_NOT_SUPPORTED = 5206
    NOT_ACCEPTABLE = 5207
    GROUP_MEMBERS_NOT_RESPONDED = 5209
    UNABLE_TO_RECALL_REQUEST = 5220
    MAX_NUMBER_OF_MEMBER_EXCEEDED = 6010
    # Device management (TS-0004 Table 6.6.3.4-1): the device cannot be reached for a
    # management action, or did not answer in time.
    MGMT_SESSION_CANNOT_BE_ESTABLISHED = 6020
    MGMT_SESSION_ESTABLISHMENT_TIMEOUT = 6021
    INVALID_ARGUMENTS = 6023


class OneM2MError(Exception):
    """A refusal with its response status code and a message saying what was wrong."""

    def __init__(self, rsc: int, message: str, **extra):
        super().__init__(message)
        self.rsc = int(rsc)
        self.message = message
        # Facts a binding may render beyond rsc and message (e.g. retry_after, seconds).
        self.extra = extra

    def __repr__(self) -> str:
        return f"OneM2MError({self.rsc}, {self.message!r})"


def bad_request(message: str) -> OneM2MError:
    return OneM2MError(RSC.BAD_REQUEST, message)


def not_found(message: str) -> OneM2MError:
    return OneM2MError(RSC.NOT_FOUND, message)
