"""What you deploy from and with: `fleetvisor manifests|profiles|installers|ssh-keys ...`.

Profiles and installers are manifests (YAML): the built-in ones shipped with
the control plane and your own, uploaded with `manifests upload FILE` (or `-`
for standard input). The API checks an upload against its manifest schema; a
refused one prints each failing field (`inputs[2].default: why`) and exits 1.
`profiles` and `installers` list both kinds with where each comes from;
`show ID` prints a manifest's inputs (name, type, required, default, what it
allows) and, for your own, the text you uploaded.

SSH keys are kept in your account for deployments (an ssh-key input takes a
stored key's id). `ssh-keys generate` makes an Ed25519 pair on the server,
which keeps only the public half: the private half is written to `--out`,
created with mode 0600 before the key is made (an existing file is never
overwritten), and printed on standard output only for `--out -`.
Deleting a manifest and removing a key ask first, unless `--yes`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .api import Api, CliError
from .fleet import confirm
from .output import Column, Shown, block, details, moment, table

KINDS = {"profiles": "profile", "installers": "installer"}
CATALOGUE_COLUMNS = [Column("ID", lambda m: m["id"], 24), Column("VERSION", lambda m: m["version"], 7),
                     Column("SOURCE", lambda m: "builtin" if m["builtin"] else "own", 7),
                     Column("TITLE", lambda m: m["title"], 60)]
OWN_COLUMNS = [Column("ID", lambda m: m["id"], 24), Column("KIND", lambda m: m["kind"], 9),
               Column("VERSION", lambda m: m["version"], 7), Column("CREATED", lambda m: moment(m["created_ms"]), 19),
               Column("TITLE", lambda m: m["title"], 50)]
KEY_COLUMNS = [Column("NAME", lambda k: k["name"], 20), Column("ID", lambda k: k["key_id"], 37),
               Column("TYPE", lambda k: k["type"], 11), Column("FINGERPRINT", lambda k: k["fingerprint"], 50),
               Column("ADDED", lambda k: moment(k["created_ms"]), 19)]


def read_text(path: str) -> str:
    """A file's text, or standard input's for `-`."""
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc


# -- manifests: profiles and installers ----------------------------------------------------------------

def catalogue(api: Api, kind: str) -> list[dict[str, Any]]:
    """Every profile (or installer) you can deploy with, built-in first, as the API serves them."""
    return list(api.call("GET", f"/api/{kind}s")[f"{kind}s"])


def find_manifest(api: Api, manifest_id: str, kinds: tuple[str, ...] = ("profile", "installer")) -> dict[str, Any]:
    for kind in kinds:
        for manifest in catalogue(api, kind):
            if manifest["id"] == manifest_id:
                return manifest
    lists = " / ".join(f"fleetvisor {kind}s" for kind in kinds)
    raise CliError(f"no {' or '.join(kinds)} {manifest_id!r} that you can use ({lists} lists them)")


def allows(spec: dict[str, Any]) -> str:
    """What an input accepts beyond its type, in a few words."""
    parts = []
    if spec["type"] == "select":
        parts.append("|".join(str(option["value"]) for option in spec["options"]))
    if "min" in spec or "max" in spec:
        parts.append(f"{spec.get('min', '')}..{spec.get('max', '')}")
    if spec.get("multiple"):
        parts.append("several (repeat --input)")
    if spec.get("pattern_help"):
        parts.append(spec["pattern_help"])
    rule = spec.get("visible_if")
    if rule:
        wanted = "|".join(str(v) for v in rule["in"]) if "in" in rule else rule["equals"]
        parts.append(f"only when {rule['input']}={wanted}")
    return "; ".join(parts)


INPUT_COLUMNS = [Column("INPUT", lambda i: i["name"], 16), Column("TYPE", lambda i: i["type"], 9),
                 Column("REQUIRED", lambda i: bool(i.get("required")), 8),
                 Column("DEFAULT", lambda i: i.get("default"), 14), Column("ALLOWS", allows, 36),
                 Column("LABEL", lambda i: i.get("label"), 30)]


def _sizing(manifest: dict[str, Any]) -> str:
    units = {"vcpus": "", "memory_mib": " MiB", "disk_gib": " GiB"}
    return ", ".join(f"{name.split('_')[0]} {b['default']}{units.get(name, '')} ({b['min']}..{b['max']})"
                     for name, b in manifest.get("sizing", {}).items())


def _manifest_text(api: Api, manifest: dict[str, Any]) -> Shown:
    doc = manifest["manifest"]
    pairs: list[tuple[str, Any]] = [("id", manifest["id"]), ("kind", manifest["kind"]),
                                    ("version", manifest["version"]), ("title", manifest["title"]),
                                    ("source", "builtin" if manifest["builtin"] else "own"),
                                    ("description", manifest["description"])]
    if manifest["kind"] == "profile":
        pairs += [("first boot", doc["first_boot"]["kind"]), ("sizing", _sizing(doc))]
    parts = [details(pairs)]
    parts.append(table(doc.get("inputs", []), INPUT_COLUMNS) if doc.get("inputs") else "no inputs")
    data = dict(manifest)
    if not manifest["builtin"]:
        data["text"] = api.call("GET", f"/api/manifests/{quote(manifest['id'], safe='')}")["text"]
        parts.append("--- manifest as uploaded ---\n" + block(data["text"]).rstrip("\n"))
    return Shown(data, "\n\n".join(parts))


def catalogue_list(api: Api, args: argparse.Namespace) -> Shown:
    manifests = catalogue(api, KINDS[args.command])
    return Shown(manifests, table(manifests, CATALOGUE_COLUMNS))


def catalogue_show(api: Api, args: argparse.Namespace) -> Shown:
    return _manifest_text(api, find_manifest(api, args.id, (KINDS[args.command],)))


def manifests_list(api: Api, args: argparse.Namespace) -> Shown:
    own = api.call("GET", "/api/manifests")["manifests"]
    return Shown(own, table(own, OWN_COLUMNS) if own else "no manifests of your own (manifests upload FILE)")


def manifests_show(api: Api, args: argparse.Namespace) -> Shown:
    return _manifest_text(api, find_manifest(api, args.id))


def manifests_upload(api: Api, args: argparse.Namespace) -> Shown:
    made = api.call("POST", "/api/manifests", {"manifest": read_text(args.file)})
    hint = f" (fleetvisor deploy HOST {made['id']})" if made["kind"] == "profile" else ""
    return Shown(made, f"uploaded {made['kind']} {made['id']} version {made['version']}: {made['title']}{hint}")


def manifests_delete(api: Api, args: argparse.Namespace) -> Shown:
    path = f"/api/manifests/{quote(args.id, safe='')}"
    manifest = api.call("GET", path)
    confirm(f"delete your {manifest['kind']} {manifest['id']!r}? Deployments can no longer use it.", args)
    gone = api.call("DELETE", path)
    return Shown(gone, f"deleted {gone['kind']} {gone['id']}")


# -- SSH keys -----------------------------------------------------------------------------------------

def _key_shown(key: dict[str, Any], more: list[tuple[str, Any]] | None = None) -> str:
    return details([("name", key["name"]), ("id", key["key_id"]), ("type", f"{key['type']} {key['bits']} bits"),
                    ("fingerprint", key["fingerprint"]), ("public key", key["public_key"]), *(more or [])])


def keys_list(api: Api, args: argparse.Namespace) -> Shown:
    keys = api.call("GET", "/api/ssh-keys")["ssh_keys"]
    return Shown(keys, table(keys, KEY_COLUMNS) if keys else "no SSH keys (ssh-keys add FILE, ssh-keys generate)")


def keys_add(api: Api, args: argparse.Namespace) -> Shown:
    line = read_text(args.file).strip()
    fields = line.split(maxsplit=2)
    name = args.name or (fields[2] if len(fields) == 3 else "") or ("key" if args.file == "-" else Path(args.file).name)
    key = api.call("POST", "/api/ssh-keys", {"name": name, "public_key": line})
    return Shown(key, _key_shown(key))


def keys_remove(api: Api, args: argparse.Namespace) -> Shown:
    keys = [k for k in api.call("GET", "/api/ssh-keys")["ssh_keys"] if args.key in (k["key_id"], k["name"])]
    if len(keys) != 1:
        raise CliError(f"no SSH key {args.key!r} in your account" if not keys else
                       f"{len(keys)} SSH keys are named {args.key!r}: use its id")
    key = keys[0]
    confirm(f"remove SSH key {key['name']!r} ({key['fingerprint']}) from your account?", args)
    gone = api.call("DELETE", f"/api/ssh-keys/{quote(key['key_id'], safe='')}")
    return Shown(gone, f"removed SSH key {gone['name']} ({gone['fingerprint']})")


def keys_generate(api: Api, args: argparse.Namespace) -> Shown:
    if args.out == "-":
        made = api.call("POST", "/api/ssh-keys/generate", {"name": args.name})
        print(_key_shown(made), file=sys.stderr)
        return Shown(made, made["private_key"].rstrip("\n"))
    try:
        handle = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CliError(f"{args.out} exists: not overwritten, no key generated") from exc
    except OSError as exc:
        raise CliError(f"cannot create {args.out}: {exc}") from exc
    with os.fdopen(handle, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        try:
            made = api.call("POST", "/api/ssh-keys/generate", {"name": args.name})
            out.write(made.pop("private_key"))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(args.out)
            raise
    kept = {**made, "private_key_file": str(Path(args.out).resolve())}
    return Shown(kept, _key_shown(kept, [("private key", f"written to {args.out} (mode 0600); the server "
                                                          "kept no copy")]))


# -- the parser ---------------------------------------------------------------------------------------

def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """`manifests`, `profiles`, `installers` and `ssh-keys` with their subcommands."""
    manifests = commands.add_parser("manifests", help="your own profiles and installers (YAML manifests)")
    what = manifests.add_subparsers(dest="what", required=True)
    what.add_parser("list", parents=[common], help="your own manifests").set_defaults(run=manifests_list)
    _with_id(what, "show", common, "a manifest's inputs (and text, for your own)").set_defaults(run=manifests_show)
    upload = what.add_parser("upload", parents=[common], help="add a manifest, checked by the API")
    upload.add_argument("file", metavar="FILE", help="the manifest's YAML (or JSON); - for standard input")
    upload.set_defaults(run=manifests_upload)
    delete = _with_id(what, "delete", common, "delete one of your manifests")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=manifests_delete)
    for plural in KINDS:
        kind = commands.add_parser(plural, parents=[common], help=f"the {plural} you can deploy with (list, show ID)")
        kind.set_defaults(run=catalogue_list)
        sub = kind.add_subparsers(dest="what")
        sub.add_parser("list", parents=[common], help=f"every {plural[:-1]}").set_defaults(run=catalogue_list)
        _with_id(sub, "show", common, f"one {plural[:-1]}'s inputs").set_defaults(run=catalogue_show)
    _add_key_commands(commands, common)


def _with_id(group: Any, name: str, common: argparse.ArgumentParser, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help_text)
    parser.add_argument("id", metavar="ID")
    return parser


def _add_key_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("ssh-keys", help="SSH public keys in your account, for deployments")
    what = keys.add_subparsers(dest="what", required=True)
    what.add_parser("list", parents=[common], help="your keys with their fingerprints").set_defaults(run=keys_list)
    add = what.add_parser("add", parents=[common], help="add an OpenSSH public key")
    add.add_argument("file", metavar="FILE", help="the public key file (id_ed25519.pub); - for standard input")
    add.add_argument("--name", help="default: the key's comment, else the file's name")
    add.set_defaults(run=keys_add)
    remove = what.add_parser("remove", parents=[common], help="remove a key (by id or name)")
    remove.add_argument("key", metavar="ID")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(run=keys_remove)
    generate = what.add_parser("generate", parents=[common], help="make an Ed25519 pair; only its public half is kept")
    generate.add_argument("--name", required=True)
    generate.add_argument("--out", required=True, metavar="PATH",
                          help="where to write the private key (mode 0600, never overwritten); - for standard output")
    generate.set_defaults(run=keys_generate)
