"""What a field-device driver hands back: typed results, and the errors of bad requests.

A read or a write of a point never raises because of the device: it returns one of
`Value`, `OutOfRange`, `NoAnswer`, `DeviceError` (or `Written` for a write), so that the
interworking proxy can turn each into a data point or an alarm with one `match` and keeps
running whatever the field bus does.  What *does* raise is a mistake of the caller, found
before anything is sent: an unknown point, a write to a read-only point, a value outside the
point's valid range or of the wrong type (`PointError` and its subclasses, all `ValueError`s
with a message that names the device, the point and what was wrong).  The proxy answers
those to its own client (a oneM2M 4000) instead of passing them to the device.

This module must never import a protocol library: the results are the same for Modbus and
BACnet.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Value:
    """The device answered and the value lies in the point's valid range."""

    device: str
    point: str
    value: float
    unit: str
    ok = True


@dataclass(frozen=True)
class OutOfRange:
    """The device answered, but with a value outside the point's valid range (a broken or
    disconnected sensor, a wrong scaling): never to be used as a measurement."""

    device: str
    point: str
    value: float
    unit: str
    valid: tuple[float, float]
    ok = False

    @property
    def message(self) -> str:
        lo, hi = self.valid
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.device}.{self.point} = {self.value:g}{unit} is outside its valid range [{lo:g}, {hi:g}]"


@dataclass(frozen=True)
class NoAnswer:
    """The device did not answer: connection refused or lost, or no response within the
    response timeout (also a Modbus gateway's 0x0A/0x0B: the device behind it is silent)."""

    device: str
    point: str
    reason: str
    ok = False

    @property
    def message(self) -> str:
        return f"{self.device} does not answer ({self.point}): {self.reason}"


@dataclass(frozen=True)
class DeviceError:
    """The device answered with an error (a Modbus exception response, a BACnet
    Error/Reject/Abort): it is there, but refused or could not do this request."""

    device: str
    point: str
    code: str
    reason: str
    ok = False

    @property
    def message(self) -> str:
        return f"{self.device} refused {self.point}: {self.reason} ({self.code})"


@dataclass(frozen=True)
class Written:
    """The device acknowledged the write."""

    device: str
    point: str
    value: float
    ok = True


ReadResult = Value | OutOfRange | NoAnswer | DeviceError
WriteResult = Written | NoAnswer | DeviceError


class PointError(ValueError):
    """A request the driver refuses before sending anything (the caller's mistake)."""


class UnknownPoint(PointError, KeyError):
    """The device type has no point of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReadOnlyPoint(PointError):
    """A write to a measurement."""


class InvalidValue(PointError):
    """A value to write that is outside the point's valid range, or not a finite number."""
