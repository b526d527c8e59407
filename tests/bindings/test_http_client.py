"""The HTTP sender turns HTTP responses back into primitives a binding can render again."""
from bindings.http_client import HttpSender
from cse.primitives import Request


async def test_content_location_comes_back_as_a_onem2m_address(http_cse):
    cse, client = http_cse
    sender = HttpSender()
    try:
        created = await sender.send(client.base, Request(
            op=1, to="cse-in", fr="CAdmin", rqi="cl1", rvi="3", ty=3, pc={"m2m:cnt": {"rn": "box"}}),
            serialization="json", timeout=5)
    finally:
        await sender.stop()
    assert created.rsc == 2001
    # CSE-relative, exactly as the CSE's dispatcher produced it (not the /cse-in/box path form).
    assert created.content_location == "cse-in/box"


async def test_addresses_that_are_not_plain_paths_reach_the_peer_intact(http_cse):
    """A forwarded `to` may name one attribute (#csi, which HTTP carries as atrl=csi, not as a
    URL fragment the client drops) or hold characters that mean something in a URL."""
    cse, client = http_cse
    sender = HttpSender()
    try:
        async def retrieve(to: str):
            return await sender.send(client.base, Request(op=2, to=to, fr="CAdmin", rqi="t", rvi="3"),
                                     serialization="json", timeout=5)
        for to in ("cse-in#csi", "/id-in/cse-in#csi"):
            answer = await retrieve(to)
            assert (answer.rsc, answer.pc) == (2000, {"m2m:cb": {"csi": "/id-in"}}), to
        answer = await retrieve("cse-in/a?b c%20")
        assert answer.rsc == 4004 and "'cse-in/a?b c%20'" in answer.pc["m2m:dbg"]
    finally:
        await sender.stop()
