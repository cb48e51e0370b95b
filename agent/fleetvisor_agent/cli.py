"""`fleetvisor-agent run`, `enroll`, `deregister` and `status` (does the running agent reach libvirt?).

Logs go to stdout, one line per record (a newline inside a message or a
traceback is written as `\\n`, so journald keeps the record as one entry).
When stdout is the journal (systemd's JOURNAL_STREAM names it), a line has no
timestamp, since journald adds its own, and starts with the syslog priority
journald reads and strips (`<4>WARNING …`, so `journalctl -p warning` works);
elsewhere it starts with the time. No secret is ever logged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__, status
from .client import ControlPlane
from .config import DEFAULT_CONFIG_FILE, Config, ConfigError, resolve_config
from .enrollment import EXIT_CONFIG, FatalError, deregister, enroll, prepare_state, state_lock
from .hypervisor.host import Host
from .runner import run_agent
from .state import StateError, load_state

ENROLL_BUDGET = 120.0  # seconds of retrying a down control plane before `enroll` gives up


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = vars(args)  # `deregister` takes only --config and --state-dir
    try:
        config = resolve_config(url=options.get("url"), token=options.get("token"),
                                libvirt_uri=options.get("libvirt_uri"), state_dir=args.state_dir,
                                name=options.get("name"), environment=options.get("environment"),
                                config_file=args.config)
    except ConfigError as exc:
        print(f"fleetvisor-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(config)
    try:
        if args.command is status_command:
            return status_command(config, args.pid, args.wait)
        return int(args.command(config))
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        return 130


def run_command(config: Config) -> int:
    return run_agent(config, exit_process=True)


def enroll_command(config: Config) -> int:
    """Enrol (again, if already enrolled: same control plane, same key) and exit; 0 also while approval is pending."""
    log = logging.getLogger(__name__)
    if not config.url or not config.enrollment_token:
        log.error("enroll needs --url and --token (or FLEETVISOR_URL and FLEETVISOR_ENROLLMENT_TOKEN)")
        return EXIT_CONFIG
    host = Host(config.libvirt_uri, config.deploy)
    try:
        with state_lock(config.state_dir):
            state = prepare_state(config)
            client = ControlPlane(state.url, state.private_key)
            approved = enroll(config, state, client, host, budget=ENROLL_BUDGET)
    except FatalError as exc:
        log.error("enrolment failed: %s", exc)
        return exc.exit_code
    finally:
        host.close()
    if not approved:
        print(f"enrolment of {config.name} with {state.url} is pending: the host's owner must approve it in "
              f"Fleetvisor; `fleetvisor-agent run` waits for that by itself (state in {config.state_dir})")
        return 0
    print(f"enrolled as {state.agent_id} ({state.name}) with {state.url}; state in {config.state_dir}")
    return 0


def deregister_command(config: Config) -> int:
    """Leave the fleet and forget this host's identity; the running agent must be stopped first."""
    log = logging.getLogger(__name__)
    try:
        with state_lock(config.state_dir):
            state = load_state(config.state_dir)
            if state is None:
                print(f"not enrolled (no state in {config.state_dir}): nothing to deregister")
                return 0
            client = ControlPlane(state.url, state.private_key, state.agent_id)
            try:
                done = deregister(config, state, client)
            finally:
                client.close()
    except (FatalError, StateError) as exc:
        log.error("deregistration failed: %s", exc)
        return exc.exit_code if isinstance(exc, FatalError) else EXIT_CONFIG
    print(done)
    return 0


def status_command(config: Config, pid: int | None = None, wait: float = 0.0) -> int:
    """What the running agent (process `pid`, if given) last saw of libvirt: 0 reachable, 1 not, 2 no word."""
    seen = status.wait_for(config.state_dir, pid, wait)
    if seen is None:
        who = f"process {pid}" if pid else "the agent"
        print(f"no word from {who} in {config.state_dir / status.STATUS_FILE} within {wait:.0f} s")
        return 2
    if seen.available:
        print(f"hypervisor: reachable at {seen.libvirt_uri} (pid {seen.pid})")
        return 0
    print(f"hypervisor: UNAVAILABLE at {seen.libvirt_uri} (pid {seen.pid}): {seen.error}")
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetvisor-agent", description="Fleetvisor hypervisor agent.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="name", required=True)
    run = commands.add_parser("run", help="enrol if needed, then poll for jobs until stopped")
    run.set_defaults(command=run_command)
    enrol = commands.add_parser("enroll", help="enrol this host with the control plane and exit")
    enrol.set_defaults(command=enroll_command)
    leave = commands.add_parser("deregister", help="take this host out of the fleet and forget its identity "
                                                   "(stop the running agent first)")
    leave.set_defaults(command=deregister_command)
    look = commands.add_parser("status", help="whether the running agent reaches its hypervisor "
                                              "(exit 0 yes, 1 no, 2 no word from it)")
    look.add_argument("--pid", type=int, help="only a report written by this process (the service's MainPID)")
    look.add_argument("--wait", type=float, default=0.0, help="seconds to wait for that report (default 0)")
    look.set_defaults(command=status_command)
    for sub in (run, enrol, leave, look):
        sub.add_argument("--config", help=f"settings file (FLEETVISOR_AGENT_CONFIG, default {DEFAULT_CONFIG_FILE} "
                                          "if it exists; /dev/null for none)")
        sub.add_argument("--state-dir", help="state directory (FLEETVISOR_AGENT_STATE_DIR)")
    for sub in (run, enrol):
        sub.add_argument("--url", help="control-plane URL (FLEETVISOR_URL)")
        sub.add_argument("--token", help="enrolment token (FLEETVISOR_ENROLLMENT_TOKEN)")
        sub.add_argument("--libvirt-uri", help="libvirt URI (FLEETVISOR_LIBVIRT_URI, default test:///default)")
        sub.add_argument("--name", help="host name in the fleet (FLEETVISOR_AGENT_NAME)")
        sub.add_argument("--environment", help="environment label (FLEETVISOR_ENVIRONMENT)")
    return parser


class LineFormatter(logging.Formatter):
    """`LEVEL logger: message`, on one line; for the journal with its priority prefix, else with the time."""

    # sd-daemon(3)'s prefixes: syslog priorities.
    PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self, *, journald: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if journald
                         else "%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\r", "\\r").replace("\n", "\\n")
        if not self.journald:
            return line
        return f"<{self.PRIORITIES.get(record.levelno, 6)}>{line}"


def _configure_logging(config: Config) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LineFormatter(journald=config.journald))
    logging.basicConfig(level=config.log_level, handlers=[handler], force=True)
    # urllib3 logs every retry and pool event; ours say what matters.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
