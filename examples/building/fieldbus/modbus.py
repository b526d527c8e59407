"""Modbus TCP driver: read and write named points of a device through its point list.

* `ModbusLink`: one TCP connection to a Modbus server (a device or a gateway), shared by
  the devices behind it; pymodbus sends one request at a time on it.  It connects on first
  use and again on the first request after the connection was refused or lost, at most once
  per request (the caller's polling paces the retries), each attempt bounded by
  `connect_timeout`; every request is bounded by `response_timeout`.
* `ModbusDevice`: one unit id with a device type's point list.  `read` / `read_many` /
  `write` return typed results (`results.py`) and never raise for anything the device or the
  network does; bad requests (unknown point, read-only point, value out of range) raise a
  `PointError` before anything is sent.  `read_many` reads adjacent registers in one request.

Must never hang (every await is bounded), and never retry a write on its own: a write that
timed out may have been applied, so the caller decides.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from .points import DeviceType, ModbusPoint
from .results import DeviceError, NoAnswer, OutOfRange, ReadResult, Value, Written, WriteResult

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   8: "memory parity error", 10: "gateway path unavailable",
                   11: "gateway target device failed to respond"}
GATEWAY_SILENT = {10, 11}  # the device behind a gateway does not answer
MAX_SPAN = 125  # registers per read request (Modbus limit)
MAX_GAP = 0  # registers between points are read only if the map says they exist: none


class _Unreachable(Exception):
    pass


class ModbusLink:
    def __init__(self, host: str, port: int, connect_timeout: float = 1.0, response_timeout: float = 1.0):
        if connect_timeout <= 0 or response_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self._client: AsyncModbusTcpClient | None = None
        self._connect_lock = asyncio.Lock()
        self.connects = 0  # successful connections, for tests and diagnostics

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def _ensure(self) -> AsyncModbusTcpClient:
        async with self._connect_lock:
            if self._client is not None and self._client.connected:
                return self._client
            self._drop()
            client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.response_timeout,
                                          retries=0, reconnect_delay=0)
            try:
                ok = await asyncio.wait_for(client.connect(), self.connect_timeout)
            except asyncio.TimeoutError:
                ok = False
                reason = f"no connection to {self.host}:{self.port} within {self.connect_timeout:g} s"
            except OSError as exc:
                ok = False
                reason = f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}"
            else:
                reason = f"connection to {self.host}:{self.port} refused"
            if not ok:
                client.close()
                raise _Unreachable(reason)
            self._client = client
            self.connects += 1
            return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def request(self, send) -> object:
        """Run `send(client)` (a pymodbus request coroutine) within the timeouts.  Returns
        the pymodbus response, or raises `_Unreachable` with the reason."""
        client = await self._ensure()
        try:
            return await asyncio.wait_for(send(client), self.response_timeout + 0.5)
        except asyncio.TimeoutError:
            raise _Unreachable(f"no response within {self.response_timeout:g} s") from None
        except ConnectionException as exc:
            self._drop()
            raise _Unreachable(f"connection lost ({exc})") from None
        except ModbusException as exc:  # no response; pymodbus may have closed the connection
            if not client.connected:
                self._drop()
            text = str(exc)
            reason = f"no response within {self.response_timeout:g} s" if "No response" in text else text
            raise _Unreachable(reason) from None
        except OSError as exc:
            self._drop()
            raise _Unreachable(f"connection error: {exc}") from None

    async def close(self) -> None:
        self._drop()
        await asyncio.sleep(0)


class ModbusDevice:
    """One Modbus device (unit id) described by a point list."""

    def __init__(self, link: ModbusLink, unit: int, device_type: DeviceType, name: str | None = None):
        if device_type.protocol != "modbus":
            raise ValueError(f"{device_type.name}: not a Modbus point list")
        if not 0 <= unit <= 255:
            raise ValueError(f"unit id must lie in 0..255, not {unit}")
        self.link, self.unit, self.type = link, unit, device_type
        self.name = name or f"{device_type.name}@{link.host}:{link.port}/{unit}"

    async def read(self, point: str) -> ReadResult:
        return (await self.read_many([point]))[point]

    async def read_many(self, points: Iterable[str] | None = None) -> dict[str, ReadResult]:
        """Read the named points (default: all), adjacent registers in one request each."""
        names = list(self.type.points) if points is None else list(points)
        specs = [self.type.point(n, self.name) for n in names]
        results: dict[str, ReadResult] = {}
        for table, span in _spans(specs):
            first = span[0].address
            count = span[-1].address + span[-1].count - first
            read = "read_holding_registers" if table == "holding" else "read_input_registers"
            try:
                response = await self.link.request(
                    lambda c, read=read, first=first, count=count: getattr(c, read)(first, count=count, device_id=self.unit))
            except _Unreachable as exc:
                for p in span:
                    results[p.name] = NoAnswer(self.name, p.name, str(exc))
                continue
            failure = self._failure(response, span)
            if failure is not None:
                results.update(failure)
                continue
            registers = list(response.registers)
            for p in span:
                offset = p.address - first
                results[p.name] = self._value(p, p.decode(registers[offset:offset + p.count]))
        return {n: results[n] for n in names}

    async def write(self, point: str, value: float) -> WriteResult:
        """Write a setpoint or command; the value is checked against the point list first."""
        spec = self.type.writable_point(point, value, self.name)
        registers = spec.encode(value)
        if len(registers) == 1:
            send = lambda c: c.write_register(spec.address, registers[0], device_id=self.unit)  # noqa: E731
        else:
            send = lambda c: c.write_registers(spec.address, registers, device_id=self.unit)  # noqa: E731
        try:
            response = await self.link.request(send)
        except _Unreachable as exc:
            return NoAnswer(self.name, point, str(exc))
        failure = self._failure(response, [spec])
        if failure is not None:
            return failure[point]
        return Written(self.name, point, spec.decode(registers))

    def _failure(self, response, span: list[ModbusPoint]) -> dict[str, NoAnswer | DeviceError] | None:
        if not response.isError():
            return None
        code = getattr(response, "exception_code", 0)
        reason = EXCEPTION_NAMES.get(code, f"exception {code}")
        if code in GATEWAY_SILENT:
            return {p.name: NoAnswer(self.name, p.name, f"gateway: {reason}") for p in span}
        return {p.name: DeviceError(self.name, p.name, f"modbus-exception-{code}", reason) for p in span}

    def _value(self, point: ModbusPoint, value: float) -> Value | OutOfRange:
        if point.in_range(value):
            return Value(self.name, point.name, value, point.unit)
        return OutOfRange(self.name, point.name, value, point.unit, point.valid)


def _spans(points: list[ModbusPoint]) -> list[tuple[str, list[ModbusPoint]]]:
    """Group points into read requests: per table, by address, merging small gaps."""
    spans: list[tuple[str, list[ModbusPoint]]] = []
    for table in ("holding", "input"):
        chosen = sorted({p.name: p for p in points if p.table == table}.values(), key=lambda p: p.address)
        current: list[ModbusPoint] = []
        for p in chosen:
            if current:
                end = current[-1].address + current[-1].count
                if p.address - end > MAX_GAP or p.address + p.count - current[0].address > MAX_SPAN:
                    spans.append((table, current))
                    current = []
            current.append(p)
        if current:
            spans.append((table, current))
    return spans
