"""oneM2M release versions: which exist, their order, and which one to speak with a peer.

A request names its release in `rvi` (TS-0004 7.3.2.1, 6.4.x); entities list the releases
they speak in `srv` (supportedReleaseVersions).  This module only compares values; the
dispatcher refuses what the CSE does not support (4001), senders pick the release of a
request with `release_for`.  See docs/conformance.md, "Releases, registration and federation".
"""
from __future__ import annotations

from typing import Iterable

# Every release version value TS-0004 defines (m2m:releaseVersion), oldest first.
KNOWN_RELEASES = ("1", "2", "2a", "3", "4", "5")
_ORDER = {release: index for index, release in enumerate(KNOWN_RELEASES)}

# What a CSE accepts unless configured otherwise: what current peers (ACME: 2a,3,4,5) speak.
DEFAULT_RELEASES = ("2a", "3", "4", "5")

# The release of a request to a peer whose releases are not known yet (a registrar's CSEBase
# before it was read): the newest one every current CSE accepts.
PROBE_RELEASE = "3"


def order(release: str) -> int:
    """Position of a known release (older < newer); unknown values sort first."""
    return _ORDER.get(release, -1)


def newest(releases: Iterable[str]) -> str | None:
    known = [r for r in releases if r in _ORDER]
    return max(known, key=order) if known else None


def release_for(peer_srv: Iterable[str] | None, ours: Iterable[str], fallback: str | None = None) -> str | None:
    """The rvi of a request this CSE sends to an entity that registered `peer_srv`: the newest
    release both speak; with no common one (or no srv) the `fallback`, else our newest."""
    ours = list(ours)
    if peer_srv:
        common = set(ours).intersection(peer_srv)
        if common:
            return newest(common)
    return fallback if fallback is not None else newest(ours)


def unknown_releases(values: Iterable[object]) -> list[str]:
    """The values of a configured list that are no release version (repr'd for a message)."""
    return [repr(value) for value in values if value not in _ORDER]
