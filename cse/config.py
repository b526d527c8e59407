"""Settings of one CSE: defaults, the TOML file, and command-line overrides.

Each table of the TOML file maps to one dataclass below (`[cse]` -> `CseSettings`, ...).
Unknown keys are an error at start-up rather than silently ignored, so a typo in a
production config is found before the first request.
"""
from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import parse_credentials
from .config_bindings import CoapSettings, HttpSettings, MqttSettings, WsSettings
from .config_error import ConfigError
from .config_operations import LOG_LEVELS, AdminSettings, LogSettings
from .outbound_policy import parse_networks
from .releases import DEFAULT_RELEASES, unknown_releases
from .resource_types import CseType

# The binding tables live in config_bindings.py, [log] and [admin] in config_operations.py;
# both are re-exported here.
__all__ = ["AdminSettings", "CoapSettings", "Config", "ConfigError", "HttpSettings", "LogSettings", "MqttSettings",
           "WsSettings", "load_config"]


@dataclass
class CseSettings:
    cse_id: str = "/id-in"              # SP-relative CSE-ID
    rn: str = "cse-in"                  # CSEBase resource name
    sp_id: str = "//onem2m.example.net"  # M2M-SP-ID (absolute addresses)
    type: str = "IN"                    # IN | MN | ASN
    admin_originator: str = "CAdmin"
    # Releases this CSE accepts in rvi (others: 4001); a request without rvi is served as the
    # newest of them (docs/conformance.md).  Also announced in the CSEBase's srv.
    supported_releases: list[str] = field(default_factory=lambda: list(DEFAULT_RELEASES))
    # Whether an originator that is not registered here (no AE, no remoteCSE, not reached
    # through one) may RETRIEVE the CSEBase when it has no acpi.  A CSE-ID that may register
    # (allowed_cse_originators) always may: it reads the CSEBase before registering.
    unregistered_retrieve_base: bool = False
    # Lifetime given to resources created without et (seconds); 0 = never expire.  Five
    # years, as ACME (cse.maxExpirationDelta): peers and test tools expect every resource
    # to have an et (docs/conformance.md).
    default_lifetime: int = 157_680_000
    # Longest lifetime a resource may have (seconds from now): a later et is shortened to
    # it; 0 = no cap.  Five years, as ACME.
    max_lifetime: int = 157_680_000
    # How often the background task deletes expired resources (seconds).
    expiry_interval: float = 1.0
    # Originators allowed to register AEs (fnmatch patterns on the AE-ID stem).
    allowed_ae_originators: list[str] = field(default_factory=lambda: ["C*", "S*"])
    # Seconds a <request> resource (non-blocking request, rt=1) is kept when rp is absent.
    request_lifetime: float = 3600.0
    # CSE-IDs allowed to register here as remoteCSEs (fnmatch patterns, e.g. "/id-mn*").
    # The default admits any CSE: restrict it (and authenticate CSEs) outside a lab.
    allowed_cse_originators: list[str] = field(default_factory=lambda: ["/*"])


@dataclass
class StorageSettings:
    # sqlite:///path/file.sqlite, tinydb:///path/dir, or memory:
    url: str = ""
    data_dir: str = "./cse-data"
    backend: str = "sqlite"             # used with data_dir when url is empty
    # "process": an acknowledged change survives a crash of the CSE process (kill -9).
    # "power": it also survives power loss (fsync on every group commit).
    durability: str = "process"
    # SQLite: largest WAL file (bytes); past it the WAL is checkpointed and truncated right
    # after a commit, so it stays bounded at any write rate.
    wal_max_bytes: int = 64 * 1024 * 1024

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        # Absolute, so that "sqlite://" + path never reads a relative data_dir as rooted at /.
        directory = Path(self.data_dir).absolute()
        if self.backend == "sqlite":
            return f"sqlite://{directory / 'cse.sqlite'}"
        if self.backend == "tinydb":
            return f"tinydb://{directory / 'tinydb'}"
        raise ConfigError(f"storage.backend must be 'sqlite' or 'tinydb', not {self.backend!r}")


