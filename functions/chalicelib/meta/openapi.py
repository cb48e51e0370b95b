"""The OpenAPI 3 document for the operator API (`GET /api/openapi.json`).

A test holds it against the routes the app really has, both ways.
"""

from __future__ import annotations

from typing import Any

from .. import ids, validate
from ..metrics.logic import METRICS, RANGES
from ..vms.logic import STATES

ERROR = {"$ref": "#/components/schemas/Error"}
OBJECT = {"type": "object"}

STRING = {"type": "string"}


def _form(pattern: str) -> dict[str, Any]:
    # JSON Schema patterns are ECMA-262 and search: anchored here, "$" ending the string as "\\Z" does in Python.
    return {"type": "string", "pattern": "^" + pattern.removeprefix("^").removesuffix("\\Z") + "$"}


# Every path parameter has its documented form (ids.py); any other value is answered as an unknown id
# (404), a VM name as 400 invalid_vm_name (vms/logic.py explains the VM name rule).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    **{name: {"schema": _form(form.pattern.pattern)} for name, form in ids.FORMS.items()},
    "vm": {"description": "The VM's UUID, or its name when that is 1 to 64 letters, digits, '.', '_' or '-' "
                          "starting with a letter or digit (other names: use the UUID; else 400 invalid_vm_name)",
           "schema": _form(validate.LIBVIRT_NAME_RE.pattern)},
}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 1024}


