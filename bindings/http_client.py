"""HTTP sender (TS-0009): primitives this CSE originates, as HTTP requests.

Registered with `cse.outbound.Outbound` for http and https.  One aiohttp session with a
connection pool is kept for the life of the CSE; notifications go over pipelined
keep-alive connections instead (`http_pipeline`), one per destination URL.
"""
from __future__ import annotations

import ssl
from urllib.parse import quote, urlsplit

import aiohttp

from cse.errors import RSC
from cse.primitives import Operation, Request, Response

from . import media
from .http import HEADER_FIELDS, path_to_target, target_to_path
from .http_pipeline import PipelineClient, PipelineResponse
from .query import to_query

METHOD = {Operation.CREATE: "POST", Operation.RETRIEVE: "GET", Operation.UPDATE: "PUT",
          Operation.DELETE: "DELETE", Operation.NOTIFY: "POST"}
CONTENT_TYPE = {media.JSON: "application/json", media.CBOR: "application/cbor"}
# TS-0009 6.7: a notification (m2m:sgn, m2m:agn) has its own media type.
NOTIFY_TYPE = {media.JSON: "application/vnd.onem2m-ntfy+json",
               media.CBOR: "application/vnd.onem2m-ntfy+cbor"}


class HttpSender:
    name = "http-client"

    # Concurrent NOTIFYs to one URL are transmitted in the order `send` was called, so the
    # notifier may keep several in flight per target without reordering them.
    keeps_order = True

    def __init__(self, ssl_context: ssl.SSLContext | None = None, pool_size: int = 100):
        self.ssl_context = ssl_context
        self.pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._pipeline: PipelineClient | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.pool_size, ssl=self.ssl_context)
        self._session = aiohttp.ClientSession(connector=connector)

    async def stop(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.close()
            self._pipeline = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def poa(self) -> list[str]:
        return []

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        parts = urlsplit(url)
        query = to_query(request)
        if parts.path in ("", "/") and "://" not in request.to:
            # TS-0009: "#attr" travels as atrl=attr (a URL fragment never reaches the server),
            # and the rest of the address is a path: '?', '%', spaces... are escaped.
            to, _, attribute = request.to.partition("#")
            if attribute:
                query.append(("atrl", attribute))
            url = f"{parts.scheme}://{parts.netloc}{quote(target_to_path(to), safe='/~')}"
        headers = {"X-M2M-Origin": request.fr or "", "X-M2M-RI": request.rqi,
                   "Accept": media.CONTENT_TYPE[serialization]}
        if request.rvi:
            headers["X-M2M-RVI"] = request.rvi
        for header, name in HEADER_FIELDS:
            value = getattr(request, name)
            if value is not None:
                headers[header] = str(value)
        if request.ec is not None:
            headers["X-M2M-EC"] = str(request.ec)
        if request.rtu:
            headers["X-M2M-RTU"] = "&".join(request.rtu)
        body = None
        if request.pc is not None:
            body = media.encode(request.pc, serialization)
            content_type = (NOTIFY_TYPE if request.op == Operation.NOTIFY else CONTENT_TYPE)[serialization]
            if request.op == Operation.CREATE:
                content_type += f";ty={request.ty}"
            headers["Content-Type"] = content_type
        if request.op == Operation.NOTIFY:
            # Synchronous until the request is written: concurrent notifications to one URL
            # leave in call order (see `keeps_order`).
            if self._pipeline is None:
                self._pipeline = PipelineClient(self.ssl_context)
            answer = await self._pipeline.request("POST", url, headers, body, timeout)
            return self._from_pipeline(answer, request.rqi)
        if self._session is None:
            await self.start()
        async with self._session.request(
                METHOD[request.op], url, data=body, headers=headers, params=query or None,
                timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            raw = await http.read()
            return self._to_response(http, raw, request.rqi)

    @staticmethod
    def _from_pipeline(answer: PipelineResponse, rqi: str) -> Response:
        headers = answer.headers
        return Response(rsc=_rsc_of(headers.get("x-m2m-rsc"), answer.status),
                        rqi=headers.get("x-m2m-ri", rqi), rvi=headers.get("x-m2m-rvi"),
                        pc=_decode(answer.body, headers.get("content-type")))

    @staticmethod
    def _to_response(http: aiohttp.ClientResponse, raw: bytes, rqi: str) -> Response:
        headers = http.headers
        response = Response(rsc=_rsc_of(headers.get("X-M2M-RSC"), http.status),
                            rqi=headers.get("X-M2M-RI", rqi), rvi=headers.get("X-M2M-RVI"),
                            pc=_decode(raw, headers.get("Content-Type")))
        location = http.headers.get("Content-Location")
        if location:
            # The header carries the HTTP path form (/~/id-in/x, /cse-in/x, or a full URL);
            # the primitive carries the oneM2M address, as bindings expect when rendering it.
            response.content_location = path_to_target(urlsplit(location).path or "/")
        return response


def _rsc_of(header: str | None, status: int) -> int:
    try:
        return int(header) if header else _rsc_from_status(status)
    except ValueError:
        return _rsc_from_status(status)


def _decode(raw: bytes, content_type: str | None) -> object:
    if not raw:
        return None
    kind = media.serialization_of(content_type or "application/json") or media.JSON
    try:
        return media.decode(raw, kind)
    except Exception:   # an undecodable answer body does not change the status code
        return None


def _rsc_from_status(status: int) -> int:
    """A peer that is not a oneM2M entity answers without X-M2M-RSC: map the class."""
    if 200 <= status < 300:
        return RSC.OK
    if status == 404:
        return RSC.NOT_FOUND
    if status == 403:
        return RSC.ORIGINATOR_HAS_NO_PRIVILEGE
    if 400 <= status < 500:
        return RSC.BAD_REQUEST
    return RSC.INTERNAL_SERVER_ERROR
