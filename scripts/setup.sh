#!/usr/bin/env bash
# One idempotent set-up step shared by `make up`, `make test` and `.ci/run`:
# system packages, the Python virtualenv, npm packages and the SPA build.
# Each step is skipped when what it makes is already there and up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# python3-venv, python3-libvirt, curl and systemd (for systemd-analyze): what the agent's
# install script uses on a host, so tests/e2e/test_install.py finds them already there; also
# the shellcheck that checks that script. mmdebstrap, e2fsprogs and openssh-client build and
# reach the Debian host of tests/e2e/test_systemd_host.py (scripts/guest/debian_image.py).
# vm.deploy's VMs (tests/hypervisor/test_deploy.py) need UEFI firmware (ovmf), a TPM emulator
# (swtpm, swtpm-tools), dnsmasq for libvirt's default NAT network, and ISOLINUX (isolinux,
# syslinux-common) to boot the test guest from an ISO. The cloud-init guest's disk (a partitioned
# image that boots by itself, debian_image.py --cloud) takes syslinux, mtools, dosfstools and fdisk.
APT_PACKAGES=(libvirt-dev pkg-config libvirt-daemon-system libvirt-clients
              qemu-system-x86 qemu-utils cpio xz-utils chromium faketime nodejs npm
              python3-venv python3-libvirt curl systemd shellcheck
              mmdebstrap e2fsprogs openssh-client
              ovmf swtpm swtpm-tools dnsmasq-base isolinux syslinux-common
              syslinux mtools dosfstools fdisk)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere than Debian (nodesource, nvm): do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || keep+=("$p"); done
  missing=("${keep[@]+"${keep[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt functions/requirements.txt agent/pyproject.toml cli/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade 'pip<26.3'  # chalice 1.34 requires pip below 26.3
  .venv/bin/pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

npm_install() {  # $1 = directory with package.json and package-lock.json
  local dir=$1 lockhash
  lockhash=$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$dir/node_modules/.fv-stamp" 2>/dev/null)" != "$lockhash" ]; then
    echo "setup: installing npm packages in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lockhash" > "$dir/node_modules/.fv-stamp"
  fi
}
npm_install .
npm_install frontend

src_hash=$(find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json \
             -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f frontend/dist/index.html ] || [ "$(cat frontend/dist/.fv-stamp 2>/dev/null)" != "$src_hash" ]; then
  echo "setup: building the web app"
  (cd frontend && npm run --silent build)
  echo "$src_hash" > frontend/dist/.fv-stamp
fi

# The agent's wheel, served by the control plane at /agent/ (functions/chalicelib/distribution/):
# Chalice packages only app.py and chalicelib/, so it is built there, from a clean copy of the
# sources (setuptools' build/ directory would carry deleted modules into it), with fixed file times
# so the same sources give the same bytes and the same sha256.
wheel_dir=functions/chalicelib/distribution/wheel
agent_hash=$(find agent/pyproject.toml agent/README.md agent/systemd agent/fleetvisor_agent \
               -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if ! ls "$wheel_dir"/fleetvisor_agent-*.whl >/dev/null 2>&1 || [ "$(cat "$wheel_dir/.fv-stamp" 2>/dev/null)" != "$agent_hash" ]; then
  echo "setup: building the agent's wheel"
  build=$(mktemp -d)
  cp -r agent/pyproject.toml agent/README.md agent/systemd agent/fleetvisor_agent "$build/"
  find "$build" -name __pycache__ -prune -exec rm -rf {} +
  SOURCE_DATE_EPOCH=315532800 .venv/bin/pip wheel -q --no-deps -w "$build/dist" "$build" >/dev/null
  mkdir -p "$wheel_dir"
  rm -f "$wheel_dir"/fleetvisor_agent-*.whl
  mv "$build"/dist/fleetvisor_agent-*.whl "$wheel_dir/"
  rm -rf "$build"
  echo "$agent_hash" > "$wheel_dir/.fv-stamp"
fi
