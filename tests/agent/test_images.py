"""Fetching deploy sources (images.py) from a real HTTP server on loopback: resume, size cap, checksum,
refused schemes and targets, and what the downloaded bytes are."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleetvisor_agent import images
from fleetvisor_agent.images import SourceError, check_source, fetch, sniff

from .image_server import ImageServer, serving

RAW = bytes(510) + b"\x55\xaa" + bytes(3 * 1024 * 1024)  # an MBR-partitioned raw disk, 3 MiB and a bit


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server() -> Iterator[ImageServer]:
    with serving(ImageServer(files={"/disk.raw": RAW})) as started:
        yield started


def allowed(server: ImageServer) -> list[str]:
    return [f"{server.url}/"]


def test_a_dropped_download_resumes_where_it_stopped(server: ImageServer, tmp_path: Path) -> None:
    server.drop_after = 1024 * 1024
    progress: list[tuple[int, int | None]] = []

    got = fetch(f"{server.url}/disk.raw", sha(RAW), len(RAW), tmp_path, allowed(server),
                on_progress=lambda done, total: progress.append((done, total)))

    assert got.path.read_bytes() == RAW and got.size == len(RAW)
    assert server.gets("/disk.raw") == [None, f"bytes={1024 * 1024}-"]
    assert progress[-1] == (len(RAW), len(RAW))
    assert not (tmp_path / f"{sha(RAW)}.part").exists()


def test_a_later_job_resumes_a_partial_file_left_by_an_earlier_one(server: ImageServer, tmp_path: Path) -> None:
    (tmp_path / f"{sha(RAW)}.part").write_bytes(RAW[:5000])

    got = fetch(f"{server.url}/disk.raw", sha(RAW), len(RAW), tmp_path, allowed(server))

    assert got.resumed_from == 5000 and got.path.read_bytes() == RAW
    assert server.gets("/disk.raw") == ["bytes=5000-"]


def test_a_server_without_ranges_starts_over(server: ImageServer, tmp_path: Path) -> None:
    server.ranges = False
    (tmp_path / f"{sha(RAW)}.part").write_bytes(RAW[:5000])

    got = fetch(f"{server.url}/disk.raw", sha(RAW), len(RAW), tmp_path, allowed(server))

    assert got.path.read_bytes() == RAW


def test_an_announced_size_over_the_cap_is_refused_before_reading(server: ImageServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as refused:
        fetch(f"{server.url}/disk.raw", sha(RAW), len(RAW) - 1, tmp_path, allowed(server))

    assert refused.value.code == "image_too_large"
    assert list(tmp_path.iterdir()) == []


def test_an_unannounced_size_is_cut_off_at_the_cap(server: ImageServer, tmp_path: Path) -> None:
    server.hide_length = True

    with pytest.raises(SourceError) as refused:
        fetch(f"{server.url}/disk.raw", sha(RAW), 2 * 1024 * 1024, tmp_path, allowed(server))

    assert refused.value.code == "image_too_large"
    assert list(tmp_path.iterdir()) == []


def test_a_checksum_mismatch_deletes_the_download(server: ImageServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as refused:
        fetch(f"{server.url}/disk.raw", "0" * 64, len(RAW), tmp_path, allowed(server))

    assert refused.value.code == "checksum_mismatch" and sha(RAW) in refused.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://example.com/x.img", "file:///etc/shadow", "gopher://example.com/",
                                 "http:///nohost", "https://"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(SourceError) as refused:
        check_source(url, [])
    assert refused.value.code == "source_refused"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "169.254.169.254",
                                  "[::1]", "[fe80::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "100.64.0.1"])
def test_private_and_local_targets_are_refused(host: str) -> None:
    with pytest.raises(SourceError) as refused:
        check_source(f"http://{host}/x.img", [])
    assert refused.value.code == "source_refused"


def test_an_allowed_prefix_lets_a_local_mirror_through_but_only_under_it(server: ImageServer) -> None:
    check_source(f"{server.url}/images/x.img", [f"{server.url}/images/"])
    with pytest.raises(SourceError):
        check_source(f"{server.url}/other/x.img", [f"{server.url}/images/"])


def test_a_redirect_to_a_refused_target_is_refused(server: ImageServer, tmp_path: Path) -> None:
    server.redirects["/go"] = "http://169.254.169.254/latest/meta-data/"

    with pytest.raises(SourceError) as refused:
        fetch(f"{server.url}/go", sha(RAW), len(RAW), tmp_path, allowed(server))

    assert refused.value.code == "source_refused"
    assert server.gets("/go") == [None]


def test_a_redirect_within_the_allowed_prefix_is_followed(server: ImageServer, tmp_path: Path) -> None:
    server.redirects["/go"] = "/disk.raw"

    assert fetch(f"{server.url}/go", sha(RAW), len(RAW), tmp_path, allowed(server)).path.read_bytes() == RAW


def test_a_missing_file_fails_the_download(server: ImageServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as failed:
        fetch(f"{server.url}/nope", sha(RAW), len(RAW), tmp_path, allowed(server))
    assert failed.value.code == "download_failed" and not failed.value.transient


def test_what_a_file_is_comes_from_its_bytes(tmp_path: Path) -> None:
    qcow2 = tmp_path / "a.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "64M"], check=True)
    raw = tmp_path / "a.raw"
    raw.write_bytes(RAW)
    text = tmp_path / "a.txt"
    text.write_bytes(b"<html>not found</html>" * 100)

    assert sniff(qcow2) == images.ImageInfo("qcow2", 64 * 1024 * 1024)
    assert sniff(raw) == images.ImageInfo("raw", len(RAW))
    with pytest.raises(SourceError) as refused:
        sniff(text)
    assert refused.value.code == "not_a_disk_image"


def test_a_qcow2_with_a_backing_file_is_not_used(tmp_path: Path) -> None:
    base, overlay = tmp_path / "base.qcow2", tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay)],
                   check=True)

    with pytest.raises(SourceError) as refused:
        sniff(overlay)
    assert refused.value.code == "not_a_disk_image" and "backing" in refused.value.message
