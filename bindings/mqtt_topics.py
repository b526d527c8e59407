"""MQTT topic names of TS-0010 (6.4) and the topic-safe form of oneM2M IDs.

Topics carry only the two entities (originator, receiver) and the serialization, never the
target resource:  /oneM2M/<kind>/<originator>/<receiver>/<json|cbor|xml>.  An ID becomes
topic-safe by dropping the leading "/" of its SP-relative form and replacing the other "/"
by ":" (absolute IDs: leading "//" -> ":").  Pure functions only: no broker, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

REQUEST, RESPONSE = "req", "resp"
REG_REQUEST, REG_RESPONSE = "reg_req", "reg_resp"
RESPONSE_KIND = {REQUEST: RESPONSE, REG_REQUEST: REG_RESPONSE}
SERIALIZATIONS = ("json", "cbor")
AE_FORMS = ("sp-relative", "stem")


@dataclass(frozen=True, slots=True)
class Topic:
    kind: str            # req | resp | reg_req | reg_resp
    originator: str      # topic-safe ID, as it appears in the topic
    receiver: str
    serialization: str   # the last level, as sent (may be unsupported, e.g. "xml")

    def __str__(self) -> str:
        return f"/oneM2M/{self.kind}/{self.originator}/{self.receiver}/{self.serialization}"

    def response(self) -> "Topic":
        """The topic an answer to this request goes to: same IDs and serialization."""
        return Topic(RESPONSE_KIND[self.kind], self.originator, self.receiver, self.serialization)


def parse_topic(topic: str) -> Topic | None:
    """A oneM2M topic, or None when `topic` is not one (wrong prefix or level count)."""
    levels = topic.split("/")
    if len(levels) != 6 or levels[0] != "" or levels[1] != "oneM2M":
        return None
    kind, originator, receiver, serialization = levels[2:]
    if kind not in (REQUEST, RESPONSE, REG_REQUEST, REG_RESPONSE) or not originator or not receiver:
        return None
    return Topic(kind, originator, receiver, serialization)


def topic_id(entity: str, own_cse_id: str, ae_form: str = "sp-relative") -> str:
    """Topic-safe form of an AE-ID or CSE-ID.

    `entity` may be absolute (//sp/id-mn), SP-relative (/id-mn, /id-in/Cmeter, /S7f) or
    CSE-relative (Cmeter, an AE registered at `own_cse_id`).  With ae_form "stem", AEs
    registered at this CSE are named by their bare stem, as ACME and Mobius do."""
    if entity.startswith("//"):
        return ":" + entity[2:].replace("/", ":")
    if entity.startswith("/"):
        sp_relative = entity
    elif entity.startswith("C"):
        sp_relative = f"{own_cse_id}/{entity}"
    else:
        sp_relative = "/" + entity
    if ae_form == "stem" and sp_relative.startswith(own_cse_id + "/"):
        return sp_relative[len(own_cse_id) + 1:].replace("/", ":")
    return sp_relative[1:].replace("/", ":")


def originator_forms(fr: str, own_cse_id: str, own_sp_id: str) -> set[str]:
    """Every topic-safe spelling a correct client may use for originator `fr`."""
    forms = {fr.replace("/", ":")}
    if fr.startswith("//"):
        forms.add(topic_id(fr, own_cse_id))
        prefix = own_sp_id + "/"
        if fr.startswith(prefix):           # our own SP: the SP-relative form is used
            fr = fr[len(own_sp_id):]
    for form in AE_FORMS:
        forms.add(topic_id(fr, own_cse_id, form))
    return forms


def request_filters(own_topic_id: str) -> list[str]:
    """What a receiver subscribes to: requests and registration requests addressed to it."""
    return [f"/oneM2M/{REQUEST}/+/{own_topic_id}/+", f"/oneM2M/{REG_REQUEST}/+/{own_topic_id}/+"]


def response_filters(own_topic_id: str) -> list[str]:
    """What an originator subscribes to: answers to the requests it sent."""
    return [f"/oneM2M/{RESPONSE}/{own_topic_id}/+/+", f"/oneM2M/{REG_RESPONSE}/{own_topic_id}/+/+"]
