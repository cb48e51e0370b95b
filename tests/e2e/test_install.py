"""The install script, run for real on this machine against a running stack.

`curl -fsSL STACK/agent/install.sh | bash -s -- --token T --no-start` installs
the agent into /opt/fleetvisor-agent, /etc/fleetvisor and /etc/systemd/system
exactly as on a host (this machine runs no systemd, hence --no-start), with
its system user `fleetvisor-agent`, enrols it, and `--uninstall` takes it all
away again (tests/e2e/test_systemd_host.py does the same on a real systemd
host, a VM). These are the machine's real
paths: the tests hold a lock so two runs never overlap, refuse to touch a
machine whose agent they did not install, and remove everything they made even
when they fail. libvirtd is only read from (capabilities at enrolment).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import http.client
import os
import pwd
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import REPO, LocalStack

from .package_mirror import PackageMirror, agent_dependencies

PREFIX = Path("/opt/fleetvisor-agent")
CONFIG = Path("/etc/fleetvisor/agent.env")
UNIT = Path("/etc/systemd/system/fleetvisor-agent.service")
STATE = Path("/var/lib/fleetvisor-agent")
PRIVATE_STATE = Path("/var/lib/private/fleetvisor-agent")
INSTALLED = (PREFIX, CONFIG, UNIT, STATE, PRIVATE_STATE)
SERVICE_USER = "fleetvisor-agent"
LOCK = Path("/run/lock/fleetvisor-install-test.lock")
# Present while these tests may have files installed: what a killed run left behind is theirs to remove.
MARKER = Path("/var/tmp/fleetvisor-install-test.in-progress")

pytestmark = pytest.mark.e2e


def _require_the_machine() -> None:
    """These tests install for real; a machine that cannot take it is a failure that says why, never a skip."""
    if os.geteuid() != 0:
        pytest.fail("the install tests install into /opt, /etc and /var/lib: run them as root, as CI does")
    if shutil.which("apt-get") is None or shutil.which("systemd-analyze") is None:
        pytest.fail("the install tests need apt-get and systemd-analyze (scripts/setup.sh installs systemd)")


def _user_exists() -> bool:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return False
    return True


def _present() -> list[Path | str]:
    found: list[Path | str] = [p for p in INSTALLED if p.exists() or p.is_symlink()]
    return [*found, f"user {SERVICE_USER}"] if _user_exists() else found


def _remove_everything() -> None:
    for path in INSTALLED:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    with contextlib.suppress(OSError):
        CONFIG.parent.rmdir()
    if _user_exists():
        subprocess.run(["userdel", SERVICE_USER], check=True, timeout=30)
    with contextlib.suppress(subprocess.CalledProcessError):
        subprocess.run(["groupdel", SERVICE_USER], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def machine() -> Iterator[None]:
    _require_the_machine()
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _present() and not MARKER.exists():
            # Never overwrite an operator's real agent: refuse loudly instead.
            pytest.fail(f"a Fleetvisor agent these tests did not install is on this machine ({_present()[0]}); "
                        "run them where none is installed")
        MARKER.touch()
        _remove_everything()
        try:
            yield
        finally:
            _remove_everything()
            MARKER.unlink()


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.login()}"}


def _install(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """What an operator pastes: curl … | bash -s -- ARGS (as root already, so without sudo)."""
    if stdin is None:
        argv = ["bash", "-c", 'curl -fsSL "$0/agent/install.sh" | bash -s -- "$@"', url, *args]
    else:
        argv = ["bash", "-s", "--", *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=300, check=False)


def _agents(stack: LocalStack, admin: dict[str, str]) -> dict[str, dict[str, Any]]:
    answer = requests.get(f"{stack.url}/api/agents", headers=admin, timeout=10)
    answer.raise_for_status()
    return {a["name"]: a for a in answer.json()["agents"]}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


class _TamperedWheel(BaseHTTPRequestHandler):
    """Serves the real wheel's name with one byte changed, as a compromised mirror would."""

    body = b""
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requested.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


