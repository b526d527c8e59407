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
