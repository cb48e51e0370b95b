"""agent/systemd/fleetvisor-agent.service: restarts, sandboxing, and what systemd-analyze makes of it.

`systemd-analyze verify` needs the unit's ExecStart to exist, so it runs on the
installed unit in tests/e2e/test_install.py; the sandbox's rating needs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "agent" / "systemd" / "fleetvisor-agent.service"


def _settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_agent_comes_back_unless_an_operator_must_act() -> None:
    unit = _settings()
    assert unit["Restart"] == ["always"] and unit["RestartPreventExitStatus"] == ["3 78"]
    assert unit["StartLimitIntervalSec"] == ["0"]


def test_it_runs_unprivileged_in_a_sandbox_that_still_reaches_libvirt_and_its_state() -> None:
    unit = _settings()
    # A system user the install script puts in group libvirt: polkit (Debian 12) asks the user database
    # whether the user is in that group, which a DynamicUser= with SupplementaryGroups= never is (issue 19;
    # tests/e2e/test_systemd_host.py proves it on a real systemd host).
    assert unit["User"] == ["fleetvisor-agent"] and unit["Group"] == ["fleetvisor-agent"]
    assert "DynamicUser" not in unit
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID"):
        assert unit[key] == ["yes"], key
    assert unit["ProtectSystem"] == ["strict"] and unit["CapabilityBoundingSet"] == [""]
    assert unit["SupplementaryGroups"] == ["libvirt"]  # the group even if an operator took the user out of it
    assert unit["RemoveIPC"] == ["yes"] and unit["PrivateTmp"] == ["yes"]  # what DynamicUser= implied
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0]
    assert unit["StateDirectory"] == ["fleetvisor-agent"] and unit["StateDirectoryMode"] == ["0700"]
    assert "FLEETVISOR_AGENT_STATE_DIR=%S/fleetvisor-agent" in unit["Environment"]
    assert "PrivateUsers" not in unit  # would unmap the libvirt group


def test_settings_come_from_agent_env_through_systemd_and_the_agent_reads_no_file_itself() -> None:
    # systemd reads the 0600 file as root; the dynamic user could not, and need not, read it again.
    unit = _settings()
    assert unit["EnvironmentFile"] == ["/etc/fleetvisor/agent.env"]
    assert "FLEETVISOR_AGENT_CONFIG=/dev/null" in unit["Environment"]
    assert unit["PrivateDevices"] == ["yes"]  # a private /dev still has /dev/null


def test_systemd_analyze_rates_its_exposure_low() -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: scripts/setup.sh installs systemd"
    # --threshold is on systemd's 0-100 scale: 20 is "2.0", well inside "OK" (the unit started at 6.5 MEDIUM).
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20", str(UNIT)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