def test_a_wheel_that_does_not_match_its_pin_is_refused(stack: LocalStack, machine: None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TamperedWheel)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # The control plane writes the address the request came in on into the script: asked with
        # this Host, the real script (real pin) sends the host to the tampering server.
        script = requests.get(f"{stack.url}/agent/install.sh", headers={"Host": f"127.0.0.1:{port}"}, timeout=10)
        name = next(line.split("'")[1] for line in script.text.splitlines() if line.startswith("readonly WHEEL_NAME="))
        real = requests.get(f"{stack.url}/agent/{name}", timeout=10).content
        _TamperedWheel.body = real[:100] + bytes([real[100] ^ 1]) + real[101:]
        done = _install(stack.url, "--token", stack.mint_enrollment_token(), "--no-start", stdin=script.text)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SHA256 MISMATCH" in done.stderr and hashlib.sha256(real).hexdigest() in done.stderr
    assert "nothing was installed" in done.stderr
    assert _TamperedWheel.requested == [f"/agent/{name}"]
    assert _present() == []


def test_install_enrol_reinstall_and_uninstall(stack: LocalStack, machine: None, admin: dict[str, str]) -> None:
    token = stack.mint_enrollment_token(uses=1)
    done = _install(stack.url, "--token", token, "--no-start", "--name", "install-e2e")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sha256" in done.stdout and "==> Done" in done.stdout
    host = _agents(stack, admin)["install-e2e"]
    assert '"agent_id": "' + host["agent_id"] in (STATE / "state.json").read_text()

    _check_installed_files(stack.url)
    verify = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert verify.returncode == 0 and "fleetvisor-agent" not in verify.stderr, verify.stderr
    helped = subprocess.run([str(PREFIX / "bin" / "fleetvisor-agent"), "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert helped.returncode == 0 and "deregister" in helped.stdout
    # libvirt-python is the distribution's, seen through --system-site-packages: nothing was compiled.
    where = subprocess.run([str(PREFIX / "bin" / "python"), "-c", "import libvirt; print(libvirt.__file__)"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    assert where.startswith("/usr/lib/python3/dist-packages/"), where

    # Again, with the spent token: same host, same identity, nothing duplicated.
    again = _install(stack.url, "--token", token, "--no-start", "--name", "install-e2e")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _agents(stack, admin)["install-e2e"]["agent_id"] == host["agent_id"]
    assert len([a for a in _agents(stack, admin) if a == "install-e2e"]) == 1

    gone = _install(stack.url, "--uninstall")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "install-e2e" not in _agents(stack, admin)
    answer = requests.get(f"{stack.url}/api/agents/{host['agent_id']}", headers=admin, timeout=10)
    assert answer.status_code == 404
    assert _present() == [] and not CONFIG.parent.exists()
    # Nothing left to remove is not an error.
    assert _install(stack.url, "--uninstall").returncode == 0


def _check_installed_files(url: str) -> None:
    agent = PREFIX / "bin" / "fleetvisor-agent"
    assert agent.is_file() and _mode(agent) & 0o111
    assert _mode(CONFIG) == 0o600 and CONFIG.stat().st_uid == 0
    settings = CONFIG.read_text().splitlines()
    assert f"FLEETVISOR_URL={url}" in settings and "FLEETVISOR_AGENT_NAME=install-e2e" in settings
    assert "FLEETVISOR_LIBVIRT_URI=qemu:///system" in settings
    assert not any("TOKEN" in line for line in settings)  # enrolled: the token is not kept
    assert _mode(UNIT) == 0o644
    assert UNIT.read_text() == (REPO / "agent" / "systemd" / "fleetvisor-agent.service").read_text()
    # The service's system user: no login, no home, and in group libvirt in the user database (polkit asks
    # that database, not the process).
    user = pwd.getpwnam(SERVICE_USER)
    assert user.pw_uid < 1000 and user.pw_shell == "/usr/sbin/nologin" and user.pw_dir == "/nonexistent"
    assert SERVICE_USER in grp.getgrnam("libvirt").gr_mem
    assert STATE.is_dir() and not STATE.is_symlink() and not PRIVATE_STATE.exists()
    for path in (STATE, STATE / "state.json"):
        assert path.stat().st_uid == user.pw_uid and path.stat().st_gid == user.pw_gid, path
    assert _mode(STATE) == 0o700 and _mode(STATE / "state.json") == 0o600


FAKE_SYSTEMCTL = """#!/bin/bash
# systemctl for a machine without systemd: records each call, and runs the agent as the unit would (as its
# user, with agent.env as its environment) between start and stop, so that `show -p MainPID` names it.
printf '%s\\n' "$*" >> "$FAKE_SYSTEMD/calls"
stop_agent() {
  if [ -f "$FAKE_SYSTEMD/pid" ]; then
    pid=$(cat "$FAKE_SYSTEMD/pid"); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$FAKE_SYSTEMD/pid"
  fi
}
case "$1" in
  is-active) if [ -f "$FAKE_SYSTEMD/pid" ]; then echo active; exit 0; fi; echo inactive; exit 3 ;;
  start|restart)
    stop_agent
    setpriv --reuid=fleetvisor-agent --regid=fleetvisor-agent --init-groups \\
      env -i $(grep -v '^#' /etc/fleetvisor/agent.env) \\
      FLEETVISOR_AGENT_CONFIG=/dev/null FLEETVISOR_AGENT_STATE_DIR=/var/lib/fleetvisor-agent \\
      /opt/fleetvisor-agent/bin/fleetvisor-agent run >> "$FAKE_SYSTEMD/agent.log" 2>&1 &
    echo $! > "$FAKE_SYSTEMD/pid" ;;
  show) cat "$FAKE_SYSTEMD/pid" 2>/dev/null || echo 0 ;;
  stop) stop_agent ;;
  disable) if [[ " $* " == *" --now "* ]]; then stop_agent; fi ;;
esac
"""


def _install_as_if_systemd_ran(url: str, fake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script with /run/systemd/system present (a tmpfs in a mount namespace of its own, so nothing
    else on the machine sees it) and a systemctl that records what it is asked and runs the agent."""
    (fake / "bin").mkdir(exist_ok=True)
    (fake / "bin" / "systemctl").write_text(FAKE_SYSTEMCTL)
    (fake / "bin" / "systemctl").chmod(0o755)
    inner = ('mount -t tmpfs fleetvisor-test /run/systemd && mkdir /run/systemd/system && '
             'curl -fsSL "$0/agent/install.sh" | bash -s -- "$@"')
    env = {**os.environ, "PATH": f"{fake / 'bin'}:{os.environ['PATH']}", "FAKE_SYSTEMD": str(fake)}
    Path("/run/systemd").mkdir(exist_ok=True)
    return subprocess.run(["unshare", "--mount", "bash", "-c", inner, url, *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def _with_libvirt_uri(uri: str) -> None:
    """agent.env as an operator may have it before installing: the script keeps settings it does not manage.
    (qemu:///system's libvirtd is not this machine's to rely on; the test driver is always there.)"""
    CONFIG.parent.mkdir(mode=0o755, exist_ok=True)
    CONFIG.write_text(f"FLEETVISOR_LIBVIRT_URI={uri}\n")
    CONFIG.chmod(0o600)


def test_where_systemd_runs_the_service_is_enabled_started_and_restarted_to_enrol(
        stack: LocalStack, machine: None, admin: dict[str, str], tmp_path: Path) -> None:
    namespaces = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    assert namespaces.returncode == 0, f"this test needs mount namespaces (unshare): {namespaces.stderr!r}"
    token = stack.mint_enrollment_token(uses=2)
    _with_libvirt_uri("test:///default")
    done = _install_as_if_systemd_ran(stack.url, tmp_path, "--token", token, "--name", "install-systemd")
    assert done.returncode == 0, done.stdout + done.stderr
    unit = "fleetvisor-agent.service"
    assert (tmp_path / "calls").read_text().splitlines() == [
        "daemon-reload", f"is-active --quiet {unit}", f"enable --quiet {unit}", f"restart {unit}",
        f"is-active --quiet {unit}", f"show --property MainPID --value {unit}", f"is-active {unit}"]
    assert "service: active" in done.stdout
    # The last check is the running service's own word, as its user.
    assert "hypervisor: reachable at test:///default" in done.stdout
    host = _agents(stack, admin)["install-systemd"]

    (tmp_path / "calls").unlink()
    again = _install_as_if_systemd_ran(stack.url, tmp_path, "--token", token)  # the name comes from agent.env
    assert again.returncode == 0, again.stdout + again.stderr
    assert _agents(stack, admin)["install-systemd"]["agent_id"] == host["agent_id"]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls.index(f"stop {unit}") < calls.index(f"restart {unit}")
    assert "Stopping the running agent to enrol" in again.stdout

    (tmp_path / "calls").unlink()
    gone = _install_as_if_systemd_ran(stack.url, tmp_path, "--uninstall")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert (tmp_path / "calls").read_text().splitlines() == [f"disable --now --quiet {unit}", "daemon-reload"]
    assert "install-systemd" not in _agents(stack, admin) and _present() == []


def test_a_service_that_cannot_reach_libvirt_fails_the_install_with_the_cause_and_the_fix(
        stack: LocalStack, machine: None, tmp_path: Path) -> None:
    # libvirt refuses the service; root would not have noticed (issue 19: "Done", and a host with no VMs).
    _with_libvirt_uri(f"test://{tmp_path}/no-such-host.xml")
    done = _install_as_if_systemd_ran(stack.url, tmp_path, "--token", stack.mint_enrollment_token(),
                                      "--name", "install-no-libvirt")
    try:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "==> Done" not in done.stdout
        assert "hypervisor: UNAVAILABLE at test://" in done.stdout and "no-such-host.xml" in done.stdout
        assert "libvirt refused it" in done.stderr and "id fleetvisor-agent" in done.stderr
        assert "cannot reach libvirt" in done.stderr
    finally:
        assert _install_as_if_systemd_ran(stack.url, tmp_path, "--uninstall").returncode == 0
    assert _present() == []


def test_without_systemd_it_asks_for_no_start_before_changing_anything(stack: LocalStack, machine: None) -> None:
    done = _install(stack.url, "--token", "fvet_not-even-checked")
    assert done.returncode == 1 and "systemd is not running here" in done.stderr and "--no-start" in done.stderr
    assert _present() == []


def test_it_refuses_to_run_as_anyone_but_root(stack: LocalStack, machine: None) -> None:
    script = requests.get(f"{stack.url}/agent/install.sh", timeout=10).text
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-s", "--",
                           "--token", "fvet_not-even-checked", "--no-start"], input=script, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1 and "run me as root" in done.stderr, done.stderr
    assert _present() == []


def test_the_local_server_serves_the_script_and_wheel_and_nothing_beside_them(stack: LocalStack) -> None:
    script = requests.get(f"{stack.url}/agent/install.sh", timeout=10)
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert f"readonly CONTROL_PLANE_URL='{stack.url}'" in script.text
    conn = http.client.HTTPConnection("127.0.0.1", stack.config.api_port, timeout=10)
    try:
        for raw in ("/agent/../functions/app.py", "/agent/..%2F..%2Ffunctions%2Fapp.py",
                    "/agent/%2e%2e/wheel/.fv-stamp", "/agent/v1"):
            conn.request("GET", raw, headers={"Accept": "*/*"})
            answer = conn.getresponse()
            body = answer.read()
            assert answer.status == 404, (raw, body)
            assert b"Fleetvisor control plane" not in body and b"app.register" not in body
    finally:
        conn.close()


# dpkg-query that says libvirtd and QEMU are not installed, and apt-get that records what it is asked: the
# branch of a host without them, on a machine whose tests need both installed (the rest runs for real).
FAKE_DPKG_QUERY = """#!/bin/bash
case " $* " in
  *" libvirt-daemon-system "*|*" qemu-system-x86 "*) exit 1 ;;
esac
exec /usr/bin/dpkg-query "$@"
"""
FAKE_APT_GET = """#!/bin/bash
printf '%s\\n' "$*" >> "$FAKE_APT/calls"
"""


@pytest.mark.parametrize("through_proxy", [False, True])
def test_a_host_without_libvirt_and_qemu_gets_them_from_apt(stack: LocalStack, machine: None,
                                                            admin: dict[str, str], tmp_path: Path,
                                                            through_proxy: bool) -> None:
    (tmp_path / "bin").mkdir()
    for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET)):
        (tmp_path / "bin" / name).write_text(text)
        (tmp_path / "bin" / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_APT": str(tmp_path)}
    token = stack.mint_enrollment_token(uses=1)
    with PackageMirror.serving(agent_dependencies()) as mirror:
        proxy = mirror.url_from("127.0.0.1")
        done = subprocess.run(["bash", "-c", 'curl -fsSL "$0/agent/install.sh" | bash -s -- "$@"', stack.url,
                               "--token", token, "--no-start", "--name", "install-apt",
                               *(["--proxy", proxy] if through_proxy else [])],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        # A proxy named to the script is apt's way out too.
        via = f"-o Acquire::http::Proxy={proxy} -o Acquire::https::Proxy={proxy} " if through_proxy else ""
        try:
            assert done.returncode == 0, done.stdout + done.stderr
            assert "Installing system packages: libvirt-daemon-system qemu-system-x86" in done.stdout
            assert (tmp_path / "calls").read_text().splitlines() == [
                f"{via}update -qq", f"{via}install -y -qq libvirt-daemon-system qemu-system-x86"]
            assert "install-apt" in _agents(stack, admin)
        finally:
            gone = _install(stack.url, "--uninstall")  # deregisters through the proxy in agent.env
            assert gone.returncode == 0, gone.stdout + gone.stderr
        assert (f"POST {stack.url}/agent/v1/deregister" in mirror.proxied) is through_proxy


def test_a_datacentre_host_installs_from_its_mirror_through_its_proxy_and_upgrades_the_same_way(
        stack: LocalStack, machine: None, admin: dict[str, str]) -> None:
    """--pip-index-url and --proxy (flags: what root's environment had does not survive sudo) serve the
    install, are kept in agent.env, and serve the upgrade that names neither."""
    with PackageMirror.serving(agent_dependencies()) as mirror:
        index, proxy = f"{mirror.url_from('127.0.0.1')}/simple/", mirror.url_from("127.0.0.1")
        done = _install(stack.url, "--token", stack.mint_enrollment_token(uses=1), "--no-start",
                        "--name", "install-mirror", "--pip-index-url", index, "--proxy", proxy)
        try:
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"downloads go through {proxy} (from --proxy)" in done.stdout
            assert {"/simple/requests/", "/simple/cryptography/", "/simple/pyjwt/"} <= set(mirror.served)
            assert any(u.startswith(f"GET {stack.url}/agent/fleetvisor_agent-") for u in mirror.proxied)
            assert f"POST {stack.url}/agent/v1/register" in mirror.proxied  # enrolment goes the service's way
            settings = CONFIG.read_text().splitlines()
            assert f"PIP_INDEX_URL={index}" in settings and f"HTTPS_PROXY={proxy}" in settings
            assert "install-mirror" in _agents(stack, admin)

            mirror.proxied.clear()
            again = _install(stack.url, "--no-start")
            assert again.returncode == 0, again.stdout + again.stderr
            assert f"downloads go through {proxy} (from agent.env)" in again.stdout
            assert any(u.startswith(f"GET {stack.url}/agent/fleetvisor_agent-") for u in mirror.proxied)
        finally:
            assert _install(stack.url, "--uninstall").returncode == 0


@pytest.mark.parametrize("option", ["--pip-index-url", "--pip-find-links", "--proxy"])
def test_a_mirror_or_proxy_that_is_not_an_http_url_is_refused_before_anything_changes(
        stack: LocalStack, machine: None, option: str) -> None:
    done = _install(stack.url, "--token", "fvet_not-even-checked", "--no-start", option, "file:///etc/passwd")
    assert done.returncode == 2 and f"{option} must be an http:// or https:// URL" in done.stderr, done.stderr
    assert _present() == []


def test_an_agent_installed_with_the_dynamic_user_unit_keeps_its_identity_when_upgraded(
        stack: LocalStack, machine: None, admin: dict[str, str]) -> None:
    done = _install(stack.url, "--token", stack.mint_enrollment_token(uses=1), "--no-start", "--name", "install-old")
    assert done.returncode == 0, done.stdout + done.stderr
    host = _agents(stack, admin)["install-old"]
    # What the DynamicUser= unit's installer left: the state in /var/lib/private, a symlink to it, no user.
    PRIVATE_STATE.parent.mkdir(mode=0o700, exist_ok=True)
    shutil.move(STATE, PRIVATE_STATE)
    STATE.symlink_to("private/fleetvisor-agent")
    subprocess.run(["userdel", SERVICE_USER], check=True, timeout=30)
    try:
        again = _install(stack.url, "--no-start")  # no token: the identity must come along
        assert again.returncode == 0, again.stdout + again.stderr
        assert STATE.is_dir() and not STATE.is_symlink() and not PRIVATE_STATE.exists()
        assert f'"agent_id": "{host["agent_id"]}"' in (STATE / "state.json").read_text()
        assert (STATE / "state.json").stat().st_uid == pwd.getpwnam(SERVICE_USER).pw_uid
        assert _agents(stack, admin)["install-old"]["agent_id"] == host["agent_id"]
    finally:
        assert _install(stack.url, "--uninstall").returncode == 0
    assert _present() == []
