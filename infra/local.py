"""The local stack: dynalite, moto's server, the API with the web app, and an agent.

`make up` runs `python -m infra.local`; the tests and benchmarks use
`LocalStack` with temporary directories and free ports. Everything listens
on loopback only.

Decisions worth knowing:
- dynalite keeps its data under `<root>/dynalite`; a lock file makes sure no
  two stacks ever share that path. moto keeps nothing, so the key secrets are
  kept in `<root>/secrets/` (0600) and put back at every start. S3 objects
  (job results) do not survive a restart.
- The first admin comes from FLEETVISOR_ADMIN_EMAIL / FLEETVISOR_ADMIN_PASSWORD
  (created, or its password reset, at every start); without them a password is
  generated once, kept in `<root>/secrets/admin-password` and printed.
- The local agent keeps its key and id in `<root>/agent/`; an enrolment token
  is minted only while it has not enrolled yet.
- While the API runs, `<root>/stack.json` says where (`{"url", "pid"}`), so the
  `fleetvisor` CLI finds a stack on any port; it is removed at stop, and a
  file left by a killed stack names a dead pid, which the CLI ignores.
- Children are started in their own session (Ctrl-C reaches only this
  process, which stops them in order) and die with it if it is killed.
- What an operator can fix before a start (the data directory in use by a
  running stack, the API port taken) is a LaunchError, checked before any
  child starts; `make up` prints it as one sentence, without a traceback.
  The port is checked by binding it: otherwise the new API would fail to
  listen while the launcher, finding the port open, logged into the other
  stack with the wrong password (401).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
import requests

from infra import resources

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO / "functions"
VENV_BIN = Path(sys.executable).parent
DYNALITE = REPO / "node_modules" / ".bin" / "dynalite"
DEFAULT_ADMIN = "admin@fleetvisor.local"
LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
ENDPOINTS_FILE = "endpoints.json"
STACK_FILE = "stack.json"  # the API's URL for the CLI (cli/fleetvisor_cli/api.py reads it)


class LaunchError(RuntimeError):
    """The stack cannot start for a reason the operator can fix; the message says how, in one sentence."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the launcher dies, even by SIGKILL."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Children lead their own process group (setsid in _die_with_parent)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_for_port(port: int, what: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting; see its log")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not open port {port} within {timeout:.0f} s")