def _body(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


# (method, path, summary, authenticated, request body schema or None, success status)
OPERATIONS: list[tuple[str, str, str, bool, dict[str, Any] | None, int]] = [
    ("get", "/api/health", "Readiness", False, None, 200),
    ("post", "/api/auth/login", "Log in with email and password; sets the refresh cookie", False,
     _body(["email", "password"], email={"type": "string", "maxLength": 254}, password=PASSWORD), 200),
    ("post", "/api/auth/refresh", "New access token from the refresh cookie (header X-Requested-With)", False,
     None, 200),
    ("post", "/api/auth/logout", "End this session", True, None, 200),
    ("post", "/api/auth/logout-all", "End every session of the caller", True, None, 200),
    ("post", "/api/auth/signup", "Create an operator account (when the stage allows it)", False,
     _body(["email", "password"], email=STRING, name=STRING, password=PASSWORD), 201),
    ("get", "/api/me", "The caller's account", True, None, 200),
    ("post", "/api/me/password", "Change the caller's password", True,
     _body(["current_password", "new_password"], current_password=STRING, new_password=PASSWORD), 200),
    ("patch", "/api/me", "Change the caller's name or whether new hosts need approval", True,
     _body([], name=STRING, require_host_approval={"type": "boolean"}), 200),
    ("get", "/api/me/sessions", "The caller's live sessions", True, None, 200),
    ("delete", "/api/me/sessions/{session_id}", "End one of the caller's sessions", True, None, 200),
    ("get", "/api/users", "Accounts (admin)", True, None, 200),
    ("post", "/api/users", "Create an account (admin)", True,
     _body(["email", "password"], email=STRING, name=STRING, password=PASSWORD,
           role={"type": "string", "enum": ["admin", "operator"]}), 201),
    ("get", "/api/users/{user_id}", "One account (admin)", True, None, 200),
    ("patch", "/api/users/{user_id}", "Rename, change role, disable or enable an account (admin)", True,
     _body([], name=STRING, role={"type": "string", "enum": ["admin", "operator"]}, disabled={"type": "boolean"}),
     200),
    ("post", "/api/users/{user_id}/password", "Reset an account's password (admin)", True,
     _body(["new_password"], new_password=PASSWORD), 200),
    ("get", "/api/api-keys", "The caller's API keys", True, None, 200),
    ("post", "/api/api-keys", "Create an API key (its secret is shown once)", True,
     _body(["name", "scopes"], name=STRING, scopes={"type": "array", "items": {
         "type": "string", "enum": ["read", "operate", "admin"]}}, expires_in_days={"type": "integer"}), 201),
    ("delete", "/api/api-keys/{key_id}", "Revoke an API key", True, None, 200),
    ("get", "/api/agents", "Hosts the caller owns", True, None, 200),
    ("get", "/api/changes", "The fleet's change version and its feed (a URL the page polls); `wait`: the old long poll",
     True, None, 200),
    ("get", "/api/agents/{agent_id}", "One host", True, None, 200),
    ("patch", "/api/agents/{agent_id}", "Set a host's labels", True,
     _body(["labels"], labels={"type": "object", "additionalProperties": {"type": "string"}}), 200),
    ("delete", "/api/agents/{agent_id}", "Deregister a host (its agent stops at its next call)", True, None, 200),
    ("post", "/api/agents/ping", "Ask the caller's quiet hosts (those in agent_ids: the ones on screen, else all) "
     "for a heartbeat now (an open hosts page, every 40 s); answers how many were asked", True,
     _body([], agent_ids={"type": "array", "maxItems": 200,
                          "items": {"type": "string", "pattern": "^ag_[0-9a-f]{32}$"}}), 200),
    ("post", "/api/agents/{agent_id}/approve", "Approve a pending host or re-registration", True, None, 200),
    ("post", "/api/agents/{agent_id}/reject", "Reject a pending host or re-registration", True, None, 200),
    ("get", "/api/enrollment-tokens", "The caller's enrolment tokens", True, None, 200),
    ("post", "/api/enrollment-tokens", "Mint an enrolment token (shown once)", True,
     _body([], uses={"type": "integer", "minimum": 1, "maximum": 1000},
           ttl_seconds={"type": "integer", "minimum": 60}, note=STRING), 201),
    ("delete", "/api/enrollment-tokens/{token_id}", "Revoke an enrolment token", True, None, 200),
    ("get", "/api/agents/{agent_id}/vms", "A host's VMs", True, None, 200),
    ("get", "/api/agents/{agent_id}/vms/{vm}", "One VM, by name or UUID", True, None, 200),
    ("patch", "/api/agents/{agent_id}/vms/{vm}", "Set a VM's labels (kept with its UUID when it is renamed)", True,
     _body(["labels"], labels={"type": "object", "additionalProperties": {"type": "string"}}), 200),
    ("get", "/api/vms", "Every VM on all the caller's hosts, by name, a page at a time (limit ≤ 1000, cursor; "
     "search, state, agent_id and label narrow it, and a narrowed page may be short or empty: follow "
     "next_cursor until it is null)", True, None, 200),
    ("post", "/api/agents/{agent_id}/vms/{vm}/actions", "Run an action on a VM (a job; 202)", True,
     _body(["action"], action={"type": "string", "enum": [
         "start", "shutdown", "force-stop", "reboot", "reset", "suspend", "resume", "set-autostart", "delete",
         "snapshot-create", "snapshot-list", "snapshot-revert", "snapshot-delete", "detail", "clone", "resize"]},
         timeout_seconds={"type": "integer", "minimum": 1, "maximum": 3600}, autostart={"type": "boolean"},
         delete_storage={"type": "boolean"}, confirm=STRING, name=STRING, description=STRING, start={"type": "boolean"},
         linked={"type": "boolean"}, vcpus={"type": "integer"}, memory_mib={"type": "integer"},
         disks={"type": "array", "maxItems": 16, "items": {"type": "object", "properties": {
             "target": STRING, "size_gib": {"type": "integer", "minimum": 1, "maximum": 65536}}}}), 202),
    ("post", "/api/agents/{agent_id}/capabilities", "Ask a host for its full capabilities (a job; 202)", True,
     None, 202),
    ("get", "/api/agents/{agent_id}/vms/{vm}/metrics",
     "A VM's CPU, memory, disk and network series over the last hour, day or week", True, None, 200),
    ("post", "/api/agents/{agent_id}/vms/{vm}/metrics/live",
     "Ask the host for the VM's fine samples for 90 s (an open VM page, again while visible)", True, None, 200),
    ("get", "/api/jobs", "Job history, newest first", True, None, 200),
    ("get", "/api/jobs/{job_id}", "One job with its result link", True, None, 200),
    ("get", "/api/jobs/{job_id}/result", "A finished job's result document, integrity-checked", True, None, 200),
    ("post", "/api/jobs/{job_id}/cancel", "Cancel a job (queued: at once; running: the agent is told)", True,
     None, 200),
    ("post", "/api/agents/{agent_id}/vms/{vm}/console",
     "Open a VM's serial console, or join its open one (201 new, 200 joined)", True, OBJECT, 201),
    ("get", "/api/consoles", "Console sessions, newest first (the transcripts to replay)", True, None, 200),
    ("get", "/api/consoles/{console_id}", "One console session", True, None, 200),
    ("get", "/api/consoles/{console_id}/output", "Output chunks past a sequence number (long poll)", True, None,
     200),
    ("post", "/api/consoles/{console_id}/input", "Type into a console (the writer only)", True,
     _body(["client_id", "data"], client_id=STRING, data={"type": "string", "minLength": 1, "maxLength": 4096}),
     202),
    ("post", "/api/consoles/{console_id}/writer", "Take over typing in a console", True,
     _body(["client_id"], client_id=STRING), 200),
    ("post", "/api/consoles/{console_id}/close", "Close a console session", True, None, 200),
    ("get", "/api/profiles", "VM profiles the caller can deploy (built-in and own), each with the JSON Schema "
     "of its inputs (inputs_schema, with x- keywords for forms) and of its sizing (sizing_schema)", True, None, 200),
    ("get", "/api/installers", "Installers the caller can add to a deployment, each with its inputs' JSON Schema; "
     "exit_codes explains the installer exit codes a deployment's result reports", True, None, 200),
    ("get", "/api/manifests", "The caller's own manifests (profiles and installers)", True, None, 200),
    ("get", "/api/manifest-schema", "The JSON Schema every manifest is checked against", False, None, 200),
    ("post", "/api/manifests", "Add a manifest (YAML or JSON text), checked against the manifest schema", True,
     _body(["manifest"], manifest={"type": "string", "maxLength": 65536}), 201),
    ("get", "/api/manifests/{manifest_id}", "One of the caller's manifests, with its text", True, None, 200),
    ("delete", "/api/manifests/{manifest_id}", "Delete one of the caller's manifests", True, None, 200),
    ("post", "/api/agents/{agent_id}/deployments", "Deploy a VM from a profile (a vm.deploy job; 202). A 400 "
     "invalid_inputs names each failing field in error.fields; 409 name_taken when the host has a VM of that name; "
     "a generated Windows password is answered once as generated_password", True,
     _body(["profile"], profile=STRING, name=STRING, inputs=OBJECT, sizing=OBJECT,
           installers={"type": "array", "maxItems": 10, "items": {}}), 202),
    ("get", "/api/ssh-keys", "SSH public keys in the caller's account, with SHA256 fingerprints", True, None, 200),
    ("post", "/api/ssh-keys", "Add an SSH public key (OpenSSH: Ed25519, RSA of 2048 bits or more, ECDSA)", True,
     _body(["name", "public_key"], name=STRING, public_key={"type": "string", "maxLength": 16384}), 201),
    ("post", "/api/ssh-keys/generate", "Generate an Ed25519 key pair: the public half is kept, the private half "
     "answered once (private_key) and never stored", True, _body(["name"], name=STRING), 201),
    ("delete", "/api/ssh-keys/{ssh_key_id}", "Remove an SSH key from the caller's account", True, None, 200),
    ("get", "/api/audit", "The audit trail, newest first", True, None, 200),
    ("get", "/api/openapi.json", "This document", False, None, 200),
]


# Operations that answer 409 for a conflict their callers should expect (a name or id already taken).
CONFLICTS = {("post", "/api/agents/{agent_id}/deployments"), ("post", "/api/manifests"), ("post", "/api/ssh-keys")}


def _error_statuses(path: str, auth: bool, has_body: bool, method: str = "") -> list[int]:
    invalid = [400, 413, 415] if has_body else [400] if "{vm}" in path or path in QUERIED else []
    return invalid + ([401, 403] if auth or path.startswith("/api/auth/") else []) \
        + ([404] if "{" in path else []) + ([409] if (method, path) in CONFLICTS else []) \
        + ([429] if path.endswith("/login") else [])


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **more}


