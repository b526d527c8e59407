"""Keeping this CSE registered with its registrar (TS-0001 10.2.2.7, reference 11.1).

A background task started with the CSE (only when `[registrar] url` is set):
- register: read the registrar's CSEBase (and check it is the configured CSE), CREATE our
  remoteCSE there, then record the registrar locally as a remoteCSE.  A 4117 (4105) means our
  record is still there from before a restart of ours: it is updated instead (new poa);
- keep-alive: every `keepalive` seconds RETRIEVE our record at the registrar; gone (4004,
  e.g. the registrar restarted with empty storage, or an admin deleted it) -> register
  again; attributes out of date (poa, dcse after a registree came or went), or an
  expiration time the registrar gave it about to pass -> UPDATE;
- the registrar unreachable -> retry with exponential back-off, change nothing.
Nothing is deleted on shutdown unless `deregister_on_shutdown` is set: deleting our record
at the registrar deletes everything the IN side keeps under it, and a gateway restart must
not do that.  `deregister()` is the explicit way.

It talks to the registrar directly through `Outbound` (not through forwarding) and to this
CSE only through the dispatcher's entry point, so the local record obeys the same rules as
any other.  It learns that our registrees changed from `RegistreeWatch` (an event sink).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import TYPE_CHECKING, Any, Callable

from cse.clock import format_timestamp, parse_timestamp
from cse.errors import RSC, OneM2MError
from cse.primitives import Handler, Operation, Request, Response
from cse.releases import PROBE_RELEASE, release_for
from cse.resource_types import CseType, Ty
from cse.tasks import cancel_and_wait

from .forwarding import cse_url, debug_text

if TYPE_CHECKING:
    from cse.clock import Clock
    from cse.config import Config
    from cse.outbound import Outbound

    from .routing import RegistreeWatch, Routes

log = logging.getLogger(__name__)

SERIALIZATIONS = ["application/json", "application/cbor"]
RELEASE = PROBE_RELEASE     # until the registrar's CSEBase (its srv) has been read


class RegistrationFailed(Exception):
    """This attempt did not succeed; the message says why (logged, then retried)."""


class RegistrationAgent:
    def __init__(self, config: "Config", dispatch: Handler, clock: "Clock", routes: "Routes",
                 watch: "RegistreeWatch", outbound: "Outbound",
                 on_new_record: "Callable[[str], None] | None" = None):
        self.settings = config.registrar
        # Told the registrar's CSE-ID when our record there had to be made anew (it had none:
        # what we kept there, e.g. announced resources, is gone too).
        self.on_new_record = on_new_record
        self.own_id = config.cse.cse_id
        self.own_rn = config.cse.rn
        self.own_type = int(CseType.named(config.cse.type))
        self.releases = list(config.cse.supported_releases)
        # rvi of our requests: the newest release the registrar lists in its srv, once read.
        self.rvi = RELEASE if RELEASE in self.releases else release_for(None, self.releases)
        self.dispatch = dispatch        # this CSE's dispatcher, for our record of the registrar
        self.clock = clock
        self.routes = routes
        self.outbound = outbound
        self.poa: list[str] = []
        # Our record at the registrar, addressed by the name we gave it.
        self.remote_record = f"{self.settings.rn}/{self.own_id[1:]}"
        self.registered = False
        self.registrations = 0              # successful (re-)registrations since start
        self.last_error: str | None = None
        self._changed = asyncio.Event()     # set on every change of the state above
        self._wake = watch.changed          # our registrees changed
        self._reported_dcse: list[str] | None = None     # our dcse as the registrar last had it
        self._task: asyncio.Task | None = None
        self._rqi = itertools.count(1)
        self._rqi_prefix = f"{self.own_id[1:]}-reg-{secrets.token_hex(3)}-"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, poa: list[str]) -> None:
        self.poa = list(poa)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="registration")

    async def stop(self) -> None:
        await self._stop_task()
        if self.settings.deregister_on_shutdown and self.registered:
            await self.deregister()

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def wait_until(self, registrations: int, timeout: float) -> None:
        """Wait until at least `registrations` registrations succeeded (tests, tools)."""
        async with asyncio.timeout(timeout):
            while self.registrations < registrations:
                self._changed.clear()
                await self._changed.wait()

    async def _run(self) -> None:
        delay = self.settings.retry_min
        while True:
            try:
                if self.registered:
                    await self._keep_alive()
                else:
                    await self._register()
                delay = self.settings.retry_min
                wait, wakeable = self.settings.keepalive, True
                if self.last_error is not None:
                    log.info("registration with %s is fine again", self.settings.cse_id)
                    self.last_error = None
            except RegistrationFailed as failure:
                if str(failure) != self.last_error:
                    log.warning("registration with %s at %s: %s (retrying)", self.settings.cse_id,
                                self.settings.url, failure)
                self.last_error = str(failure)
                self._signal()
                wait, wakeable, delay = delay, False, min(delay * 2, self.settings.retry_max)
            except Exception:
                log.exception("registration with %s failed unexpectedly; retrying", self.settings.cse_id)
                wait, wakeable, delay = delay, False, min(delay * 2, self.settings.retry_max)
            await self._pause(wait, wakeable=wakeable)

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        """Wait until the next check is due.

        While registered (`wakeable`), a change of our descendants brings it forward, after
        `retry_min` so that a burst of changes makes one UPDATE; changes that leave our dcse
        as reported (a registree's new poa, our own record of the registrar) do not.  A
        back-off is never cut short: a busy registree must not make us hammer a registrar
        that is down (the next attempt sends the dcse of that moment anyway)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while wakeable:
            try:
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation
                # that arrives as the event is set, and stop() would wait forever.
                async with asyncio.timeout_at(deadline):
                    await self._wake.wait()
            except TimeoutError:
                return
            self._wake.clear()
            await asyncio.sleep(max(0.0, min(self.settings.retry_min, deadline - loop.time())))
            if self.routes.descendants() != self._reported_dcse:
                return
        await asyncio.sleep(max(0.0, deadline - loop.time()))

    def _signal(self) -> None:
        self._changed.set()

    # -- the steps ----------------------------------------------------------------------
    def desired(self) -> dict[str, Any]:
        """Attributes of our record that can change while we live."""
        reachable = bool(self.poa) and self.settings.request_reachable      # else: it polls (rr=false)
        return {"poa": self.poa, "rr": reachable, "srv": self.releases, "csz": SERIALIZATIONS,
                "dcse": self.routes.descendants()}

    async def _register(self) -> None:
        registrar_base = await self._registrar_base()
        record = {"rn": self.own_id[1:], "cb": f"{self.own_id}/{self.own_rn}", "csi": self.own_id,
                  "cst": self.own_type, **self.desired()}
        created = await self._send(Operation.CREATE, self.settings.rn, ty=Ty.CSR,
                                   pc={"m2m:csr": record})
        if created.rsc in (RSC.CONFLICT, RSC.ORIGINATOR_HAS_ALREADY_REGISTERED):
            # Our record survived a restart of ours: bring it up to date.
            updated = await self._send(Operation.UPDATE, self.remote_record, pc={"m2m:csr": self.desired()})
            if updated.rsc != RSC.UPDATED:
                raise RegistrationFailed(f"our remoteCSE exists but could not be updated: "
                                         f"{updated.rsc} {debug_text(updated)} (CREATE said: {debug_text(created)})")
        elif created.rsc != RSC.CREATED:
            raise RegistrationFailed(f"the registrar refused the registration: {created.rsc} {debug_text(created)}")
        elif self.on_new_record is not None:
            self.on_new_record(self.settings.cse_id)
        self._reported_dcse = record["dcse"]
        await self._record_registrar(registrar_base)
        self.registered = True
        self.registrations += 1
        log.info("registered with %s at %s as %s", self.settings.cse_id, self.settings.url, self.own_id)
        self._signal()

    async def _registrar_base(self) -> dict:
        response = await self._send(Operation.RETRIEVE, self.settings.rn)
        if response.rsc != RSC.OK or not isinstance(response.pc, dict) or "m2m:cb" not in response.pc:
            raise RegistrationFailed(f"cannot read the registrar's CSEBase {self.settings.rn!r}: "
                                     f"{response.rsc} {debug_text(response)}")
        base = response.pc["m2m:cb"]
        srv = base.get("srv")
        self.rvi = release_for(srv if isinstance(srv, list) else None, self.releases, self.rvi)
        if base.get("csi") != self.settings.cse_id:
            raise RegistrationFailed(f"the CSE at {self.settings.url} is {base.get('csi')!r}, not "
                                     f"{self.settings.cse_id} as configured (registrar.cse_id)")
        return base

    async def _keep_alive(self) -> None:
        response = await self._send(Operation.RETRIEVE, self.remote_record)
        if response.rsc == RSC.NOT_FOUND:
            log.warning("%s no longer knows this CSE; registering again", self.settings.cse_id)
            self.registered = False
            self._signal()
            await self._register()
            return
        if response.rsc != RSC.OK or not isinstance(response.pc, dict) or "m2m:csr" not in response.pc:
            raise RegistrationFailed(f"keep-alive RETRIEVE of {self.remote_record!r} answered "
                                     f"{response.rsc} {debug_text(response)}")
        current = response.pc["m2m:csr"]
        desired = self.desired()
        stale = {name: value for name, value in desired.items() if _or_empty(current.get(name)) != _or_empty(value)}
        renewal = self._renewal(current)
        if renewal is not None:
            stale["et"] = renewal
        if stale:
            updated = await self._send(Operation.UPDATE, self.remote_record, pc={"m2m:csr": stale})
            if updated.rsc != RSC.UPDATED:
                raise RegistrationFailed(f"updating our remoteCSE ({', '.join(stale)}) answered "
                                         f"{updated.rsc} {debug_text(updated)}")
        self._reported_dcse = desired["dcse"]
        if self.routes.record(self.settings.cse_id, self._now_ts()) is None:
            await self._record_registrar(await self._registrar_base())

    def _renewal(self, record: dict) -> str | None:
        """A new expirationTime for our record at the registrar, if it gave the record a
        lifetime (its default for resources created without `et`) that ends before the
        keep-alive after next: the same lifetime again, from now.  Else the registration
        would lapse, and routes to us break until a keep-alive noticed it."""
        try:
            expires = parse_timestamp(record["et"])
            lifetime = expires - parse_timestamp(record["ct"])
        except (KeyError, OneM2MError):
            return None
        now = self.clock.now()
        if lifetime <= 0 or expires - now > 2 * self.settings.keepalive + self.settings.timeout:
            return None
        return format_timestamp(now + lifetime)

    async def _record_registrar(self, base: dict) -> None:
        """Create (or refresh) the local remoteCSE describing the registrar."""
        registrar_id = self.settings.cse_id
        attributes = {"poa": [self.settings.url], "rr": True, "srv": list(base.get("srv") or [RELEASE])}
        record = {"rn": registrar_id[1:], "cb": f"{registrar_id}/{base.get('rn', self.settings.rn)}",
                  "csi": registrar_id, **attributes}
        if base.get("cst") in (1, 2, 3):
            record["cst"] = base["cst"]
        for name in ("spi", "ici"):         # R5: SP-ID and IN-CSE-ID of the registrar's side
            if isinstance(base.get(name), str):
                attributes[name] = record[name] = base[name]
        created = await self._local(Operation.CREATE, self.own_rn, ty=Ty.CSR, pc={"m2m:csr": record})
        if created.rsc != RSC.CREATED:
            existing = self.routes.record(registrar_id, self._now_ts())
            if created.rsc == RSC.CONFLICT and existing is not None and existing.get("_registrar"):
                created = await self._local(Operation.UPDATE, registrar_id[1:], pc={"m2m:csr": attributes})
            if created.rsc not in (RSC.CREATED, RSC.UPDATED):
                raise RegistrationFailed(f"cannot record the registrar locally: {created.rsc} {debug_text(created)}")
        # A record of a former registrar (this CSE was moved to another one) is no route any more.
        for former in self.routes.former_registrars():
            removed = await self._local(Operation.DELETE, former[1:])
            if removed.rsc == RSC.DELETED:
                log.info("removed the record of %s, our registrar before %s", former, registrar_id)

    async def deregister(self) -> None:
        """Delete our record at the registrar and the local record of the registrar, and stop
        keeping the registration alive: the keep-alive would otherwise register again at once."""
        await self._stop_task()
        response = await self._send(Operation.DELETE, self.remote_record)
        if response.rsc not in (RSC.DELETED, RSC.NOT_FOUND):
            log.warning("deregistration at %s answered %s %s", self.settings.cse_id, response.rsc,
                        debug_text(response))
        local = await self._local(Operation.DELETE, self.settings.cse_id[1:])
        if local.rsc not in (RSC.DELETED, RSC.NOT_FOUND):
            log.warning("removing the local record of %s answered %s %s", self.settings.cse_id, local.rsc,
                        debug_text(local))
        self.registered = False
        self._signal()
        log.info("deregistered from %s", self.settings.cse_id)

    # -- sending ------------------------------------------------------------------------
    def _request(self, op: int, to: str, **fields: Any) -> Request:
        return Request(op=op, to=to, fr=self.own_id, rqi=f"{self._rqi_prefix}{next(self._rqi)}",
                       rvi=self.rvi, **fields)

    async def _send(self, op: int, to: str, **fields: Any) -> Response:
        """To the registrar; an unreachable registrar ends this attempt."""
        url = cse_url(self.settings.url, self.own_id, self.settings.cse_id)
        response = await self.outbound.send(url, self._request(op, to, **fields), timeout=self.settings.timeout)
        if response.rsc == RSC.TARGET_NOT_REACHABLE:
            raise RegistrationFailed(f"the registrar is not reachable: {debug_text(response)}")
        return response

    async def _local(self, op: int, to: str, **fields: Any) -> Response:
        return await self.dispatch(self._request(op, to, **fields))

    def _now_ts(self) -> str:
        return format_timestamp(self.clock.now())


def _or_empty(value: Any) -> Any:
    """An absent list attribute equals an empty one."""
    return [] if value is None else value
