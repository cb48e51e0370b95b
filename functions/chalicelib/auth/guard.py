"""The authentication hook every operator route passes through."""

from __future__ import annotations

from ..errors import Unauthorized
from ..web import Call
from .logic import Principal, principal_from_token


def bearer(call: Call) -> str:
    header = call.request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <access token>'.")
    return token.strip()


def operator(call: Call) -> Principal:
    return principal_from_token(bearer(call))
