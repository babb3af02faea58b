"""Publishing CA certificates and CRLs over plain HTTP at the URLs baked into every
certificate (AIA caIssuers, RFC 5280 §4.2.2.1; CRL distribution points, §4.2.1.13).

RFC 5280 §8 and RFC 2585 §3: plain HTTP (relying parties must not need TLS to check
revocation, or TLS would depend on itself), DER bodies, ``application/pkix-cert`` and
``application/pkix-crl``. CRL responses may be cached until the CRL's nextUpdate, and
carry an ETag so caches revalidate cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["Publication", "PublicationSource", "pki_app"]

CERT_NAMES = ("root.crt", "issuing.crt", "service.crt")
CRL_NAMES = ("root.crl", "issuing.crl", "service.crl")


@dataclass(frozen=True, slots=True)
class Publication:
    body: bytes
    updated: datetime
    expires: datetime | None = None


PublicationSource = Callable[[str], Awaitable[Publication | None]]
"""Given a file name (``issuing.crl``, ``root.crt``, ``ca.pem``…), the bytes to serve."""


def pki_app(source: PublicationSource, *, prefix: str, clock: Callable[[], datetime]) -> Starlette:
    """An ASGI app serving ``{prefix}/{name}`` for the CA certificates, CRLs and ca.pem."""
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    async def publication(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in (*CERT_NAMES, *CRL_NAMES, "ca.pem"):
            return PlainTextResponse("not found\n", status_code=404)
        item = await source(name)
        if item is None:
            return PlainTextResponse("not published yet\n", status_code=404)
        etag = '"' + hashlib.sha256(item.body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Last-Modified": format_datetime(item.updated, usegmt=True)}
        if item.expires is not None:
            remaining = max(0, int((item.expires - clock()).total_seconds()))
            headers["Cache-Control"] = f"public, max-age={min(remaining, 3600)}"
            headers["Expires"] = format_datetime(item.expires, usegmt=True)
        else:
            headers["Cache-Control"] = "public, max-age=3600"
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        media = (
            "application/pkix-crl"
            if name.endswith(".crl")
            else "application/x-pem-file"
            if name.endswith(".pem")
            else "application/pkix-cert"
        )
        body = b"" if request.method == "HEAD" else item.body
        return Response(body, media_type=media, headers=headers)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route(prefix + "/{name}", publication, methods=["GET", "HEAD"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
