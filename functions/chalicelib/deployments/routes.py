"""Routes: what can be deployed (profiles, installers, the caller's own manifests), SSH keys in the
account, and deploying a VM on a host (a `vm.deploy` job, 202)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..audit import logic as audit
from ..auth import guard
from ..errors import Conflict
from ..vms import routes as vm_routes
from ..vms.models import Vm
from ..web import Call, Reply, route
from . import library, manifests, plan, ssh_keys

bp = Blueprint(__name__)
MANIFEST_BODY = 96 * 1024  # a 64 KiB manifest, JSON-escaped


def _audit(call: Call, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    who = call.principal
    audit.record(who.user_id, actor=who.user_id, action=action, target=target, source_ip=call.source_ip,
                 user_agent=call.user_agent, detail=detail)


@route(bp, "/api/profiles", authenticate=guard.reader)
def list_profiles(call: Call) -> dict[str, Any]:
    return {"profiles": library.listed(call.principal.user_id, "profile")}


@route(bp, "/api/installers", authenticate=guard.reader)
def list_installers(call: Call) -> dict[str, Any]:
    return {"installers": library.listed(call.principal.user_id, "installer"), "exit_codes": manifests.EXIT_CODES}


@route(bp, "/api/manifest-schema")
def manifest_schema(call: Call) -> dict[str, Any]:
    """The JSON Schema manifests are checked against (public: it is documentation)."""
    return manifests.manifest_schema()


@route(bp, "/api/manifests", authenticate=guard.reader)
def list_manifests(call: Call) -> dict[str, Any]:
    return {"manifests": [library.view(item) for item in library.owned(call.principal.user_id)]}


@route(bp, "/api/manifests", ["POST"], authenticate=guard.operator, status=201, max_body=MANIFEST_BODY)
def upload_manifest(call: Call) -> dict[str, Any]:
    item = library.upload(call.principal.user_id, call.json().get("manifest"))
    _audit(call, "manifest.create", item.manifest_id, {"kind": item.kind, "version": item.doc["version"]})
    return library.view(item)


@route(bp, "/api/manifests/{manifest_id}", authenticate=guard.reader)
def get_manifest(call: Call) -> dict[str, Any]:
    return library.view(library.get(call.principal.user_id, call.params["manifest_id"]))


@route(bp, "/api/manifests/{manifest_id}", ["DELETE"], authenticate=guard.operator)
def delete_manifest(call: Call) -> dict[str, Any]:
    item = library.delete(call.principal.user_id, call.params["manifest_id"])
    _audit(call, "manifest.delete", item.manifest_id, {"kind": item.kind})
    return library.view(item)


@route(bp, "/api/ssh-keys", authenticate=guard.reader)
def list_ssh_keys(call: Call) -> dict[str, Any]:
    return {"ssh_keys": [ssh_keys.view(k) for k in ssh_keys.list_owned(call.principal.user_id)]}


@route(bp, "/api/ssh-keys", ["POST"], authenticate=guard.operator, status=201, max_body=32 * 1024)
def add_ssh_key(call: Call) -> dict[str, Any]:
    item = ssh_keys.add(call.principal.user_id, call.json())
    _audit(call, "ssh_key.add", item.key_id, {"fingerprint": item.fingerprint})
    return ssh_keys.view(item)


@route(bp, "/api/ssh-keys/generate", ["POST"], authenticate=guard.operator, status=201, max_body=4096)
def generate_ssh_key(call: Call) -> dict[str, Any]:
    item, private_key = ssh_keys.generate(call.principal.user_id, call.json())
    _audit(call, "ssh_key.generate", item.key_id, {"fingerprint": item.fingerprint})
    return {**ssh_keys.view(item), "private_key": private_key}


@route(bp, "/api/ssh-keys/{ssh_key_id}", ["DELETE"], authenticate=guard.operator)
def remove_ssh_key(call: Call) -> dict[str, Any]:
    item = ssh_keys.remove(call.principal.user_id, call.params["ssh_key_id"])
    _audit(call, "ssh_key.remove", item.key_id, {"fingerprint": item.fingerprint})
    return ssh_keys.view(item)


@route(bp, "/api/agents/{agent_id}/deployments", ["POST"], authenticate=vm_routes.operator, status=202,
       max_body=MANIFEST_BODY)
def deploy(call: Call) -> Reply:
    """Check everything, render the first-boot media, refuse a name the host has, then queue `vm.deploy`."""
    owner_id = call.principal.user_id
    agent = vm_routes.host_of(call, owner_id)
    made = plan.plan(call.json(), library.find(owner_id), ssh_keys.resolver(owner_id))
    if any(True for _ in Vm.query(agent.agent_id, filter_condition=Vm.name == made.name)):
        raise Conflict(f"This host already has a VM named '{made.name}'.", "name_taken")
    target = f"{agent.agent_id}/{made.name}"
    reply = vm_routes.queue(call, agent, "vm.deploy", made.args, audit_as=("vm.deploy", target),
                            audit_detail=made.summary, secrets=made.vault.values, fingerprint=made.fingerprint)
    if made.generated_password is not None:
        reply.body = {**reply.body, "generated_password": made.generated_password}
    return reply

