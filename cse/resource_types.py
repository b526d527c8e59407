"""The numbers oneM2M gives resource types (TS-0004 Table 6.3.4.2.1-1) and CSE types.

Every module that names a resource type by number uses a member of `Ty`, never a literal
or a local constant, so that a type number is written once.  What a type *does* (whether
it can be deleted, which virtual children it has, ...) is not here but on its
`ResourceType` (cse/resource_type.py): the core asks the type, and names a `Ty` member only
where it means that one type (e.g. the subscriptions below a removed resource).

An announced variant has the number of its original plus ANNOUNCED_OFFSET (10000 + ty);
only the types TS-0001 lets be announced have one.

What this module must never do: import anything, or hold state.
"""
from __future__ import annotations

import enum

ANNOUNCED_OFFSET = 10000


class Ty(enum.IntEnum):
    """Resource type numbers.  Member names are the types' short names (acp, ae, cnt, ...).

    Numbers 1..48 are from TS-0004 R3; 58, 60 and 62..66 are R4 numbers as ACME uses them
    (ACME moved action from 63 to 65 in 2023; tinyIoT still uses 63).  49..51 are R4
    numbers not confirmed by the project's digests.  52..57, 59 and 61 are oneM2M numbers
    whose types are not recorded here; they still count as oneM2M types (`is_onem2m_type`)."""

    ACP = 1             # accessControlPolicy
    AE = 2              # AE
    CNT = 3             # container
    CIN = 4             # contentInstance
    CB = 5              # CSEBase
    DLV = 6             # delivery
    EVCG = 7            # eventConfig
    EXIN = 8            # execInstance
    GRP = 9             # group
    LCP = 10            # locationPolicy
    MSSP = 11           # m2mServiceSubscriptionProfile
    MGC = 12            # mgmtCmd
    MGO = 13            # mgmtObj (root name from its specialization, e.g. m2m:bat)
    NOD = 14            # node
    PCH = 15            # pollingChannel
    CSR = 16            # remoteCSE
    REQ = 17            # request
    SCH = 18            # schedule
    ASAR = 19           # serviceSubscribedAppRule
    SVSN = 20           # serviceSubscribedNode
    STCL = 21           # statsCollect
    STCG = 22           # statsConfig
    SUB = 23            # subscription
    SMD = 24            # semanticDescriptor
    NTPR = 25           # notificationTargetMgmtPolicyRef
    NTP = 26            # notificationTargetPolicy
    PDR = 27            # policyDeletionRules
    FCNT = 28           # flexContainer (root name from its specialization, e.g. cod:evChargr)
    TS = 29             # timeSeries
    TSI = 30            # timeSeriesInstance
    ROL = 31            # role
    TK = 32             # token
    TRPT = 33           # trafficPattern
    DAC = 34            # dynamicAuthorizationConsultation
    AUDC = 35           # authorizationDecision
    AUPC = 36           # authorizationPolicy
    AUIN = 37           # authorizationInformation
    ONTR = 38           # ontologyRepository
    ONT = 39            # ontology
    SMJP = 40           # semanticMashupJobProfile
    SMI = 41            # semanticMashupInstance
    SMR = 42            # semanticMashupResult
    AECL = 43           # AEContactList
    AECLP = 44          # AEContactListPerCSE
    LMG = 45            # localMulticastGroup
    MMS = 46            # multimediaSession
    TRQT = 47           # triggerRequest
    CRS = 48            # crossResourceSubscription
    BDT = 49            # backgroundDataTransfer
    TMGMT = 50          # transactionMgmt
    TRANS = 51          # transaction
    FCI = 58            # flexContainerInstance
    TSB = 60            # timeSyncBeacon
    PRP = 62            # primitiveProfile
    PRMR = 63           # processManagement
    STTE = 64           # state
    ACTR = 65           # action
    DEPR = 66           # dependency

    # Announced variants (TS-0004 Table 6.3.4.2.1-1, TS-0001 9.6.26).
    ACP_ANNC = 10001
    AE_ANNC = 10002
    CNT_ANNC = 10003
    CIN_ANNC = 10004
    CB_ANNC = 10005
    GRP_ANNC = 10009
    LCP_ANNC = 10010
    MGO_ANNC = 10013
    NOD_ANNC = 10014
    CSR_ANNC = 10016
    SCH_ANNC = 10018
    SMD_ANNC = 10024
    FCNT_ANNC = 10028
    TS_ANNC = 10029
    TSI_ANNC = 10030
    ONTR_ANNC = 10038
    ONT_ANNC = 10039
    SMJP_ANNC = 10040
    SMI_ANNC = 10041
    SMR_ANNC = 10042
    MMS_ANNC = 10046
    FCI_ANNC = 10058
    TSB_ANNC = 10060
    PRP_ANNC = 10062
    PRMR_ANNC = 10063
    STTE_ANNC = 10064
    ACTR_ANNC = 10065
    DEPR_ANNC = 10066

    @property
    def is_announced(self) -> bool:
        return self > ANNOUNCED_OFFSET

    @property
    def announced(self) -> "Ty | None":
        """The announced variant of this type (cnt -> cntA), None if it cannot be announced."""
        if self.is_announced:
            return None
        return _BY_NUMBER.get(self + ANNOUNCED_OFFSET)

    @property
    def original(self) -> "Ty":
        """The type an announced variant stands for (cntA -> cnt); itself otherwise."""
        return Ty(self - ANNOUNCED_OFFSET) if self.is_announced else self


_BY_NUMBER = {int(member): member for member in Ty}
# The highest original type number oneM2M assigns, as far as this enumeration knows.
HIGHEST_ORIGINAL = max(member for member in Ty if not member.is_announced)


def is_onem2m_type(number: object) -> bool:
    """Whether `number` is a resource type number oneM2M assigns (1..HIGHEST_ORIGINAL, or
    10000 + one of those), whether or not this CSE implements it: a CREATE of such a type
    is "not implemented" (5001), any other number a malformed request (4000)."""
    if not isinstance(number, int) or isinstance(number, bool):
        return False
    original = number - ANNOUNCED_OFFSET if number > ANNOUNCED_OFFSET else number
    return 1 <= original <= HIGHEST_ORIGINAL


class CseType(enum.IntEnum):
    """cseType (cst, TS-0004 Table 6.3.4.2.2-1); configured by name (cse.type)."""

    IN = 1
    MN = 2
    ASN = 3

    @classmethod
    def named(cls, name: str) -> "CseType":
        """CseType.named("MN") -> CseType.MN."""
        return cls[name]


__all__ = ["ANNOUNCED_OFFSET", "HIGHEST_ORIGINAL", "CseType", "Ty", "is_onem2m_type"]
