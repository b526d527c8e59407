"""Settings of what operators see: the `[log]` and `[admin]` tables (cse/config.py composes
them into `Config` and re-exports them)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .auth import StoredSecret
from .config_error import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


@dataclass
class LogSettings:
    """What the CSE logs besides `log_level` (docs/operations.md)."""

    # "text": one human line per record; "json": one JSON object per line (every record).
    format: str = "text"
    # The request log: one line per request answered on any binding (logger cse.requests,
    # INFO records, so log_level WARNING hides them too; off with --no-request-log).
    requests: bool = True
    # Where request lines go: "" = with the other logs (stderr), else this file (appended).
    request_file: str = ""

    def check(self) -> None:
        if self.format not in LOG_FORMATS:
            raise ConfigError(f"log.format must be 'text' or 'json', not {self.format!r}")


@dataclass
class AdminSettings:
    """The admin listener: /metrics and /health on a port of their own (docs/operations.md)."""

    enabled: bool = False               # on with --admin-port
    host: str = "127.0.0.1"             # loopback by default; any other address needs `token`
    port: int = 8081                    # 0 = any free port
    # Hashed bearer token (`cse hash-secret --new-token`); when set, every admin request
    # must send "Authorization: Bearer <token>".
    token: str = ""

    def check(self) -> None:
        if not 0 <= self.port < 65536:
            raise ConfigError(f"admin.port {self.port} is not a TCP port")
        if self.token:
            try:
                StoredSecret.parse(self.token)
            except ValueError as error:
                raise ConfigError(f"admin.token: {error}") from None
        elif self.enabled and not _loopback(self.host):
            raise ConfigError(f"admin.host {self.host} is not a loopback address: set admin.token "
                              "(cse hash-secret --new-token) so metrics and health are not open to all")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