# The answers described field by field (the rest are plain objects); a test holds each against a real answer.
SCHEMAS: dict[str, dict[str, Any]] = {
    "Vm": {"type": "object", "properties": {
        "agent_id": STRING, "uuid": STRING, "name": STRING,
        "state": {"type": "string", "enum": list(STATES)},
        "state_reason": _nullable("string", description="libvirt's reason for the state, e.g. destroyed, "
                                                        "booted, user; null when the agent did not say"),
        "vcpus": {"type": "integer"}, "memory_kib": {"type": "integer"},
        "autostart": _nullable("boolean"),
        "persistent": _nullable("boolean", description="false: a transient VM, gone once it stops"),
        "updated_ms": {"type": "integer"},
        "addresses": _nullable("array", items=STRING, description="IP addresses from the host's DHCP leases; "
                                                                  "null when the host does not report them"),
        "labels": {"type": "object", "additionalProperties": STRING}}},
    "VmList": {"type": "object", "properties": {"vms": {"type": "array", "items": _ref("Vm")}}},
    "FleetVm": {"allOf": [_ref("Vm"), {"type": "object", "properties": {
        "host_name": STRING}}]},
    "FleetVmList": {"type": "object", "properties": {
        "vms": {"type": "array", "items": _ref("FleetVm")}, "next_cursor": _nullable("string")}},
    "Manifest": {"type": "object", "description": "A profile or installer as served: the document, and the JSON "
                 "Schema a form is rendered from (x-kind, x-visible-if, x-options, x-min-mib/x-max-mib, x-multiple, "
                 "x-order, x-help)", "properties": {
        "id": STRING, "kind": {"type": "string", "enum": ["profile", "installer"]}, "version": {"type": "integer"},
        "title": STRING, "description": STRING, "builtin": {"type": "boolean"}, "manifest": OBJECT,
        "inputs_schema": OBJECT, "sizing_schema": {**OBJECT, "description": "profiles only"}}},
    "ProfileList": {"type": "object", "properties": {"profiles": {"type": "array", "items": _ref("Manifest")}}},
    "InstallerList": {"type": "object", "properties": {
        "installers": {"type": "array", "items": _ref("Manifest")},
        "exit_codes": {"type": "object", "description": "exit code → {meaning, explanation}",
                       "additionalProperties": OBJECT}}},
    "SshKey": {"type": "object", "properties": {
        "key_id": STRING, "name": STRING, "public_key": STRING, "fingerprint": STRING, "type": STRING,
        "bits": {"type": "integer"}, "created_ms": {"type": "integer"}}},
    "SshKeyList": {"type": "object", "properties": {"ssh_keys": {"type": "array", "items": _ref("SshKey")}}},
    "VmMetrics": {"type": "object", "description": "Columns: one value per `step` seconds that has samples (the "
                  "mean of the samples in it), null where libvirt had none. cpu: % of the VM's vCPUs; memory, "
                  "memory_used: KiB; disk_read, disk_write, net_rx, net_tx: bytes per second", "properties": {
        "vm_uuid": STRING, "range": {"type": "string", "enum": list(RANGES)}, "from": {"type": "integer"},
        "to": {"type": "integer"}, "step": {"type": "integer"},
        "t": {"type": "array", "items": {"type": "integer"}, "description": "Unix seconds"},
        **{m: {"type": "array", "items": _nullable("number")} for m in METRICS},
        "objects": {"type": "integer", "description": "batches read"},
        "skipped": {"type": "integer", "description": "batches unreadable (gone, too large, malformed)"}}},
}
ANSWERS: dict[tuple[str, str], str] = {
    ("get", "/api/agents/{agent_id}/vms"): "VmList",
    ("get", "/api/agents/{agent_id}/vms/{vm}"): "Vm",
    ("patch", "/api/agents/{agent_id}/vms/{vm}"): "Vm",
    ("get", "/api/vms"): "FleetVmList",
    ("get", "/api/profiles"): "ProfileList",
    ("get", "/api/installers"): "InstallerList",
    ("get", "/api/ssh-keys"): "SshKeyList",
    ("get", "/api/agents/{agent_id}/vms/{vm}/metrics"): "VmMetrics",
}


