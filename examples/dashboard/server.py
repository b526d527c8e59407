"""The dashboard application: an AE on the platform (IN-CSE) that serves one web page for both
use cases (the public building, the home energy demo).

    python -m examples.dashboard --platform http://127.0.0.1:8080 --token <token> [--port 8765]

What this process does is small on purpose: it registers the AE `CDashboard` with the platform
(over the WebSocket binding, with its bearer token), then serves the static page and a
`config.json` (the platform's ws:// URL from its CSEBase `poa`, the originator, the token, and
where the building's applications are).  It reads no data itself: the page, in the browser,
opens its own WebSocket to the CSE (subprotocol oneM2M.json, `?access_token=` since a browser
cannot set an Authorization header) and sends request primitives as `CDashboard`: retrieve,
discover, subscriptions whose `nu` is the AE itself (the CSE delivers the notifications over
the page's socket), and the operator's UPDATEs and acknowledgements.  No polling anywhere.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from client import CseClient, HttpTransport, RequestFailed
from cse.auth import hash_secret, new_token

STATIC = Path(__file__).resolve().parent / "static"
DASHBOARD_ID = "CDashboard"


@dataclass
class Where:
    """Addresses the page reads, as seen from the platform."""
    building_app: str = "cse-in/building-energy"            # the energy app's AE (demand, alarms, acks, usage)
    building_proxy: str = "/id-mn/cse-mn/building-proxy"   # the interworking proxy on the gateway


class DashboardServer:
    """`platform`: the IN-CSE's HTTP point of access; `token`: CDashboard's bearer token
    (configured on the platform in [auth.credentials] as a hash, see docs/security.md)."""

    def __init__(self, platform: str, *, token: str, host: str = "127.0.0.1", port: int = 0,
                 originator: str = DASHBOARD_ID, cse_rn: str = "cse-in", where: Where | None = None,
                 ws_url: str | None = None):
        self.platform = platform.rstrip("/")
        self.token = token
        self.host = host
        self.port = port
        self.originator = originator
        self.cse_rn = cse_rn
        self.where = where or Where()
        self.ws_url = ws_url
        self.cse_id = ""
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def register(self) -> None:
        """CREATE the AE CDashboard (or take it over) over HTTP with its token, then read the
        platform's CSEBase as that AE (an unregistered originator may not: docs/conformance.md)
        for its CSE-ID and its ws:// point of access.  The page opens its own socket."""
        transport = HttpTransport(self.platform, authorization=f"Bearer {self.token}")
        try:
            async with CseClient(self.platform, originator=self.originator, cse_rn=self.cse_rn,
                                 transport=transport) as app:
                await app.register("Ndashboard", rn="dashboard")
                base = await app.retrieve(self.cse_rn)
        except RequestFailed as error:
            raise RuntimeError(f"the platform refused the dashboard's AE {self.originator}: "
                               f"{error.response.rsc} {error.response.pc}") from None
        self.cse_id = base.get("csi", "/id-in")
        if self.ws_url is None:
            self.ws_url = next((url for url in base.get("poa", []) if url.startswith(("ws://", "wss://"))), None)
        if self.ws_url is None:
            raise RuntimeError(f"the platform at {self.platform} has no ws:// point of access: start it with "
                               "--ws-port (the dashboard reads over the WebSocket binding)")

    def config(self) -> dict[str, Any]:
        return {"ws": self.ws_url, "originator": self.originator, "token": self.token, "cseId": self.cse_id,
                "cseRn": self.cse_rn, "building": {"app": self.where.building_app, "proxy": self.where.building_proxy}}

    async def start(self) -> "DashboardServer":
        await self.register()
        app = web.Application()

        async def config(_: web.Request) -> web.Response:
            return web.json_response(self.config(), headers={"Cache-Control": "no-store"})

        async def index(_: web.Request) -> web.FileResponse:
            return web.FileResponse(STATIC / "index.html")

        app.router.add_get("/config.json", config)
        app.router.add_get("/", index)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def platform_credentials(directory: Path, originator: str = DASHBOARD_ID) -> tuple[str, Path]:
    """A new bearer token for the dashboard and a platform config file holding its hash (what
    `cse hash-secret --new-token` prints), for a platform started by a demo."""
    token = new_token()
    config = directory / "platform-auth.toml"
    config.write_text(f'[auth.credentials]\n{originator} = ["{hash_secret(token)}"]\n')
    config.chmod(0o600)
    return token, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", required=True, help="the IN-CSE's HTTP URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--token", help="CDashboard's bearer token (or the file named by --token-file)")
    parser.add_argument("--token-file", help="a file holding the token (first line)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address of the page (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port of the page (default 8765; 0 = any)")
    parser.add_argument("--cse-rn", default="cse-in", help="the platform's CSEBase name (default cse-in)")
    parser.add_argument("--ws-url", help="the platform's ws:// URL (default: from its CSEBase poa)")
    parser.add_argument("--building-app", default=Where.building_app, help="the building energy app's AE address")
    parser.add_argument("--building-proxy", default=Where.building_proxy,
                        help="the interworking proxy's SP-relative address")
    args = parser.parse_args(argv)
    token = args.token or (Path(args.token_file).read_text().splitlines()[0].strip() if args.token_file else "")
    if not token:
        parser.error("give --token or --token-file (make one with `cse hash-secret --new-token` and put its hash "
                     "under [auth.credentials] CDashboard on the platform)")
    server = DashboardServer(args.platform, token=token, host=args.host, port=args.port, cse_rn=args.cse_rn,
                             where=Where(args.building_app, args.building_proxy), ws_url=args.ws_url)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        try:
            await server.start()
        except (RuntimeError, OSError, aiohttp.ClientError) as exc:
            print(f"error: {exc}", flush=True)
            return 1
        print(f"dashboard at {server.url} (reading {server.ws_url} as {server.originator}); Ctrl-C stops",
              flush=True)
        await stopped.wait()
        await server.stop()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
