"""`python -m client.listen`: the notification target of the README walkthrough."""
import asyncio
import json
import sys

from tests.conftest import free_port


async def test_listener_prints_notifications_of_a_subscription(http_cse):
    cse, client = http_cse
    port = free_port()
    listener = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client.listen", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        ready = await asyncio.wait_for(listener.stderr.readline(), 30)
        assert f"127.0.0.1:{port}" in ready.decode()
        await client.call("POST", "/cse-in", originator="Cmeter01", ty=2,
                          body={"m2m:ae": {"rn": "meter01", "api": "Nmeter", "rr": False, "srv": ["3"]}})
        await client.call("POST", "/cse-in/meter01", originator="Cmeter01", ty=3, body={"m2m:cnt": {"rn": "power"}})
        response, body = await client.call(
            "POST", "/cse-in/meter01/power", originator="Cmeter01", ty=23,
            body={"m2m:sub": {"rn": "to-app", "nu": [f"http://127.0.0.1:{port}/notify"], "enc": {"net": [3]}}})
        assert response.status == 201, body
        await client.call("POST", "/cse-in/meter01/power", originator="Cmeter01", ty=4,
                          body={"m2m:cin": {"con": "1530"}})
        line = json.loads(await asyncio.wait_for(listener.stdout.readline(), 30))
        assert line["net"] == 3 and line["rep"]["m2m:cin"]["con"] == "1530"
    finally:
        listener.terminate()
        assert await asyncio.wait_for(listener.wait(), 30) == 0
