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
* with `required`, every request must be authenticated;
* a verified TLS client certificate authenticates exactly the originator it names: a
  request on its connection that claims any other originator is refused.

Bindings without a credential on the wire (MQTT, CoAP) call `authenticate(request, None)`:
the same rules then refuse every protected originator, and everything under `required`.

A successful check is remembered (as an HMAC of originator and secret under a key that
lives only in memory), so the slow hash is paid once per credential and process, not per
request.  Hash computations run in a worker thread, one at a time, so a flood of wrong
passwords can neither block the event loop nor take more than one core.

Wrong-password floods must not lock a legitimate AE out, so failures are counted per source
address and per credential (originator), over FAILURE_WINDOW seconds:

* a source with SOURCE_FAILURES failures is refused without a hash until its failures age
  out, and it may have at most SOURCE_PENDING checks waiting;
* a credential with CREDENTIAL_FAILURES failures is checked only for sources without
  failures of their own (an attacker guessing one AE's password does not lock that AE out
  of a login from elsewhere);
* the one hash worker serves sources without failures first: a correct first login waits
  for at most the check running now and other clean ones, never behind a flood.

What this module must never do: keep or log a secret in clear text, compare secrets in
a way that leaks timing, or let a request through whose credential did not verify.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import heapq
import hmac
import itertools
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from .errors import RSC, OneM2MError

if TYPE_CHECKING:
    from .primitives import Request

SCHEME = "pbkdf2-sha256"
DEFAULT_ITERATIONS = 600_000      # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 1_000
MAX_PENDING_CHECKS = 32           # hash computations queued at once per priority; more are refused
CACHE_LIMIT = 10_000
FAILURE_WINDOW = 60.0             # seconds a failed attempt counts
SOURCE_FAILURES = 10              # failures of one source address before it is refused outright
SOURCE_PENDING = 2                # checks one source may have waiting at once
CREDENTIAL_FAILURES = 20          # failures for one originator before sources with failures are refused
TRACKED_LIMIT = 10_000            # sources / credentials whose failures are remembered


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
        self._pending = [0, 0]          # checks waiting or running, by priority (0 = clean source)
        self._by_source: dict[str, int] = {}
        self._hashing = False           # the one hash worker is busy
        self._queue: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._source_failures: dict[str, deque[float]] = {}
        self._credential_failures: dict[str, deque[float]] = {}
        self._running: dict[bytes, asyncio.Future] = {}

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
            if not await self._verify(originator, secret, stored, request.remote_address):
                raise _refuse(f"the credential does not match originator {request.fr!r}")
            return dataclasses.replace(request, authenticated=True)
        if peer_name:
            # A verified client certificate authenticates exactly the originator it names:
            # on its connection no other originator may be claimed, with or without
            # credentials of its own (else the certificate holder could act as anyone
            # unprotected while looking authenticated at the TLS level).
            if originator and self.normalize(peer_name) == originator:
                return dataclasses.replace(request, authenticated=True)
            raise _refuse(f"the TLS client certificate authenticates {peer_name!r}; it cannot send "
                          f"requests as {request.fr!r}")
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

    async def _verify(self, originator: str, secret: str, stored: tuple[StoredSecret, ...],
                      source: str | None = None) -> bool:
        key = hmac.new(self._cache_key, originator.encode("utf-8", "surrogatepass") + b"\0" +
                       secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        source = source or "?"
        now = time.monotonic()
        source_failures = _recent(self._source_failures.get(source), now)
        if source_failures >= SOURCE_FAILURES:
            raise _refuse(f"too many failed authentication attempts from {source}; retry in "
                          f"{FAILURE_WINDOW:g} s")
        known = self._verified.get(key)
        if known is None:
            running = self._running.get(key)
            if running is not None:           # the same credential is being checked: share it
                known = await asyncio.shield(running)
            else:
                known = await self._hash(key, secret, stored, originator, source, source_failures, now)
        if not known:
            _count(self._source_failures, source, now)
            _count(self._credential_failures, originator, now)
        return bool(known)

    async def _hash(self, key: bytes, secret: str, stored: tuple[StoredSecret, ...], originator: str,
                    source: str, source_failures: int, now: float) -> bool:
        priority = 1 if source_failures else 0
        if priority and _recent(self._credential_failures.get(originator), now) >= CREDENTIAL_FAILURES:
            raise _refuse(f"too many failed authentication attempts for {originator!r}; retry in "
                          f"{FAILURE_WINDOW:g} s")
        if self._by_source.get(source, 0) >= SOURCE_PENDING:
            raise _refuse(f"authentication checks from {source} are already running; retry later")
        if self._pending[priority] >= MAX_PENDING_CHECKS:
            raise _refuse("too many authentication attempts are being checked; retry later")
        result = asyncio.get_running_loop().create_future()
        self._running[key] = result
        self._pending[priority] += 1
        self._by_source[source] = self._by_source.get(source, 0) + 1
        try:
            await self._take_worker(priority)
            try:
                loop = asyncio.get_running_loop()
                verified = await loop.run_in_executor(None, lambda: any([s.matches(secret) for s in stored]))
            finally:
                self._give_worker()
        except BaseException as error:
            result.set_exception(error)
            result.exception()              # retrieved: sharers get it through their shield
            raise
        finally:
            self._pending[priority] -= 1
            left = self._by_source.pop(source) - 1
            if left:
                self._by_source[source] = left
            del self._running[key]
        if len(self._verified) >= CACHE_LIMIT:
            self._verified.clear()
        self._verified[key] = verified
        result.set_result(verified)
        return verified

    # -- the one hash worker, served by priority (clean sources first), FIFO within one ------
    async def _take_worker(self, priority: int) -> None:
        if not self._hashing:
            self._hashing = True
            return
        handed = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, next(self._order), handed))
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._give_worker()          # it was handed over just as we were cancelled
            raise

    def _give_worker(self) -> None:
        while self._queue:
            _, _, waiter = heapq.heappop(self._queue)
            if not waiter.done():
                waiter.set_result(None)     # the worker passes on: _hashing stays True
                return
        self._hashing = False


def _recent(failures: "deque[float] | None", now: float) -> int:
    if not failures:
        return 0
    while failures and failures[0] <= now - FAILURE_WINDOW:
        failures.popleft()
    return len(failures)


def _count(table: dict[str, "deque[float]"], name: str, now: float) -> None:
    failures = table.get(name)
    if failures is None:
        if len(table) >= TRACKED_LIMIT:
            for stale in [n for n, f in table.items() if not _recent(f, now)] or list(table)[:len(table) // 2]:
                del table[stale]
        failures = table[name] = deque(maxlen=max(SOURCE_FAILURES, CREDENTIAL_FAILURES))
    failures.append(now)
