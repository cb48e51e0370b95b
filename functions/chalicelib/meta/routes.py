"""Routes: health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..web import Call, route
from . import openapi

bp = Blueprint(__name__)


@route(bp, "/api/health")
def health(call: Call) -> dict[str, Any]:
    return {"status": "ok"}


@route(bp, "/api/openapi.json")
def openapi_document(call: Call) -> dict[str, Any]:
    return openapi.document()
