"""Request and response primitives that every binding's codec must carry unchanged, one row
per parameter (tests/bindings/test_{http,coap,mqtt}_codec.py run them through their wire).
A binding adds the rows only it can carry, and tests what its wire normalises separately."""
from __future__ import annotations

BASE = dict(op=2, to="cse-in/meter", fr="Cmeter", rqi="r1", rvi="3")
CIN = {"m2m:cin": {"con": "1530", "lbl": ["energy"]}}

# (name, request fields beyond BASE)
REQUESTS = [
    ("retrieve", {}),
    ("create with ty and content", dict(op=1, ty=4, pc=CIN)),
    ("update", dict(op=3, pc={"m2m:cnt": {"mni": 5}})),
    ("delete", dict(op=4)),
    ("notify", dict(op=5, pc={"m2m:sgn": {"sur": "/id-in/sub1", "nev": {"net": 3}}})),
    ("sp-relative to", dict(to="/id-in/cse-in/meter")),
    ("absolute to", dict(to="//onem2m.example.net/id-in/cse-in/meter")),
    ("the CSE itself", dict(to="/id-in")),
    ("to with characters a URI reserves", dict(to="cse-in/a b%20c?d=e;f&g")),
    ("to with non-ASCII", dict(to="cse-in/zähler")),
    ("sp-relative originator", dict(fr="/id-mn/Cmeter")),
    ("absolute originator", dict(fr="//sp/id-mn/Cmeter")),
    ("rvi", dict(rvi="2a")),
    ("rcn", dict(rcn=4)),
    ("rt", dict(rt=3)),
    ("rt with notification targets", dict(rt=2, rtu=["http://127.0.0.1:9/n", "Capp"])),
    ("drt", dict(drt=2)),
    ("rp", dict(rp="PT1H")),
    ("ot", dict(ot="20250101T000000")),
    ("rqet", dict(rqet="20991231T235959")),
    ("rset", dict(rset="20991231T235959")),
    ("oet", dict(oet="100")),
    ("ec", dict(ec=2)),
    ("gid", dict(gid="group-1")),
    ("vsi", dict(vsi="vendor;x=1")),
    ("filter criteria", dict(fc={"fu": 1, "ty": [3, 4], "lbl": ["energy", "meter:elec"], "lim": 10,
                                 "cra": "20250101T000000", "cty": ["application/json"], "lvl": 2,
                                 "ofst": 1, "sts": 3, "stb": 1, "sza": 10, "szb": 1000, "arp": "la"})),
    ("attribute filters", dict(fc={"fu": 1, "atr": [{"nm": "rn", "val": "power"}, {"nm": "con", "val": "a&b=c"}]})),
]

# (name, operation answered, response fields beyond rqi and rvi)
RESPONSES = [
    ("ok", 2, dict(rsc=2000, pc={"m2m:cb": {"csi": "/id-in"}})),
    ("created", 1, dict(rsc=2001, pc=CIN)),
    ("deleted", 4, dict(rsc=2002)),
    ("updated", 3, dict(rsc=2004, pc={"m2m:cnt": {"mni": 5}})),
    ("notified", 5, dict(rsc=2000)),
    ("accepted", 1, dict(rsc=1001, pc={"m2m:uri": "cse-in/req1"})),
    ("error", 2, dict(rsc=4004, pc={"m2m:dbg": "cse-in/x does not exist"})),
    ("rvi", 2, dict(rsc=2000, rvi="2a")),
    ("ot", 2, dict(rsc=2000, ot="20250101T000000")),
    ("rset", 2, dict(rsc=2000, rset="20991231T235959")),
    ("ec", 2, dict(rsc=2000, ec=3)),
    ("partial content", 2, dict(rsc=2000, cnst=2, cnot=10, pc={"m2m:uril": ["a"]})),
    ("vsi", 2, dict(rsc=2000, vsi="vendor")),
]

# Where a created resource is, for the bindings that have a place for it.
LOCATIONS = [
    ("created, CSE-relative location", 1, dict(rsc=2001, pc=CIN, content_location="cse-in/meter/power/cin1")),
    ("created, SP-relative location", 1, dict(rsc=2001, content_location="/id-mn/cse-mn/x")),
    ("created, absolute location", 1, dict(rsc=2001, content_location="//sp/id-mn/cse-mn/x")),
]


def names(rows: list[tuple]) -> list[str]:
    return [row[0] for row in rows]