@dataclass
class RegistrarSettings:
    """The CSE this one registers with (an MN-CSE with its IN-CSE, TS-0001 10.2.2.7).

    Empty `url`: this CSE registers nowhere.  See docs/federation.md."""

    url: str = ""                       # registrar's point of access, e.g. http://10.0.0.1:8080
    cse_id: str = ""                    # its SP-relative CSE-ID, e.g. /id-in
    rn: str = "cse-in"                  # its CSEBase resource name
    keepalive: float = 30.0             # seconds between checks that our registration still exists
    retry_min: float = 1.0              # first wait after a failed attempt (doubles up to retry_max)
    retry_max: float = 60.0
    timeout: float = 10.0               # seconds to wait for each answer of the registrar
    # Clean shutdown deletes our remoteCSE at the registrar (and all the registrar keeps
    # under it).  Off by default: a gateway restart must not wipe the IN side.
    deregister_on_shutdown: bool = False
    # False for a CSE its registrar cannot reach (behind NAT): it registers with rr=false and
    # fetches the requests for it from a pollingChannel at the registrar (docs/polling.md).
    request_reachable: bool = True
    poll_seconds: float = 25.0          # longest wait of one poll at the registrar

    def validate(self, cse: "CseSettings") -> None:
        if not self.url:
            return
        if not self.url.startswith(("http://", "https://", "mqtt://", "mqtts://", "coap://", "coaps://")):
            raise ConfigError(f"registrar.url must be an http(s), mqtt(s) or coap(s) URL, not {self.url!r}")
        if not self.cse_id.startswith("/") or self.cse_id.startswith("//") or "/" in self.cse_id[1:] \
                or len(self.cse_id) < 2:
            raise ConfigError(f"registrar.cse_id must look like /id-in, not {self.cse_id!r}")
        if self.cse_id == cse.cse_id:
            raise ConfigError(f"registrar.cse_id {self.cse_id} is this CSE's own CSE-ID")
        if cse.type == "IN":
            raise ConfigError("an IN-CSE has no registrar (registrar.url is set, cse.type is IN)")
        if not self.rn or "/" in self.rn:
            raise ConfigError(f"registrar.rn must be a plain resource name, not {self.rn!r}")
        for name in ("keepalive", "retry_min", "retry_max", "timeout", "poll_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"registrar.{name} must be a positive number of seconds")
        if self.retry_max < self.retry_min:
            raise ConfigError("registrar.retry_max must not be smaller than registrar.retry_min")


@dataclass
class LimitSettings:
    max_rn_length: int = 255
    max_labels: int = 64
    max_label_length: int = 255
    max_tree_depth: int = 32
    max_attribute_bytes: int = 65_536
    # Most resources one response lists (rcn 4/5/6/8, discovery); more -> partial content.
    max_result_resources: int = 10_000
    # Requests per second each originator may send on average (0 = no limit), and how many
    # it may send at once; beyond that: 4005 (HTTP 429 with Retry-After).
    rate_per_originator: float = 0.0
    rate_burst: int = 100
    # Longest a request may ask to wait for its operation execution time (oet), seconds.
    max_execution_delay: float = 60.0
    # Non-blocking requests (rt=1, rt=2) running at once; beyond: 4005.
    max_nonblocking_pending: int = 1000


@dataclass
class AuthSettings:
    # Refuse every request that is not authenticated (by credential or client certificate).
    required: bool = False
    # originator -> hashed passwords or tokens ("pbkdf2-sha256$...", from `cse hash-secret`).
    # An originator listed here must authenticate; nobody else can use its name.
    credentials: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class NotificationSettings:
    """Delivery of notifications (docs/notifications.md)."""

    # Most notifications waiting for one target; when full the oldest is dropped (counted, logged).
    queue_size: int = 1000
    # Notifications in flight to one target at once, over bindings that keep their order
    # (HTTP pipelining); 1 = wait for each answer before sending the next.
    pipeline: int = 64
    # Seconds one notification may take to be answered before it counts as unreachable.
    timeout: float = 10.0
    # Seconds a verification request (subscription CREATE/UPDATE) may take.
    verification_timeout: float = 5.0
    # Back-off between attempts for an unreachable target: doubles from initial up to max.
    retry_initial: float = 0.5
    retry_max: float = 30.0
    # Attempts per notification before it is dropped (0 = retry until the queue overflows).
    max_attempts: int = 10
    # bn without dur: flush after this many seconds.
    default_batch_duration: float = 60.0
    # A batch is sent early when it holds this many notifications (bounds memory for huge bn.num).
    max_batch_size: int = 1000
    # Clean shutdown: seconds to keep delivering before what is left is persisted.
    shutdown_timeout: float = 5.0
    # Most undelivered notifications persisted at shutdown (redelivered at the next start).
    max_persisted: int = 10_000
    # Resources whose subscription lists are cached (looked up on every change).
    cache_size: int = 10_000
    # Bytes (JSON size) of the notifications waiting for all targets together; past it the
    # oldest of the targets that hold the most are dropped (counted, logged).
    max_pending_bytes: int = 64 * 1024 * 1024
    # Subscriptions one originator may hold, and distinct notification targets (nu entries)
    # across them; past either a subscription CREATE/UPDATE is refused with 5207 (0 = no limit).
    # The admin originator and the CSE itself are not limited.
    max_subscriptions_per_originator: int = 1000
    max_targets_per_originator: int = 100
    # Seconds to open a connection to a target (a silent one is then retried with back-off);
    # `timeout` bounds the wait for its answer.
    connect_timeout: float = 5.0
    # Notifications in flight to all targets together beyond each target's first one (each
    # holds a task and its request until answered or timed out).
    max_in_flight: int = 1024
    # Connections to notification targets open at once (HTTP); past it idle ones are closed,
    # and a new target waits for its retry when all are busy.
    max_connections: int = 1000

    def check(self) -> None:
        for name in ("queue_size", "pipeline", "max_batch_size", "cache_size", "max_pending_bytes",
                     "max_connections", "max_in_flight"):
            if getattr(self, name) < 1:
                raise ConfigError(f"notification.{name} must be at least 1")
        for name in ("timeout", "verification_timeout", "retry_initial", "retry_max",
                     "default_batch_duration", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"notification.{name} must be positive")
        for name in ("max_attempts", "shutdown_timeout", "max_persisted", "max_subscriptions_per_originator",
                     "max_targets_per_originator"):
            if getattr(self, name) < 0:
                raise ConfigError(f"notification.{name} cannot be negative")


@dataclass
class OutboundSettings:
    """Where the CSE may connect for nu / poa given by clients (cse/outbound_policy.py)."""

    # Always allowed, whatever deny_networks says (the per-deployment allow list).
    allow_networks: list[str] = field(default_factory=list)
    # Refused: link-local (with the cloud metadata services) and "this network".
    deny_networks: list[str] = field(default_factory=lambda: [
        "169.254.0.0/16", "fe80::/10", "169.254.169.254/32", "fd00:ec2::254/128", "0.0.0.0/8"])
    # Addresses in neither list: "allow" or "deny".
    default: str = "allow"
    allowed_ports: list[int] = field(default_factory=list)    # empty: any port
    denied_ports: list[int] = field(default_factory=list)

    def check(self) -> None:
        if self.default not in ("allow", "deny"):
            raise ConfigError("outbound.default must be 'allow' or 'deny'")
        for name in ("allow_networks", "deny_networks"):
            try:
                parse_networks(getattr(self, name), f"outbound.{name}")
            except ValueError as error:
                raise ConfigError(str(error)) from None
        for port in self.allowed_ports + self.denied_ports:
            if not 0 < port < 65536:
                raise ConfigError(f"outbound ports must be 1..65535, not {port}")


@dataclass
class PollingSettings:
    """<pollingChannel>: requests for entities that cannot be reached (rr=false, docs/polling.md)."""

    # Requests waiting in one channel to be fetched; a further one is refused (5103), never
    # dropped silently (the notifier then retries it with its own back-off and bounds).
    queue_size: int = 100
    # Longest a RETRIEVE of pcu waits for a request when it gives no earlier rqet (seconds).
    # Keep it below the idle timeouts of NATs and proxies between the entity and this CSE.
    long_poll_max: float = 30.0

    def check(self) -> None:
        if self.queue_size < 1:
            raise ConfigError("polling.queue_size must be at least 1")
        if self.long_poll_max <= 0:
            raise ConfigError("polling.long_poll_max must be positive")


@dataclass
class ManagementSettings:
    """Management actions on mgmtObjs (reboot, firmware update, ...; docs/device-management.md)."""

    # Seconds the UPDATE that starts an action waits for the device (or the CSE on the node)
    # to accept it; no answer by then: 6021, and the status attribute records the failure.
    action_timeout: float = 10.0

    def check(self) -> None:
        if self.action_timeout <= 0:
            raise ConfigError("management.action_timeout must be positive")


@dataclass
class AutomationSettings:
    # Evaluations of <action>s waiting to run (cse/automation.py); more are dropped and logged.
    queue_size: int = 1000

    def check(self) -> None:
        if self.queue_size < 1:
            raise ConfigError("automation.queue_size must be at least 1")


@dataclass
class AnnouncementSettings:
    """Announcement to other CSEs (at/aa; docs/federation.md, "Announcement")."""

    # Most originals waiting to be synced with their targets (one entry per resource,
    # however often it changes); past that a change is dropped and logged.
    queue_size: int = 10000
    retry_min: float = 1.0              # first wait after a failed sync (doubles up to retry_max)
    retry_max: float = 60.0

    def check(self) -> None:
        if self.queue_size < 1:
            raise ConfigError("announcement.queue_size must be at least 1")
        if self.retry_min <= 0 or self.retry_max < self.retry_min:
            raise ConfigError("announcement.retry_min must be positive and not above announcement.retry_max")


@dataclass
class Config:
    cse: CseSettings = field(default_factory=CseSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    coap: CoapSettings = field(default_factory=CoapSettings)
    ws: WsSettings = field(default_factory=WsSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    registrar: RegistrarSettings = field(default_factory=RegistrarSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    notification: NotificationSettings = field(default_factory=NotificationSettings)
    polling: PollingSettings = field(default_factory=PollingSettings)
    management: ManagementSettings = field(default_factory=ManagementSettings)
    log: LogSettings = field(default_factory=LogSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    automation: AutomationSettings = field(default_factory=AutomationSettings)
    announcement: AnnouncementSettings = field(default_factory=AnnouncementSettings)
    log_level: str = "INFO"

    @property
    def cse_id(self) -> str:
        return self.cse.cse_id

    @property
    def cse_name(self) -> str:
        return self.cse.rn

    def validate(self) -> "Config":
        if not self.cse.cse_id.startswith("/") or self.cse.cse_id.startswith("//") or \
                "/" in self.cse.cse_id[1:]:
            raise ConfigError(f"cse.cse_id must look like /id-in, not {self.cse.cse_id!r}")
        if not self.cse.rn or "/" in self.cse.rn:
            raise ConfigError(f"cse.rn must be a plain resource name, not {self.cse.rn!r}")
        if not self.cse.sp_id.startswith("//"):
            raise ConfigError(f"cse.sp_id must start with //, not {self.cse.sp_id!r}")
        if self.cse.type not in CseType.__members__:
            raise ConfigError(f"cse.type must be IN, MN or ASN, not {self.cse.type!r}")
        if not self.cse.supported_releases:
            raise ConfigError("cse.supported_releases must name at least one release")
        bad = unknown_releases(self.cse.supported_releases)
        if bad:
            raise ConfigError(f"cse.supported_releases: {', '.join(bad)} is not a oneM2M release "
                              "(1, 2, 2a, 3, 4, 5)")
        if self.storage.wal_max_bytes < 1024 * 1024:
            raise ConfigError("storage.wal_max_bytes must be at least 1048576 (1 MiB)")
        if self.storage.durability not in ("process", "power"):
            raise ConfigError("storage.durability must be 'process' or 'power'")
        if self.mqtt.qos not in (0, 1):
            raise ConfigError(f"mqtt.qos must be 0 or 1 (TS-0010 does not use 2), not {self.mqtt.qos!r}")
        if self.mqtt.ae_topic_form not in ("sp-relative", "stem"):
            raise ConfigError("mqtt.ae_topic_form must be 'sp-relative' or 'stem'")
        if not 0 < self.mqtt.port < 65536:
            raise ConfigError(f"mqtt.port {self.mqtt.port} is not a TCP port")
        if not 0 <= self.coap.port < 65536:
            raise ConfigError(f"coap.port {self.coap.port} is not a UDP port")
        if bool(self.mqtt.cert_file) != bool(self.mqtt.key_file):
            raise ConfigError("mqtt.cert_file and mqtt.key_file go together")
        if not isinstance(self.log_level, str) or self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        self.log.check()
        self.admin.check()
        self.registrar.validate(self.cse)
        self.notification.check()
        self.polling.check()
        self.ws.check()
        self.management.check()
        if self.cse.default_lifetime < 0 or self.cse.max_lifetime < 0:
            raise ConfigError("cse.default_lifetime and cse.max_lifetime must be >= 0 (0: none)")
        self.outbound.check()
        self.automation.check()
        self.announcement.check()
        if self.limits.rate_per_originator < 0 or self.limits.rate_burst < 1:
            raise ConfigError("limits.rate_per_originator must be >= 0 and limits.rate_burst >= 1")
        self._validate_tls()
        if self.http.header_timeout < 0 or self.http.idle_timeout <= 0 or self.http.max_connections < 1:
            raise ConfigError("http.header_timeout must be >= 0 (0 = none), http.idle_timeout > 0 "
                              "and http.max_connections >= 1")
        try:
            parse_credentials(self.auth.credentials)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        return self

    def _validate_tls(self) -> None:
        http = self.http
        if bool(http.tls_cert) != bool(http.tls_key):
            raise ConfigError("http.tls_cert and http.tls_key must be given together")
        if http.tls_client_cert not in ("none", "optional", "required"):
            raise ConfigError("http.tls_client_cert must be 'none', 'optional' or 'required'")
        if http.tls_client_cert != "none" and not (http.tls_cert and http.tls_ca):
            raise ConfigError("http.tls_client_cert needs http.tls_cert, http.tls_key and http.tls_ca")
        if bool(http.tls_outbound_cert) != bool(http.tls_outbound_key):
            raise ConfigError("http.tls_outbound_cert and http.tls_outbound_key must be given together")
        for name in ("tls_cert", "tls_key", "tls_ca", "tls_outbound_ca", "tls_outbound_cert",
                     "tls_outbound_key"):
            path = getattr(http, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"http.{name}: {path} is not a readable file")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"[{where}] must be a table")
        return _build(annotation, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        (item_type,) = typing.get_args(annotation)
        for item in value:
            if type(item) is not item_type:
                raise ConfigError(f"{where} must be a list of {item_type.__name__}, "
                                  f"not {type(item).__name__} ({item!r})")
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return dict(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and type(value) is not annotation:
        raise ConfigError(f"{where} must be of type {annotation.__name__}, not {type(value).__name__}")
    return value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{where}]: {', '.join(sorted(unknown))}")
    instance = cls()
    for name, value in values.items():
        setattr(instance, name, _coerce(value, hints[name], f"{where}.{name}" if where else name))
    return instance


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the TOML file, then `overrides` ({"http.port": 9000, ...})."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    config = _build(Config, data, "")
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, name = dotted.rpartition(".")
        target = getattr(config, section) if section else config
        if not hasattr(target, name):
            raise ConfigError(f"unknown setting {dotted}")
        setattr(target, name, value)
    return config.validate()
