"""The manifests an owner can deploy from: the built-ins (manifests.builtins) and their own, stored
per owner (models.Manifest). An owner's manifest may not take a built-in's id, and its id is its
own across both kinds. Uploads are checked against the manifest schema before anything is written."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .. import ids, store
from ..errors import Conflict, Invalid, NotFound
from . import manifests
from .models import Manifest

MAX_MANIFESTS = 100


def find(owner_id: str) -> Any:
    """(kind, id) → a manifest this owner may use, or None."""
    def lookup(kind: str, manifest_id: str) -> Mapping[str, Any] | None:
        builtin = manifests.builtins().get((kind, manifest_id))
        if builtin is not None:
            return builtin
        own = store.get_or_none(Manifest, owner_id, manifest_id) if ids.matches("manifest_id", manifest_id) else None
        return own.doc if own is not None and own.kind == kind else None

    return lookup


def listed(owner_id: str, kind: str) -> list[dict[str, Any]]:
    """Built-ins first, then the owner's own, each as the API serves it."""
    out = [manifests.view(doc, builtin=True) for (k, _), doc in sorted(manifests.builtins().items()) if k == kind]
    out += [manifests.view(item.doc, builtin=False) for item in owned(owner_id) if item.kind == kind]
    return out


def owned(owner_id: str) -> list[Manifest]:
    return list(Manifest.query(owner_id))


def upload(owner_id: str, text: Any) -> Manifest:
    if not isinstance(text, str):
        raise Invalid("'manifest' must be the manifest's YAML (or JSON) text.", "invalid_manifest")
    doc = manifests.parse(text)
    if any(manifest_id == doc["id"] for _, manifest_id in manifests.builtins()):
        raise Conflict(f"'{doc['id']}' is a built-in manifest's id; choose another.", "manifest_exists")
    if sum(1 for _ in Manifest.query(owner_id, attributes_to_get=["manifest_id"])) >= MAX_MANIFESTS:
        raise Invalid(f"An account may hold at most {MAX_MANIFESTS} manifests.", "too_many_manifests")
    item = Manifest(owner_id, doc["id"], kind=doc["kind"], text=text, doc=doc, created_ms=int(time.time() * 1000))
    with store.race() as first:
        item.save(condition=Manifest.manifest_id.does_not_exist())
    if first.lost:
        raise Conflict(f"You have a manifest '{doc['id']}' already; delete it first to replace it.",
                       "manifest_exists") from first.error
    return item


def get(owner_id: str, manifest_id: str) -> Manifest:
    item = store.get_or_none(Manifest, owner_id, manifest_id)
    if item is None:
        raise NotFound("No such manifest.", "manifest_not_found")
    return item


def delete(owner_id: str, manifest_id: str) -> Manifest:
    item = get(owner_id, manifest_id)
    item.delete()
    return item


def view(item: Manifest) -> dict[str, Any]:
    return {**manifests.view(item.doc, builtin=False), "text": item.text, "created_ms": int(item.created_ms)}
