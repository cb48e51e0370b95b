"""The Debian cloud image (scripts/guest/debian_image.py `cloud_image()`) as an operator would deploy it:
served over HTTP on loopback from its file, and named by an operator profile that is the built-in
Ubuntu one with this image in place of Canonical's. Shared by tests/e2e/test_cloud_init_guest.py and
bench/deploy.py."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from scripts.guest.debian_image import DebianImage

BUILTIN_UBUNTU = Path(__file__).resolve().parents[2] / "functions/chalicelib/deployments/builtin/ubuntu-24.04.yaml"
CLOUD_PROFILE_ID = "debian-cloud-test"


@contextlib.contextmanager
def serving_file(path: Path) -> Iterator[str]:
    """`path` served on 127.0.0.1 (streamed from the file: the image is several hundred MB); yields its URL."""
    handler = functools.partial(_QuietFiles, directory=str(path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


def cloud_profile_doc(image: DebianImage, url: str) -> dict[str, Any]:
    """The built-in Ubuntu profile as an operator's own, with this image (its sha256 read now) and 1 GiB."""
    doc: dict[str, Any] = yaml.safe_load(BUILTIN_UBUNTU.read_text())
    digest = hashlib.sha256()
    with image.disk.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    doc.update(id=CLOUD_PROFILE_ID, title="Debian 12 (test cloud image)")
    doc["image"] = {"url": url, "sha256": digest.hexdigest(), "format": "qcow2",
                    "max_bytes": image.disk.stat().st_size + 1}
    doc["sizing"]["memory_mib"]["default"] = 1024
    return doc


def cloud_profile(image: DebianImage, url: str) -> str:
    return yaml.safe_dump(cloud_profile_doc(image, url), sort_keys=False)
