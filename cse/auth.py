"""Originator authentication: is the sender of a request really the originator it names?

Credentials (passwords for HTTP Basic, or bearer tokens) are bound to originators in the
configuration and stored only as salted PBKDF2-HMAC-SHA256 hashes
(`pbkdf2-sha256$<iterations>$<salt>$<hash>`, made by `cse hash-secret`).  A binding hands
over what the wire carried (the Authorization header, the name in a verified TLS client
certificate); `Authenticator.authenticate` either marks the request authenticated or
refuses it with 4106 ORIGINATOR_NOT_AUTHENTICATED:

* a credential that does not belong to the request's originator is refused;
* an originator that has credentials configured must present one (or a client
  certificate in its name): nobody else can speak as it;
* the `protected` originators (the CSE's own CSE-ID, which the access rules treat as
  all-powerful) are handled like those: never a mere claim while authentication is on;
* with `required`, every request must be authenticated.

Bindings without a credential on the wire (MQTT, CoAP) call `authenticate(request, None)`:
the same rules then refuse every protected originator, and everything under `required`.

A successful check is remembered (as an HMAC of originator and secret under a key that
lives only in memory), so the slow hash is paid once per credential and process, not per
request.  Hash computations run in a worker thread, one at a time, so a flood of wrong
passwords can neither block the event loop nor take more than one core.

What this module must never do: keep or log a secret in clear text, compare secrets in
a way that leaks timing, or let a request through whose credential did not verify.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from .errors import RSC, OneM2MError

if TYPE_CHECKING:
    from .primitives import Request

SCHEME = "pbkdf2-sha256"
DEFAULT_ITERATIONS = 600_000      # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 1_000
MAX_PENDING_CHECKS = 32           # hash computations queued at once; more are refused
CACHE_LIMIT = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The configuration form of a secret."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def new_token() -> str:
    """A random bearer token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class StoredSecret:
    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> "StoredSecret":
        parts = text.split("$") if isinstance(text, str) else []
        if len(parts) != 4 or parts[0] != SCHEME:
            raise ValueError(f"not a '{SCHEME}$iterations$salt$hash' value (make one with `cse hash-secret`)")
        try:
            iterations = int(parts[1])
            salt, digest = _unb64(parts[2]), _unb64(parts[3])
        except (ValueError, binascii.Error):
            raise ValueError("iterations, salt or hash cannot be decoded") from None
        if iterations < MIN_ITERATIONS or len(salt) < 8 or len(digest) != 32:
            raise ValueError(f"needs >= {MIN_ITERATIONS} iterations, a salt of >= 8 bytes "
                             "and a 32-byte hash")
        return cls(iterations, salt, digest)

    def matches(self, secret: str) -> bool:
        candidate = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8", "surrogatepass"),
                                        self.salt, self.iterations)
        return hmac.compare_digest(candidate, self.digest)


def parse_credentials(credentials: dict) -> dict[str, tuple[StoredSecret, ...]]:
    """originator -> stored secrets; ValueError naming the originator when one is malformed."""
    parsed = {}
    for originator, values in credentials.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values:
            raise ValueError(f"auth.credentials.{originator} must be a list of hashed secrets")
        try:
            parsed[originator] = tuple(StoredSecret.parse(v) for v in values)
        except ValueError as error:
            raise ValueError(f"auth.credentials.{originator}: {error}") from None
    return parsed


def _refuse(message: str) -> OneM2MError:
    return OneM2MError(RSC.ORIGINATOR_NOT_AUTHENTICATED, message)


class AuthSettingsView(Protocol):
    """What the authenticator reads of `[auth]` (cse.config.AuthSettings, which checks its
    credentials with `parse_credentials` from here)."""

    required: bool
    credentials: dict


class Authenticator:
    def __init__(self, settings: AuthSettingsView, normalize: Callable[[str], str] = lambda o: o,
                 protected: Iterable[str] = ()):
        self.required = settings.required
        self.normalize = normalize
        self.credentials = {normalize(o): s for o, s in parse_credentials(settings.credentials).items()}
        self.protected = frozenset(normalize(o) for o in protected)
        self._cache_key = os.urandom(32)
        self._verified: dict[bytes, bool] = {}
        self._slot: asyncio.Semaphore | None = None
        self._pending = 0

    @property
    def active(self) -> bool:
        """Whether there is anything to check at all."""
        return self.required or bool(self.credentials)

    async def authenticate(self, request: "Request", authorization: str | None,
                           peer_name: str | None = None) -> "Request":
        """The request, marked `authenticated` when its credentials or its TLS client
        certificate prove `fr` (a copy: requests are frozen), or a 4106 refusal."""
        originator = self.normalize(request.fr) if isinstance(request.fr, str) and request.fr else None
        if authorization:
            secret = self._secret_for(originator, authorization)
            if originator is None:
                raise _refuse("a request with credentials must name its originator (X-M2M-Origin)")
            stored = self.credentials.get(originator)
            if not stored:
                raise _refuse(f"no credentials are configured for originator {request.fr!r}")
            if not await self._verify(originator, secret, stored):
                raise _refuse(f"the credential does not match originator {request.fr!r}")
            return dataclasses.replace(request, authenticated=True)
        if peer_name and originator and self.normalize(peer_name) == originator:
            return dataclasses.replace(request, authenticated=True)
        if originator in self.credentials or originator in self.protected:
            raise _refuse(f"originator {request.fr!r} must authenticate (Authorization header "
                          "with its password or token, or a TLS client certificate; MQTT and "
                          "CoAP requests cannot)")
        if self.required:
            raise _refuse("this CSE accepts only authenticated requests (Authorization header "
                          "or a TLS client certificate naming the originator)")
        return request

    def _secret_for(self, originator: str | None, authorization: str) -> str:
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer" and value:
            return value
        if scheme == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise _refuse("the Basic credential is not base64 of 'originator:password'") from None
            user, colon, password = decoded.partition(":")
            if not colon:
                raise _refuse("the Basic credential is not base64 of 'originator:password'")
            if originator is not None and self.normalize(user) != originator:
                raise _refuse(f"the credential is for {user!r}, but the request's originator is "
                              f"{originator!r}")
            return password
        raise _refuse("the Authorization header must be 'Basic <base64>' or 'Bearer <token>'")

    async def _verify(self, originator: str, secret: str, stored: tuple[StoredSecret, ...]) -> bool:
        key = hmac.new(self._cache_key, originator.encode("utf-8", "surrogatepass") + b"\0" +
                       secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        known = self._verified.get(key)
        if known is not None:
            return known
        if self._pending >= MAX_PENDING_CHECKS:
            raise _refuse("too many authentication attempts are being checked; retry later")
        if self._slot is None:
            self._slot = asyncio.Semaphore(1)
        self._pending += 1
        try:
            async with self._slot:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(
                    None, lambda: any([s.matches(secret) for s in stored]))
        finally:
            self._pending -= 1
        if len(self._verified) >= CACHE_LIMIT:
            self._verified.clear()
        self._verified[key] = result
        return result