@dataclass
class StackConfig:
    root: Path
    api_port: int = 8000
    spa_dir: Path | None = REPO / "frontend" / "dist"
    libvirt_uri: str = "test:///default"
    admin_email: str = DEFAULT_ADMIN
    admin_password: str | None = None
    start_api: bool = True
    start_agent: bool = True
    agent_name: str = "local-host"
    stage: str = "local"
    extra_api_env: dict[str, str] = field(default_factory=dict)
    # The URL the local agent is given (default: the API's own) and its extra environment; the fault
    # tests put a proxy in front of the API this way and shorten the agent's waits.
    agent_url: str | None = None
    agent_env: dict[str, str] = field(default_factory=dict)
    moto_port: int | None = None  # None: a free one (FLEETVISOR_S3_PUBLIC_ENDPOINT needs it known in advance)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.root = config.root
        self.children: dict[str, Child] = {}
        self.dynalite_port = free_port()
        self.moto_port = config.moto_port or free_port()
        self.admin_password = ""
        self.admin_password_set = True  # False: the admin kept a password chosen since (the banner says so)
        self._lock: IO[str] | None = None

    # -- life cycle -------------------------------------------------------
    def start(self) -> "LocalStack":
        for sub in ("dynalite", "logs", "secrets", "agent"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._take_lock()
        if self.config.start_api:
            _check_port_free(self.config.api_port)
        self._spawn("dynalite", [str(DYNALITE), "--host", LOOPBACK, "--port", str(self.dynalite_port),
                                 "--path", str(self.root / "dynalite"), "--createTableMs", "0",
                                 "--deleteTableMs", "0", "--updateTableMs", "0"], self.dynalite_port)
        self._spawn("moto", [str(VENV_BIN / "moto_server"), "-H", LOOPBACK, "-p", str(self.moto_port)],
                    self.moto_port)
        self._provision()
        # Where a tool finds this stack's emulators (infra/keys.py --local), while it runs.
        endpoints = {k: v for k, v in self.service_env().items() if k.startswith("AWS_ENDPOINT_URL")}
        write_private(self.root / ENDPOINTS_FILE, json.dumps(endpoints))
        self.admin_password = self._admin_password()
        token = self._bootstrap(mint_token=self.config.start_agent and not self._agent_enrolled())
        if self.config.start_api:
            self.start_api()
            write_private(self.root / STACK_FILE, json.dumps({"url": self.url, "pid": os.getpid()}))
        if self.config.start_api and self.config.start_agent:
            self.start_agent(self.config.agent_name, self.config.libvirt_uri, token,
                             self.root / "agent")
        return self

    def stop(self) -> None:
        if self._lock is not None:
            (self.root / STACK_FILE).unlink(missing_ok=True)
        for name in reversed(list(self.children)):
            self.stop_child(name)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_lock(self) -> None:
        self._lock = open(self.root / ".lock", "w")  # noqa: SIM115 - held for the stack's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LaunchError(f"Another Fleetvisor stack is already running on {self.root}: stop it (Ctrl-C "
                              "where it runs) or give this one its own FLEETVISOR_HOME.") from exc

    # -- processes --------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], port: int | None = None,
               env: dict[str, str] | None = None) -> Child:
        log = open(self.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        # preexec_fn is safe here: the launcher starts children from one thread only.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=REPO, env=env or self.service_env(),
                                preexec_fn=_die_with_parent)  # noqa: PLW1509
        child = Child(name, proc, log)
        self.children[name] = child
        if port is not None:
            wait_for_port(port, name, proc)
        return child

    def stop_child(self, name: str, sig: int = signal.SIGTERM) -> None:
        child = self.children.pop(name, None)
        if child is None:
            return
        if child.proc.poll() is None:
            # The whole process group: a wrapper such as faketime forks the real process.
            _signal_group(child.proc, sig)
            try:
                child.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
        else:
            _signal_group(child.proc, signal.SIGKILL)  # anything it left behind in its group
        child.log.close()

    def service_env(self) -> dict[str, str]:
        """What the API (and any control-plane tool) needs to reach the emulators."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLEETVISOR_"))}
        env.update({
            "AWS_ENDPOINT_URL": f"http://{LOOPBACK}:{self.moto_port}",
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://{LOOPBACK}:{self.dynalite_port}",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "FLEETVISOR_STAGE": self.config.stage,
            "FLEETVISOR_BUCKET": resources.objects_bucket(self._params()),
            # moto's STS hands out credentials for any role (and enforces nothing locally): the name is
            # the deployed stack's in spirit, so agents wait on their own queue here as on AWS.
            "FLEETVISOR_DOORBELL_ROLE_ARN": f"arn:aws:iam::{resources.PSEUDO['AWS::AccountId']}:role/"
                                            f"fleetvisor-{self.config.stage}-agent-doorbell",
            "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), str(REPO)]),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.config.extra_api_env)
        return env

    def start_api(self) -> None:
        argv = [sys.executable, "-m", "infra.local_server", "--host", LOOPBACK,
                "--port", str(self.config.api_port)]
        if self.config.spa_dir is not None:
            argv += ["--spa", str(self.config.spa_dir)]
        self._spawn("api", argv, self.config.api_port)

    def start_agent(self, name: str, libvirt_uri: str, token: str | None, state_dir: Path,
                    *, extra_env: dict[str, str] | None = None, wrapper: list[str] | None = None,
                    child_name: str | None = None) -> Child:
        """An agent process; `wrapper` prefixes its command (e.g. faketime for a skewed clock)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLEETVISOR_"))}
        # Nor the machine's own agent settings (/etc/fleetvisor/agent.env, if an agent is installed here).
        env.update({"PYTHONUNBUFFERED": "1", "FLEETVISOR_AGENT_CONFIG": os.devnull, **self.config.agent_env,
                    **(extra_env or {})})
        if token:
            env["FLEETVISOR_ENROLLMENT_TOKEN"] = token
        url = self.config.agent_url or self.url
        argv = [*(wrapper or []), str(VENV_BIN / "fleetvisor-agent"), "run", "--url", url,
                "--state-dir", str(state_dir), "--libvirt-uri", libvirt_uri, "--name", name]
        return self._spawn(child_name or f"agent-{name}", argv, env=env)

    # -- resources and accounts -------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.config.api_port}"

    def aws_session(self) -> boto3.Session:
        return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")

    def client(self, service: str) -> Any:
        port = self.dynalite_port if service == "dynamodb" else self.moto_port
        endpoint = f"http://{LOOPBACK}:{port}"
        return self.aws_session().client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    def _params(self) -> dict[str, str]:
        return {"Stage": self.config.stage, "WebOrigin": self.url}

    def _provision(self) -> None:
        params = self._params()
        saved = self._saved_secrets()
        values = resources.create_all(_Endpoints(self), params, _new_keyring, saved)
        for name, value in values.items():
            if saved.get(name) != value:
                write_private(self._secret_path(name), value)

    def _secret_path(self, name: str) -> Path:
        return saved_secret_path(self.root, name)

    def _saved_secrets(self) -> dict[str, str]:
        out = {}
        for path in (self.root / "secrets").glob("*.json"):
            out[path.stem.replace("__", "/")] = path.read_text()
        return out

    def _admin_password(self) -> str:
        if self.config.admin_password:
            return self.config.admin_password
        path = self.root / "secrets" / "admin-password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(18))
        return path.read_text().strip()

    def _agent_enrolled(self) -> bool:
        """The agent writes its state (and key) before enrolling, so look for the id."""
        state = self.root / "agent" / "state.json"
        try:
            return bool(json.loads(state.read_text()).get("agent_id"))
        except (OSError, ValueError):
            return False

    def _bootstrap(self, mint_token: bool) -> str | None:
        """Create or reset the first admin (and mint the local agent's token) in a
        control-plane process, so this one never imports the app's settings."""
        env = {**self.service_env(), "FLEETVISOR_BOOTSTRAP_PASSWORD": self.admin_password}
        argv = [sys.executable, "-m", "infra.bootstrap", "--email", self.config.admin_email]
        if not self.config.admin_password:
            # A generated password is set once; one the operator changed later survives restarts. Only an
            # explicit FLEETVISOR_ADMIN_PASSWORD resets it.
            argv.append("--keep-password")
        if mint_token:
            argv.append("--enrollment-token")
        out = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
                             check=False)
        if out.returncode != 0:
            raise RuntimeError(f"bootstrap failed: {out.stderr.strip()[-2000:]}")
        answer = json.loads(out.stdout)
        self.admin_password_set = bool(answer.get("password_works", True))
        return answer.get("enrollment_token")

    def mint_enrollment_token(self, uses: int = 1) -> str:
        token = self.login()
        answer = requests.post(f"{self.url}/api/enrollment-tokens", json={"uses": uses},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def login(self, email: str | None = None, password: str | None = None) -> str:
        answer = requests.post(f"{self.url}/api/auth/login", timeout=10, json={
            "email": email or self.config.admin_email, "password": password or self.admin_password})
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def wait_for_agents(self, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        token = self.login()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            agents = requests.get(f"{self.url}/api/agents", headers={"Authorization": f"Bearer {token}"},
                                  timeout=10).json()["agents"]
            online = [a for a in agents if a["status"] == "online"]
            if len(online) >= count:
                return online
            time.sleep(0.1)
        raise RuntimeError(f"{count} agent(s) did not come online within {timeout:.0f} s; see {self.root}/logs")


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        # As the API's server binds (SO_REUSEADDR): a port left in TIME_WAIT by a stack just stopped is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise LaunchError(f"Port {port} is already in use (another Fleetvisor stack, or another program): "
                              f"stop it, or start this one on another port, e.g. FLEETVISOR_PORT={port + 1} "
                              "make up.") from exc


class _Endpoints:
    """A boto3-session look-alike whose clients point at dynalite and moto."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    def client(self, service: str) -> Any:
        return self.stack.client(service)


def _new_keyring(name: str) -> str:
    sys.path.insert(0, str(FUNCTIONS))
    from chalicelib import keys  # noqa: PLC0415 - the control plane owns the keyring format

    return keys.new_secret_value("job" if "job" in name else "seal" if "sealing" in name else "token")


def saved_secret_path(root: Path, name: str) -> Path:
    """The launcher's copy of a secret, put back into moto (which keeps nothing) at every start."""
    return root / "secrets" / (name.replace("/", "__") + ".json")


def write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


LIBVIRT_SOCKET = Path("/run/libvirt/libvirt-sock")


def ensure_libvirtd(uri: str) -> None:
    """`make up` with qemu:///system on a machine without systemd: start the daemons it needs."""
    if not uri.startswith("qemu:///system") or LIBVIRT_SOCKET.exists():
        return
    print("fleetvisor: starting virtlogd and libvirtd for qemu:///system", flush=True)
    for daemon in ("virtlogd", "libvirtd"):
        subprocess.run([daemon, "-d"], check=False, timeout=30)
    deadline = time.monotonic() + 30
    while not LIBVIRT_SOCKET.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


# Where hosts that do not share this machine's loopback (a VM, another machine through a tunnel) reach the
# stack: the API puts the first into the install script and agents' answers, the second into presigned S3
# URLs, the third into the doorbell answer. service_env() passes no other FLEETVISOR_* variable through.
PUBLIC_ADDRESS_VARIABLES = ("FLEETVISOR_PUBLIC_URL", "FLEETVISOR_S3_PUBLIC_ENDPOINT",
                            "FLEETVISOR_SQS_PUBLIC_ENDPOINT")


def config_from_environment(environ: Mapping[str, str]) -> StackConfig:
    """`make up`'s settings, read once from its environment (the README's variable table)."""
    return StackConfig(
        root=Path(environ.get("FLEETVISOR_HOME", REPO / ".fleetvisor")),
        api_port=int(environ.get("FLEETVISOR_PORT", "8000")),
        libvirt_uri=environ.get("FLEETVISOR_LIBVIRT_URI", "test:///default"),
        admin_email=environ.get("FLEETVISOR_ADMIN_EMAIL", DEFAULT_ADMIN),
        admin_password=environ.get("FLEETVISOR_ADMIN_PASSWORD") or None,
        moto_port=int(environ["FLEETVISOR_MOTO_PORT"]) if environ.get("FLEETVISOR_MOTO_PORT") else None,
        extra_api_env={name: environ[name] for name in PUBLIC_ADDRESS_VARIABLES if environ.get(name)})


def main() -> None:
    config = config_from_environment(os.environ)
    root = config.root
    ensure_libvirtd(config.libvirt_uri)
    stack = LocalStack(config)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    failed = False
    try:
        stack.start()
        stack.wait_for_agents(1)
        print(_banner(stack), flush=True)
        while all(c.proc.poll() is None for c in stack.children.values()):
            time.sleep(0.5)
        dead = [c.name for c in stack.children.values() if c.proc.poll() is not None]
        print(f"fleetvisor: {', '.join(dead)} stopped; see {root}/logs. Shutting down.", flush=True)
    except LaunchError as exc:
        print(f"fleetvisor: {exc}", file=sys.stderr, flush=True)
        failed = True
    except KeyboardInterrupt:
        print("\nfleetvisor: stopping…", flush=True)
    finally:
        stack.stop()
    if failed:
        sys.exit(1)


def _banner(stack: LocalStack) -> str:
    return "\n".join([
        "",
        "Fleetvisor is running.",
        f"  Web app:   {stack.url}/",
        f"  Email:     {stack.config.admin_email}",
        f"  Password:  {stack.admin_password}" if stack.admin_password_set else
        "  Password:  the one you set (FLEETVISOR_ADMIN_PASSWORD=... make up resets it)",
        f"  Host:      one local agent on {stack.config.libvirt_uri}",
        f"  Logs:      {stack.root}/logs/",
        "Press Ctrl-C to stop everything.",
        "",
    ])


if __name__ == "__main__":
    main()
