"""Fetching what vm.deploy boots from: an image or ISO over HTTP(S), resumable, size-capped, sha256-checked.

Only http:// and https:// are fetched. A URL whose host resolves to anything
but a global address (loopback, link-local, private, shared, reserved,
multicast, unspecified; IPv4-mapped IPv6 judged as its IPv4) is refused as
`source_refused`, unless it starts with one of the host's `allowed_sources`
prefixes (FLEETVISOR_AGENT_ALLOWED_SOURCES, a mirror on the LAN): a signed
job must not turn the agent into a reader of the host's own services or its
cloud's metadata endpoint. Redirects are followed by hand, at most
MAX_REDIRECTS, each target judged the same way. (Resolution happens once for
the check and again inside the HTTP client: a name that changes its answer
in between — DNS rebinding — is not caught. Prefer URLs with addresses or
names the operator controls.)

A download gathers in `<download_dir>/<sha256>.part`. A dropped connection
is resumed where it stopped (`Range: bytes=N-`; a server that answers 200
instead starts it over), within one job up to MAX_ATTEMPTS times, and a
later job for the same checksum resumes the same file. More than `max_bytes`
(announced by Content-Length or actually sent) stops the download at once:
`image_too_large`. The sha256 is computed while the bytes arrive and
compared at the end: a mismatch deletes the file (`checksum_mismatch`).
Nothing is used before it is verified.

`sniff` then says what the verified file is, from its own bytes: qcow2 (its
magic, and `qemu-img info` must show no backing file and no external data
file, which would make QEMU open another file of the host), an ISO 9660
image, or a raw disk (an MBR or GPT partition table, or an ext, XFS or Btrfs
file system); anything else is `not_a_disk_image`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
QEMU_IMG_TIMEOUT = 60

SOURCE_REFUSED = "source_refused"
DOWNLOAD_FAILED = "download_failed"
IMAGE_TOO_LARGE = "image_too_large"
CHECKSUM_MISMATCH = "checksum_mismatch"
NOT_A_DISK_IMAGE = "not_a_disk_image"
CANCELLED = "cancelled"

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes if known)

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


class SourceError(Exception):
    """A source that cannot be used: a stable code (the contract's), a message for people, retry or not."""

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class Fetched:
    path: Path  # the verified file, `<download_dir>/<sha256>.img`
    size: int
    resumed_from: int  # bytes already there from an earlier, interrupted download
    download_ms: int
    verify_ms: int


def checksum_lock(sha256: str) -> threading.Lock:
    """One lock per checksum: two jobs of this agent never write the same download or cache volume at once."""
    with _locks_guard:
        return _locks.setdefault(sha256, threading.Lock())


def check_source(url: str, allowed_sources: Collection[str]) -> None:
    """SourceError(source_refused) unless `url` is http(s) to a global address, or an allowed prefix."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(SOURCE_REFUSED, f"Only http:// and https:// URLs with a host are fetched, not {url!r}.")
    if any(url.startswith(prefix) for prefix in allowed_sources):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise SourceError(DOWNLOAD_FAILED, f"Cannot resolve {parts.hostname!r}: {exc}.", transient=True) from exc
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise SourceError(SOURCE_REFUSED, f"{parts.hostname!r} resolves to {address}, which is not a public "
                                              "address; list the URL's prefix in FLEETVISOR_AGENT_ALLOWED_SOURCES "
                                              "to fetch from it.")


def fetch(url: str, sha256: str, max_bytes: int, download_dir: Path, allowed_sources: Collection[str], *,
          cancelled: threading.Event | None = None, on_progress: Progress | None = None,
          session: requests.Session | None = None) -> Fetched:
    """Download `url` into `download_dir` and verify it; the caller holds checksum_lock(sha256)."""
    part = download_dir / f"{sha256}.part"
    done = download_dir / f"{sha256}.img"
    cancelled = cancelled or threading.Event()
    started = time.monotonic()
    http = session or requests.Session()
    try:
        download_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        resumed_from = part.stat().st_size if part.exists() else 0
        digest = _hash_file(part) if resumed_from else hashlib.sha256()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                digest = _download(http, url, part, digest, max_bytes=max_bytes, allowed_sources=allowed_sources,
                                   cancelled=cancelled, on_progress=on_progress)
                break
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                log.warning("download interrupted url=%s attempt=%d error=%s", url, attempt, type(exc).__name__)
                if attempt == MAX_ATTEMPTS or cancelled.is_set():
                    raise SourceError(DOWNLOAD_FAILED, f"Downloading {url} failed {MAX_ATTEMPTS} times "
                                                       f"({type(exc).__name__}); the next attempt resumes it.",
                                      transient=True) from exc
    except SourceError as exc:
        if exc.code in (IMAGE_TOO_LARGE, SOURCE_REFUSED):
            part.unlink(missing_ok=True)
        raise
    except OSError as exc:  # the download directory (full, unwritable), or a request the client refused
        raise SourceError(DOWNLOAD_FAILED, f"Downloading {url} failed: {exc}", transient=True) from exc
    finally:
        if session is None:
            http.close()
    downloaded = time.monotonic()
    if digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise SourceError(CHECKSUM_MISMATCH, f"{url} has sha256 {digest.hexdigest()}, not the {sha256} the job "
                                             "names; the download was deleted.")
    part.replace(done)
    return Fetched(done, done.stat().st_size, resumed_from, int((downloaded - started) * 1000),
                   int((time.monotonic() - downloaded) * 1000))


def _download(http: requests.Session, url: str, part: Path, digest: hashlib._Hash, *, max_bytes: int,
              allowed_sources: Collection[str], cancelled: threading.Event,
              on_progress: Progress | None) -> hashlib._Hash:
    """Fetch what `part` lacks; the running digest of everything in `part` afterwards."""
    have = part.stat().st_size if part.exists() else 0
    response = _open(http, url, have, allowed_sources)
    with response:
        if have and response.status_code == 200:  # the server will not resume: start over
            have, digest = 0, hashlib.sha256()
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise SourceError(IMAGE_TOO_LARGE, f"{url} is {total} bytes, over the job's max_bytes {max_bytes}.")
        with part.open("ab" if have else "wb") as out:
            for chunk in response.iter_content(CHUNK):
                if cancelled.is_set():
                    raise SourceError(CANCELLED, "The job was cancelled while downloading.", transient=True)
                have += len(chunk)
                if have > max_bytes:
                    raise SourceError(IMAGE_TOO_LARGE, f"{url} sent more than the job's max_bytes {max_bytes}.")
                out.write(chunk)
                digest.update(chunk)
                if on_progress is not None:
                    on_progress(have, total)
    if total is not None and have < total:
        raise requests.exceptions.ChunkedEncodingError(f"got {have} of {total} bytes")
    return digest


def _open(http: requests.Session, url: str, have: int, allowed_sources: Collection[str]) -> requests.Response:
    """The response for `url` from byte `have` on, following (and judging) redirects."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    for _ in range(MAX_REDIRECTS + 1):
        check_source(url, allowed_sources)
        response = http.get(url, headers=headers, stream=True, allow_redirects=False,
                            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        if response.is_redirect and "Location" in response.headers:
            response.close()
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status_code == 416 and have:  # the partial file is no prefix of this one: start over
            response.close()
            return _open(http, url, 0, allowed_sources)
        if response.status_code == 206 and not response.headers.get("Content-Range", "").startswith(
                f"bytes {have}-"):
            response.close()
            raise SourceError(DOWNLOAD_FAILED, f"{url} answered a range other than the one asked for.",
                              transient=True)
        if response.status_code not in (200, 206):
            response.close()
            raise SourceError(DOWNLOAD_FAILED, f"{url} answered HTTP {response.status_code}.",
                              transient=response.status_code >= 500 or response.status_code == 429)
        return response
    raise SourceError(DOWNLOAD_FAILED, f"{url} redirects more than {MAX_REDIRECTS} times.")


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest


# -- what a file is ------------------------------------------------------------------------------------

QCOW2_MAGIC = b"QFI\xfb"
ISO_MAGIC_OFFSET = 0x8001  # "CD001" in the primary volume descriptor of sector 16
SNIFF_BYTES = 0x10048


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "qcow2", "raw" or "iso"
    virtual_size: int  # bytes the guest sees


def sniff(path: Path) -> ImageInfo:
    """What the verified file at `path` is, from its bytes; SourceError(not_a_disk_image) if nothing usable."""
    with path.open("rb") as data:
        head = data.read(SNIFF_BYTES)
    size = path.stat().st_size
    if head.startswith(QCOW2_MAGIC):
        return ImageInfo("qcow2", _qcow2_virtual_size(path))
    if head[ISO_MAGIC_OFFSET:ISO_MAGIC_OFFSET + 5] == b"CD001":
        return ImageInfo("iso", size)
    if _raw_disk(head):
        return ImageInfo("raw", size)
    raise SourceError(NOT_A_DISK_IMAGE, "The file is neither a qcow2 image, an ISO 9660 image, nor a raw disk "
                                        "with a partition table or a file system.")


def _raw_disk(head: bytes) -> bool:
    mbr = head[510:512] == b"\x55\xaa"
    gpt = head[512:520] == b"EFI PART"
    ext = head[1080:1082] == b"\x53\xef"
    xfs = head.startswith(b"XFSB")
    btrfs = head[0x10040:0x10048] == b"_BHRfS_M"
    return mbr or gpt or ext or xfs or btrfs


def _qcow2_virtual_size(path: Path) -> int:
    try:
        done = subprocess.run(["qemu-img", "info", "--output=json", "-f", "qcow2", str(path)], capture_output=True,
                              text=True, timeout=QEMU_IMG_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise SourceError(NOT_A_DISK_IMAGE, "qemu-img is not installed on this host (Debian: qemu-utils), so "
                                            "a qcow2 image cannot be checked.") from exc
    if done.returncode != 0:
        raise SourceError(NOT_A_DISK_IMAGE, f"qemu-img cannot read the qcow2 image: {done.stderr.strip()[:200]}")
    info = json.loads(done.stdout)
    data = (info.get("format-specific") or {}).get("data") or {}
    if info.get("backing-filename") or info.get("full-backing-filename") or data.get("data-file"):
        raise SourceError(NOT_A_DISK_IMAGE, "The qcow2 image names a backing file or an external data file; "
                                            "only self-contained images are used.")
    return int(info["virtual-size"])
