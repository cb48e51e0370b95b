"""Manifests and their typed inputs: the manifest schema's refusals, each input type's accepted and
refused values (the JSON Schema served to forms and the server's check agree), OpenSSH keys parsed,
SHA-512 crypt against the specification's vectors. Pure functions: no emulator needed."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from chalicelib.deployments import inputs, manifests, shacrypt, sshkeys
from chalicelib.errors import InvalidFields
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator


def openssh(key: Any, comment: str = "op@laptop") -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode() + " " + comment


ED25519 = openssh(ed25519.Ed25519PrivateKey.generate())
RSA_2048 = openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048))
RSA_1024 = openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
ECDSA_256 = openssh(ec.generate_private_key(ec.SECP256R1()))


def wire(*parts: bytes) -> str:
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


def one(kind: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "field", "type": kind, "required": True, **extra}]


def accepts(specs: list[dict[str, Any]], value: Any) -> bool:
    checked = inputs.check(specs, {"field": value})
    return "field" not in checked.errors


# --- ssh keys ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [ED25519, RSA_2048, ECDSA_256, ED25519.rsplit(" ", 1)[0]])
def test_openssh_keys_of_allowed_types_and_sizes_parse(text: str) -> None:
    key = sshkeys.parse(text)
    assert key.fingerprint.startswith("SHA256:") and len(key.fingerprint) == 7 + 43
    assert key.line.split()[:2] == text.split()[:2]


def test_the_fingerprint_is_openssh_s() -> None:
    key = sshkeys.parse(ED25519)
    digest = base64.b64encode(__import__("hashlib").sha256(base64.b64decode(ED25519.split()[1])).digest())
    assert key.fingerprint == "SHA256:" + digest.decode().rstrip("=")


@pytest.mark.parametrize(("text", "why"), [
    (RSA_1024, "1024-bit RSA key"),
    ("ssh-dss " + wire(b"ssh-dss", b"\x01" * 20), "has type 'ssh-dss'"),
    ('command="rm -rf /" ' + ED25519, "has type 'command="),
    ("ssh-ed25519 " + wire(b"ssh-rsa", b"\x01" * 32), "another type inside"),
    ("ssh-rsa " + ED25519.split()[1], "another type inside"),
    ("ssh-ed25519 " + wire(b"ssh-ed25519", b"\x01" * 31), "not 32 bytes"),
    ("ssh-ed25519 " + wire(b"ssh-ed25519", b"\x01" * 32, b"x"), "bytes after the key"),
    ("ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20abc").decode(), "truncated"),
    ("ssh-ed25519 AAAA*", "not valid base64"),
    ("ecdsa-sha2-nistp256 " + wire(b"ecdsa-sha2-nistp256", b"nistp384", b"\x04" + b"\x01" * 64), "another curve"),
    ("ecdsa-sha2-nistp256 " + wire(b"ecdsa-sha2-nistp256", b"nistp256", b"\x04" + b"\x01" * 64), "valid key"),
    ("ssh-ed25519", "must look like"),
    (ED25519 + "\x07bell", "comment"),
    (12, "must be an OpenSSH public key"),
])
def test_bad_keys_are_refused_with_the_reason(text: Any, why: str) -> None:
    with pytest.raises(sshkeys.BadKey, match=re.escape(why)):
        sshkeys.parse(text)


# --- each input type ------------------------------------------------------------------------------

CASES: list[tuple[list[dict[str, Any]], list[Any], list[Any]]] = [
    (one("string", min_length=2, max_length=5, pattern="^[a-z]+$"), ["ab", "abcde"], ["a", "abcdef", "AB", 3, None]),
    (one("integer", min=-3, max=10), [-3, 0, 10], [-4, 11, "1", 1.5, True]),
    (one("boolean"), [True, False], ["true", 0, None]),
    (one("password", min_length=8), ["correct horse", "x" * 128], ["short", "line\nbreak", "x" * 129, 8]),
    (one("select", options=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]), ["a", "b"], ["c", "", 1]),
    (one("email"), ["ops@example.com", "a.b+c@mail.example.org"], ["ops", "ops@", "@example.com", "o ps@x.com",
                                                                 "ops@localhost"]),
    (one("port"), [1, 22, 65535], [0, 65536, -1, "80"]),
    (one("port", min=1024), [1024, 8080], [80]),
    (one("hostname"), ["web-1", "web-1.example.com", "a" * 63], ["-web", "web-", "web_1", "a" * 64, "we b", ""]),
    (one("size", min="512MiB", max="2GiB"), ["512MiB", "1GiB", "2048MiB"], ["511MiB", "3GiB", "1 GiB", "1G", "0GiB"]),
    (one("ssh-key"), [ED25519, RSA_2048], [RSA_1024, "not a key", ""]),
    (one("ssh-key", multiple=True), [[ED25519], [ED25519, ECDSA_256]], [ED25519, [RSA_1024], [ED25519] * 21]),
]


@pytest.mark.parametrize(("specs", "good", "bad"), CASES, ids=[c[0][0]["type"] for c in CASES])
def test_each_input_type_accepts_and_refuses(specs: list[dict[str, Any]], good: list[Any], bad: list[Any]) -> None:
    for value in good:
        assert accepts(specs, value), value
    for value in bad:
        assert not accepts(specs, value), value


def test_errors_name_every_failing_field_at_once_in_words() -> None:
    specs = [{"name": "port", "type": "port"}, {"name": "size", "type": "size", "max": "1GiB"},
             {"name": "who", "type": "string", "required": True}]
    errors = inputs.check(specs, {"port": 0, "size": "2GiB", "extra": 1}).errors
    assert errors == {"port": "must be from 1 to 65535.", "size": "must be from 1MiB to 1GiB.",
                      "who": "is required.", "extra": "is not an input of this manifest."}


def test_clean_values_convert_sizes_and_normalise_keys() -> None:
    specs = one("size") + [{"name": "key", "type": "ssh-key"}]
    checked = inputs.check(specs, {"field": "2GiB", "key": "  " + ED25519 + "  "})
    assert checked.values == {"field": 2048, "key": ED25519}


def test_a_stored_key_is_resolved_and_an_unknown_one_refused() -> None:
    specs = one("ssh-key")
    stored = "sshk_" + "a" * 32
    assert inputs.check(specs, {"field": stored}, {stored: ED25519}.get).values == {"field": ED25519}
    unknown = inputs.check(specs, {"field": "sshk_" + "b" * 32}, {stored: ED25519}.get)
    assert "not in your account" in unknown.errors["field"]


def test_hidden_inputs_are_not_required_and_their_values_dropped() -> None:
    specs = [{"name": "mode", "type": "select", "default": "a", "options": [{"value": "a", "label": "A"},
                                                                          {"value": "b", "label": "B"}]},
             {"name": "extra", "type": "string", "required": True, "visible_if": {"input": "mode", "equals": "b"}}]
    assert inputs.check(specs, {"extra": "ignored"}).values == {"mode": "a"}
    assert inputs.check(specs, {"mode": "b"}).errors == {"extra": "is required."}
    schema = inputs.schema_for(specs)
    assert schema["properties"]["extra"]["x-visible-if"] == {"input": "mode", "equals": "b"}
    assert schema["allOf"] == [{"if": {"properties": {"mode": {"const": "b"}}, "required": ["mode"]},
                                "then": {"required": ["extra"]}}]


def test_an_optional_input_left_empty_is_not_given() -> None:
    assert inputs.check(one("password", min_length=8, required=False), {"field": ""}).values == {}


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(-10, 70000), st.text(max_size=8), st.booleans(), st.none()))
def test_the_served_schema_and_the_server_agree_on_ports(value: Any) -> None:
    specs = one("port")
    schema_ok = Draft202012Validator(inputs.schema_for(specs)).is_valid({"field": value})
    assert schema_ok == accepts(specs, value)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[1-9][0-9]{0,5}(MiB|GiB)", fullmatch=True))
def test_sizes_are_held_to_their_bounds_in_mib(text: str) -> None:
    mib = inputs.size_mib(text)
    assert accepts(one("size", min="1GiB", max="100GiB"), text) == (1024 <= mib <= 102400)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab-.1_", min_size=1, max_size=70))
def test_hostnames_follow_rfc_1123_labels(text: str) -> None:
    labels = text.split(".")
    valid = len(text) <= 253 and all(
        re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels)
    assert accepts(one("hostname"), text) == valid


# --- manifests -------------------------------------------------------------------------------------

INSTALLER = """
kind: installer
id: demo
version: 1
title: Demo
first_boot: [cloud-init]
timeout_seconds: 60
inputs:
  - {name: port, type: port, default: 80}
