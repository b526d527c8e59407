"""AE-side client for a oneM2M CSE: register, create/retrieve/update/delete, discover,
subscribe, and receive notifications, without building a single oneM2M header.

    async with CseClient("http://127.0.0.1:8080", originator="Cmeter01") as meter:
        await meter.register("Nmeter", rn="meter01")
        await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "mni": 100}})
        await meter.add_instance(f"{meter.ae_address}/power", "1530")

Over MQTT: `CseClient("mqtt://broker:1883", cse_id="/id-in", ...)` and
`client.mqtt.MqttNotificationReceiver`; behind NAT, `PollingReceiver` (rr=false, long
polls the AE's pollingChannel).  See docs/client.md.  It uses the CSE package's primitives
and HTTP mapping, nothing of the CSE's internals, and talks to any oneM2M CSE.
"""
from .access import Access, commander, grant, subscriber
from .client import RESOURCE_TYPES, CseClient, RequestFailed, hosting_cse_prefix, sp_relative_ae_id, unwrap
from .device import ActionRefused, ManagementAction, ManagementAgent
from .factory import receiver_for
from .polling import PollingReceiver
from .receiver import Notification, NotificationInbox, NotificationReceiver, NotificationRefused
from .transport import CseUnreachable, HttpTransport, Transport
from .ws import WsNotificationReceiver, WsTransport

__all__ = ["ActionRefused", "ManagementAction", "ManagementAgent", "NotificationRefused", "Access", "CseClient", "CseUnreachable", "HttpTransport", "Notification", "NotificationInbox",
           "NotificationReceiver", "PollingReceiver", "RESOURCE_TYPES", "RequestFailed", "Transport", "commander",
           "grant", "hosting_cse_prefix", "receiver_for", "sp_relative_ae_id", "subscriber", "unwrap",
           "WsNotificationReceiver", "WsTransport"]
