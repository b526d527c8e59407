"""request (m2m:req, ty 17): what a non-blocking synchronous request (rt=1) left behind.

The CSE creates it when it accepts such a request and fills `rs` (requestStatus) and `ors`
(operationResult, the response primitive) when the operation has run; the originator
polls it with RETRIEVE and may DELETE it.  Nobody creates or updates one by request
(TS-0001 9.6.12).  DELETE of a request whose operation is still PENDING asks for a recall
(TS-0001, `<request>` deletion): this CSE cannot take back an operation it has accepted, so it answers
5220 UNABLE_TO_RECALL_REQUEST and keeps the record; once COMPLETED or FAILED it is deleted.
See cse/nonblocking.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context

COMPLETED, FAILED, PENDING = 1, 2, 3


class RequestResource(ResourceType):
    ty = Ty.REQ
    short_name = "req"
    type_name = "request"
    parent_types = frozenset({Ty.CB})
    creatable = False
    updatable = False

    def validate_create(self, attributes: dict) -> None:
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, "a request resource is created by the CSE only")

    def check_delete(self, ctx: "Context", resource: dict) -> None:
        if resource.get("rs") == PENDING:
            raise OneM2MError(RSC.UNABLE_TO_RECALL_REQUEST,
                              "the request is still pending and cannot be recalled; delete it once its "
                              "requestStatus (rs) is COMPLETED or FAILED")