script: "#!/bin/sh\\nexit 0\\n"
"""


def refusal(text: str) -> dict[str, str]:
    with pytest.raises(InvalidFields) as caught:
        manifests.parse(text)
    assert caught.value.code == "invalid_manifest"
    return caught.value.fields


def test_builtins_load_and_serve_their_schemas() -> None:
    found = manifests.builtins()
    assert set(found) == {("profile", "ubuntu-24.04"), ("profile", "windows-server-2022"),
                          ("installer", "nginx"), ("installer", "docker")}
    for doc in found.values():
        view = manifests.view(doc, builtin=True)
        Draft202012Validator.check_schema(view["inputs_schema"])
    ubuntu = manifests.view(found[("profile", "ubuntu-24.04")], builtin=True)
    assert ubuntu["sizing_schema"]["properties"]["vcpus"]["default"] == 2
    assert ubuntu["manifest"]["image"]["checksums_url"].endswith("/SHA256SUMS")


def test_a_good_installer_parses() -> None:
    assert manifests.parse(INSTALLER)["id"] == "demo"


@pytest.mark.parametrize(("change", "where"), [
    (("kind: installer", "kind: gadget"), "kind"),
    (("id: demo", "id: Demo_1"), "id"),
    (("timeout_seconds: 60", "timeout_seconds: 5"), "timeout_seconds"),
    (("script: \"#!", "script: \"echo"), "script"),
    (("{name: port, type: port, default: 80}", "{name: port, type: port, default: 70000}"), "inputs.port.default"),
    (("{name: port, type: port, default: 80}", "{name: port, type: colour}"), "inputs[0].type"),
    (("{name: port, type: port, default: 80}", "{name: port, type: select}"), "inputs[0]"),
    (("{name: port, type: port, default: 80}", "{name: port, type: port, min: 9, max: 2}"), "inputs[0].min"),
    (("{name: port, type: port, default: 80}", "{name: p, type: string, pattern: '(['}"), "inputs[0].pattern"),
    (("{name: port, type: port, default: 80}", "{name: p, type: string, visible_if: {input: q, equals: 1}}"),
     "inputs[0].visible_if"),
    (("{name: port, type: port, default: 80}", "{name: port, type: port}\n  - {name: port, type: port}"),
     "inputs[1].name"),
    (("{name: port, type: port, default: 80}", "{name: pw, type: password, default: hunter22}"), "inputs[0]"),
    (("title: Demo", "title: Demo\nrun_as_root: true"), ""),
])
def test_manifest_refusals_name_where(change: tuple[str, str], where: str) -> None:
    assert where in refusal(INSTALLER.replace(*change))


WINDOWS_YAML = (manifests.BUILTIN / "windows-server-2022.yaml").read_text()


def test_a_profile_without_driver_media_still_parses() -> None:
    start = WINDOWS_YAML.index("driver_media:")
    without = WINDOWS_YAML[:start] + WINDOWS_YAML[WINDOWS_YAML.index("disk_mode:"):]
    assert "driver_media" not in manifests.parse(without)


@pytest.mark.parametrize(("change", "where"), [
    (("{disk_bus: virtio, nic_model: virtio}", "{disk_bus: scsi}"), "driver_media.with_drivers.disk_bus"),
    (("{disk_bus: virtio, nic_model: virtio}", "{}"), "driver_media.with_drivers"),
    (("{disk_bus: virtio, nic_model: virtio}", "{disk_bus: virtio, video: qxl}"), "driver_media.with_drivers"),
    (("  max_bytes: 2147483648\n", "  max_bytes: 2147483648\n  floppy: true\n"), "driver_media"),
    (("  max_bytes: 8589934592\n", "  max_bytes: 8589934592\n  floppy: true\n"), "install_media"),
    (("  max_bytes: 2147483648\n", ""), "driver_media"),
    (("'viostor\\2k22\\amd64'", "'..\\windows'"), "driver_media.driver_paths[0]"),
    (("'viostor\\2k22\\amd64'", "'D:\\viostor'"), "driver_media.driver_paths[0]"),
    (("'viostor\\2k22\\amd64'", "'NetKVM\\2k22\\amd64'"), "driver_media.driver_paths"),
    (("url_input: drivers_url", "url_input: drivers_link"), "driver_media.url_input"),
    (("sha256_input: drivers_sha256", "sha256_input: iso_sha256"), "driver_media"),
    (("kind: windows-unattend", "kind: cloud-init"), "driver_media.driver_paths"),
])
def test_driver_media_refusals_name_where(change: tuple[str, str], where: str) -> None:
    assert change[0] in WINDOWS_YAML
    assert where in refusal(WINDOWS_YAML.replace(*change, 1))


def test_a_profile_image_needs_its_checksum() -> None:
    text = (manifests.BUILTIN / "ubuntu-24.04.yaml").read_text()
    without = "\n".join(line for line in text.splitlines() if not line.strip().startswith("sha256:"))
    assert "image" in refusal(without)


def test_yaml_aliases_dates_and_oversize_are_refused() -> None:
    assert "aliases" in refusal("a: &x [1, 2]\nb: *x\n")[""]
    assert "larger than" in refusal("#" * (manifests.MAX_BYTES + 1))[""]
    assert "not valid YAML" in refusal("kind: [unclosed")[""]
    assert "must be a mapping" in refusal("- a list")[""]
    assert "not valid YAML" in refusal("[" * 20000)[""]  # nesting deeper than the parser recurses


# --- SHA-512 crypt -------------------------------------------------------------------------------

@pytest.mark.parametrize(("password", "salt", "rounds", "expected"), [
    # From Drepper's specification, "Unix crypt using SHA-256 and SHA-512", its SHA-512 test vectors.
    ("Hello world!", "saltstring", 5000,
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
    ("Hello world!", "saltstringsaltstring", 10000,
     "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
    ("This is just a test", "toolongsaltstring", 5000,
     "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"
     .replace("$rounds=5000", "")),
    ("a very much longer text to encrypt.  This one even stretches over morethan one line.", "anotherlongsaltstring",
     1400, "$6$rounds=1400$anotherlongsalts$"
           "POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"),
])
def test_sha512_crypt_matches_the_specification(password: str, salt: str, rounds: int, expected: str) -> None:
    assert shacrypt.sha512_crypt(password, salt, rounds) == expected


def test_sha512_crypt_salts_afresh_each_time() -> None:
    first, second = shacrypt.sha512_crypt("pw"), shacrypt.sha512_crypt("pw")
    assert first != second and first.startswith(f"$6$rounds={shacrypt.ROUNDS}$")


def test_an_input_shown_only_by_a_hidden_one_is_hidden_too() -> None:
    options = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]
    specs = [{"name": "first", "type": "select", "default": "a", "options": options},
             {"name": "second", "type": "select", "default": "b", "options": options,
              "visible_if": {"input": "first", "equals": "b"}},
             {"name": "third", "type": "string", "required": True, "visible_if": {"input": "second", "equals": "b"}}]
    assert inputs.check(specs, {}).values == {"first": "a"}
    assert inputs.check(specs, {"first": "b"}).errors == {"third": "is required."}
