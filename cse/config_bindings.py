"""Settings of the bindings: the `[http]`, `[mqtt]`, `[coap]` and `[ws]` tables of the
configuration (cse/config.py composes them into `Config` and loads them; it re-exports them)."""
from __future__ import annotations

from dataclasses import dataclass

from .config_error import ConfigError


@dataclass
class HttpSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    # Address advertised in poa; defaults to http://host:port.
    public_url: str = ""
    max_body_bytes: int = 1_048_576
    # NOTIFY requests this CSE sends carry Content-Type application/vnd.onem2m-ntfy+json
    # (+cbor) instead of application/json (application/cbor), for receivers that want it.
    notify_vendor_media_type: bool = False
    # Seconds a request head may take to arrive once its first byte came (slow clients).
    header_timeout: float = 10.0
    # Seconds a connection may stay open without a request (from its opening or its last
    # answer) before it is closed.
    idle_timeout: float = 30.0
    # Connections open at once; past it a new one replaces the longest-idle one, or is closed
    # when all are busy.  Keep it below the process's file-descriptor limit (ulimit -n).
    max_connections: int = 1000
    # HTTPS: a certificate chain and its key (PEM files) turn TLS on for the server.
    # `cse certs DIR` makes development ones.
    tls_cert: str = ""
    tls_key: str = ""
    # CA bundle for client certificates, and whether clients must present one
    # ("none", "optional", "required").  A verified certificate whose common name is the
    # request's originator authenticates the request.
    tls_ca: str = ""
    tls_client_cert: str = "none"
    # Requests this CSE sends to https:// URLs: CA bundle to verify peers (empty = the
    # system's), and an optional client certificate and key to present.
    tls_outbound_ca: str = ""
    tls_outbound_cert: str = ""
    tls_outbound_key: str = ""


@dataclass
class MqttSettings:
    """MQTT binding (TS-0010): the CSE is a client of a broker, not a broker itself."""
    enabled: bool = False
    host: str = "127.0.0.1"             # broker address
    port: int = 1883
    client_id: str = ""                 # default C::<CSE-ID without the leading />
    username: str = ""
    password: str = ""
    keepalive: int = 60                 # seconds
    qos: int = 1                        # 0 or 1 (TS-0010 forbids 2)
    # TS-0010 asks for a persistent session (clean session false); tests on a shared broker
    # set true so they leave no session state behind.
    clean_session: bool = False
    tls: bool = False                   # connect with TLS (poa becomes mqtts://)
    ca_file: str = ""                   # CA bundle to verify the broker (default: system CAs)
    cert_file: str = ""                 # client certificate (mutual TLS), with key_file
    key_file: str = ""
    tls_insecure: bool = False          # skip the host name check (tests with self-made certs)
    reconnect_min: float = 1.0          # first reconnect delay after a lost broker (seconds) ...
    reconnect_max: float = 30.0         # ... doubled per attempt up to this
    connect_wait: float = 5.0           # how long start() waits for the first connection
    max_payload_bytes: int = 1_048_576
    # Topic form of a CSE-relative AE-ID when this CSE sends to an AE: "sp-relative"
    # (TS-0010: id-in:Cmeter) or "stem" (ACME/Mobius: Cmeter).  Both are accepted inbound.
    ae_topic_form: str = "sp-relative"
    # Refuse a request whose fr does not match the originator level of its topic.
    check_originator: bool = True
    public_url: str = ""                # poa advertised; default mqtt(s)://host:port


@dataclass
class CoapSettings:
    """CoAP binding (TS-0008) over UDP, RFC 7252."""
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5683                    # 0 = any free port
    public_url: str = ""                # poa advertised; default coap://host:port
    max_body_bytes: int = 1_048_576     # largest request body, after block-wise assembly


@dataclass
class WsSettings:
    """WebSocket binding (TS-0020): subprotocols oneM2M.json and oneM2M.cbor, on its own
    listener (as deployed CSEs do, e.g. ACME on 8180)."""
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8180                    # 0 = any free port
    public_url: str = ""                # poa advertised; default ws://host:port
    tls: bool = False                   # wss://, with the certificate and client-CA settings of [http]
    max_message_bytes: int = 1_048_576  # largest frame accepted (a request primitive)
    max_connections: int = 1000         # open WebSockets at once; more are refused (HTTP 503)
    # Requests the CSE may have in flight on one connection (notifications, relayed requests).
    max_pending_per_connection: int = 64
    # Originators (AE-IDs / CSE-IDs) one connection may speak for and be reached as.
    max_originators_per_connection: int = 16
    # Seconds between pings; a peer that does not answer two of them is disconnected.
    heartbeat: float = 30.0

    def check(self) -> None:
        for name in ("max_message_bytes", "max_connections", "max_pending_per_connection",
                     "max_originators_per_connection"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ws.{name} must be at least 1")
        if self.heartbeat <= 0:
            raise ConfigError("ws.heartbeat must be positive")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"ws.port {self.port} is not a TCP port")