# Query parameters documented so far (the fleet list's, a VM series' range; other lists still take theirs
# undocumented).
QUERY: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("get", "/api/vms"): [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "cursor", "in": "query", "schema": STRING},
        {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "in the name, UUID, host name, state, an address or a label (key=value), any case"},
        {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
        {"name": "agent_id", "in": "query", "schema": _form(ids.FORMS["agent_id"].pattern.pattern)},
        {"name": "label", "in": "query", "schema": STRING, "description": "a label key, or key=value"},
        {"name": "owner", "in": "query", "schema": STRING, "description": "another owner's fleet (admins)"}],
    ("get", "/api/agents/{agent_id}/vms/{vm}/metrics"): [
        {"name": "range", "in": "query", "required": False, "description": "hour (default), day or week; "
         "else 400 invalid_range", "schema": {"type": "string", "enum": list(RANGES)}}],
}
QUERIED = {path for _, path in QUERY}


def _operation(spec: tuple[str, str, str, bool, dict[str, Any] | None, int]) -> dict[str, Any]:
    method, path, summary, auth, body, status = spec
    schema = _ref(ANSWERS[method, path]) if (method, path) in ANSWERS else OBJECT
    ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    responses: dict[str, Any] = {str(status): ok}
    for code in _error_statuses(path, auth, body is not None, method):
        responses[str(code)] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    op: dict[str, Any] = {"summary": summary, "operationId": f"{method}_{path}", "responses": responses,
                          "security": [{"bearer": []}] if auth else []}
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    parameters = [{"name": p, "in": "path", "required": True, **PATH_PARAMETERS[p]} for p in params] \
        + QUERY.get((method, path), [])
    if parameters:
        op["parameters"] = parameters
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
            "schemas": {**SCHEMAS, "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "fields": {"type": "object", "additionalProperties": {"type": "string"},
                                          "description": "invalid_inputs, invalid_manifest, invalid_ssh_key: "
                                                         "why each named field is refused"}}}}}},
        },
    }
