"""The OpenAPI 3 document for the operator API (`GET /api/openapi.json`).

A test holds it against the routes the app really has, both ways.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
OBJECT = {"type": "object"}

# (method, path, summary, authenticated, request body schema or None, success status)
OPERATIONS: list[tuple[str, str, str, bool, dict[str, Any] | None, int]] = [
    ("get", "/api/health", "Readiness", False, None, 200),
    ("post", "/api/auth/login", "Log in with email and password", False,
     {"type": "object", "required": ["email", "password"],
      "properties": {"email": {"type": "string", "maxLength": 254},
                     "password": {"type": "string", "maxLength": 1024}}}, 200),
    ("get", "/api/me", "The logged-in operator", True, None, 200),
    ("get", "/api/agents", "Hosts the caller owns", True, None, 200),
    ("get", "/api/agents/{agent_id}", "One host", True, None, 200),
    ("post", "/api/enrollment-tokens", "Mint an enrolment token (shown once)", True,
     {"type": "object", "properties": {"uses": {"type": "integer", "minimum": 1, "maximum": 1000},
                                       "ttl_seconds": {"type": "integer", "minimum": 60}}}, 201),
    ("get", "/api/agents/{agent_id}/vms", "A host's VMs", True, None, 200),
    ("get", "/api/agents/{agent_id}/vms/{vm}", "One VM, by name or UUID", True, None, 200),
    ("post", "/api/agents/{agent_id}/vms/{vm}/actions", "Start, stop, reboot, suspend or resume a VM", True,
     {"type": "object", "required": ["action"],
      "properties": {"action": {"type": "string",
                                "enum": ["start", "shutdown", "force-stop", "reboot", "suspend", "resume"]}}},
     202),
    ("get", "/api/jobs", "Job history, newest first", True, None, 200),
    ("get", "/api/jobs/{job_id}", "One job with its result link", True, None, 200),
    ("get", "/api/openapi.json", "This document", False, None, 200),
]


def _operation(spec: tuple[str, str, str, bool, dict[str, Any] | None, int]) -> dict[str, Any]:
    method, path, summary, auth, body, status = spec
    ok = {"description": "OK", "content": {"application/json": {"schema": OBJECT}}}
    responses: dict[str, Any] = {str(status): ok}
    for code in ([400] if body else []) + ([401] if auth or path.endswith("login") else []) \
            + ([404] if "{" in path else []):
        responses[str(code)] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    op: dict[str, Any] = {"summary": summary, "operationId": f"{method}_{path}", "responses": responses,
                          "security": [{"bearer": []}] if auth else []}
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                            for p in params]
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for spec in OPERATIONS:
        paths.setdefault(spec[1], {})[spec[0]] = _operation(spec)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Fleetvisor operator API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
        },
    }
