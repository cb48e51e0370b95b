"""Seed media: the files the control plane rendered (cloud-init's user-data, meta-data, network-config, or a
Windows unattend file) packed into a small ISO for the guest to read at first boot.

The agent never renders anything itself: it packs the job's `generated` files
as they are. The ISO is ISO 9660 interchange level 4 (names as given, up to
207 characters) with Joliet and Rock Ridge too, so every reader sees
`user-data` and `meta-data` under their own names; cloud-init's NoCloud
finds it by its volume label (`cidata`), which is the job's `label`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import pycdlib


def pack(label: str, files: Mapping[str, str]) -> bytes:
    """An ISO image holding each of `files` (name → UTF-8 text) at its root, with volume label `label`."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=label)
    try:
        for name, text in sorted(files.items()):
            data = text.encode()
            iso.add_fp(io.BytesIO(data), len(data), f"/{name}", rr_name=name, joliet_path=f"/{name}")
        out = io.BytesIO()
        iso.write_fp(out)
    finally:
        iso.close()
    return out.getvalue()


def read(image: bytes) -> tuple[str, dict[str, str]]:
    """(volume label, files by their Rock Ridge names) of an ISO made by `pack`: for tests and checks."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        label = iso.pvd.volume_identifier.decode().rstrip()
        files = {}
        for child in iso.list_children(rr_path="/"):
            if child.is_file():
                name = child.rock_ridge.name().decode()
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
                files[name] = out.getvalue().decode()
    finally:
        iso.close()
    return label, files
