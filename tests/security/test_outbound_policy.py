"""The outbound policy (issue 18): nu and poa cannot make the CSE connect anywhere."""
from __future__ import annotations

import pytest

from bindings.http_client import HttpSender
from cse.config import ConfigError
from cse.outbound import Outbound
from cse.outbound_policy import OutboundPolicy, parse_networks
from cse.primitives import Operation, Request
from server.compose import build_cse
from tests.conftest import CoreClient, make_config
from tests.notify.receiver import Receiver

METADATA = ["http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/latest",
            "http://[fe80::1]:8080/n", "http://[::ffff:169.254.169.254]/n", "http://169.254.1.2:9/n",
            "coap://169.254.169.254/n", "mqtt://[fe80::2]:1883"]


async def started(**settings) -> tuple:
    cse = build_cse(make_config(**settings))
    await cse.start()
    core = CoreClient(cse)
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    return cse, core


@pytest.mark.parametrize("url", METADATA)
async def test_link_local_and_metadata_targets_are_refused_by_default(url):
    cse, core = await started()
    try:
        outbound_scheme = url.split("://")[0]
        response = await core.create("cse-in/meter/power", 23, {"m2m:sub": {"nu": [url]}}, fr="Cmeter")
        assert response.rsc == 4000, response.pc
        message = response.pc["m2m:dbg"]
        # Refused for its address (or, with no sender for the scheme in this core-only CSE,
        # for that; the policy is checked in the AE poa below whatever the scheme).
        assert "outbound.deny_networks" in message or f"over {outbound_scheme}" in message
        response = await core.register_ae("Cpoa", rn="poa", poa=[url])
        assert response.rsc == 4000 and "outbound.deny_networks" in response.pc["m2m:dbg"], response.pc
        response = await core.request(3, "Cmeter", "Cmeter", pc={"m2m:ae": {"poa": [url]}})
        assert response.rsc == 4000 and "outbound.deny_networks" in response.pc["m2m:dbg"], response.pc
    finally:
        await cse.stop()


async def test_loopback_is_allowed_by_default_and_a_deployment_can_deny_it():
    cse, core = await started()
    try:
        assert (await core.register_ae("Cloop", rn="loop", poa=["http://127.0.0.1:9"])).rsc == 2001
    finally:
        await cse.stop()
    cse, core = await started(**{"outbound.deny_networks": ["127.0.0.0/8", "::1/128"]})
    try:
        response = await core.register_ae("Cloop", rn="loop", poa=["http://127.0.0.1:9"])
        assert response.rsc == 4000 and "127.0.0.0/8" in response.pc["m2m:dbg"]
        response = await core.register_ae("Cname", rn="name", poa=["http://localhost:9"])
        assert response.rsc == 4000 and "outbound policy refuses localhost:9" in response.pc["m2m:dbg"]
    finally:
        await cse.stop()


async def test_an_allow_list_and_ports():
    cse, core = await started(**{"outbound.default": "deny", "outbound.allow_networks": ["127.0.0.0/8"],
                                 "outbound.allowed_ports": [8080]})
    try:
        assert (await core.register_ae("Ca", rn="a", poa=["http://127.0.0.1:8080"])).rsc == 2001
        response = await core.register_ae("Cb", rn="b", poa=["http://127.0.0.1:22"])
        assert response.rsc == 4000 and "port 22" in response.pc["m2m:dbg"]
        response = await core.register_ae("Cc", rn="c", poa=["http://10.1.2.3:8080"])
        assert response.rsc == 4000 and "outbound.default is deny" in response.pc["m2m:dbg"]
    finally:
        await cse.stop()
    # The allow list wins over the deny list (a deployment that needs one link-local device).
    cse, core = await started(**{"outbound.allow_networks": ["169.254.10.0/24"]})
    try:
        assert (await core.register_ae("Cd", rn="d", poa=["http://169.254.10.5:80"])).rsc == 2001
        assert (await core.register_ae("Ce", rn="e", poa=["http://169.254.169.254"])).rsc == 4000
    finally:
        await cse.stop()


@pytest.mark.parametrize("op", [Operation.NOTIFY, Operation.RETRIEVE])
async def test_the_sender_checks_the_address_it_connects_to(op):
    """A name checked earlier may resolve to something else later (DNS rebinding): the
    sender judges the address it actually connects to."""
    receiver = await Receiver().start()
    policy = OutboundPolicy(deny=parse_networks(["127.0.0.0/8", "::1/128"], "test"))
    sender = HttpSender(policy=policy)
    outbound = Outbound(policy=policy)
    outbound.register(("http",), sender)
    try:
        request = Request(op=op, to=f"http://localhost:{receiver.port}/n", fr="/id-in", rqi="r1", rvi="3",
                          pc={"m2m:sgn": {"sur": "/id-in/x"}} if op == Operation.NOTIFY else None)
        response = await outbound.send(f"http://localhost:{receiver.port}/n", request)
        assert response.rsc == 5103, response.pc
        assert "outbound policy refuses" in response.pc["m2m:dbg"]
        assert not receiver.received
    finally:
        await sender.stop()
        await receiver.stop()


@pytest.mark.parametrize("overrides, words", [
    ({"outbound.deny_networks": ["nonsense"]}, "not an IP network"),
    ({"outbound.default": "maybe"}, "'allow' or 'deny'"),
    ({"outbound.allowed_ports": [0]}, "1..65535"),
])
def test_bad_outbound_settings_are_refused(overrides, words):
    with pytest.raises(ConfigError, match=words):
        make_config(**overrides)
