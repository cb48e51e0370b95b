#!/usr/bin/env bash
# Fleetvisor agent installer for Debian 12+ and Ubuntu 24.04+, served by the
# control plane at GET /agent/install.sh with its address and the sha256 of the
# agent's wheel filled in below.
#
#   curl -fsSL https://FLEET/agent/install.sh | sudo bash -s -- --token TOKEN
#
# Installs libvirt/QEMU, python3-venv and python3-libvirt when missing (apt),
# the agent in a virtualenv at /opt/fleetvisor-agent (the wheel is checked
# against the pinned sha256 before anything is installed), its settings in
# /etc/fleetvisor/agent.env (0600), its system user `fleetvisor-agent` (a
# member of group libvirt, which is what lets it manage VMs) and its systemd
# unit; enrols the host, then enables and starts the service, and ends only
# once the running service says it reaches libvirt (or fails with why and
# what to do). Running it again upgrades in place and keeps the host's
# identity. --uninstall takes the host out of the fleet and removes all of it
# but the libvirt/QEMU packages.
#
# Mirrors (datacentres without PyPI): --pip-index-url and --pip-find-links go to
# pip; downloads (the wheel, pip, apt) go through --proxy, else HTTPS_PROXY from
# agent.env, else apt's configured proxy (Acquire::https::Proxy, then ::http::).
# Flags are written to agent.env (PIP_INDEX_URL, PIP_FIND_LINKS, HTTPS_PROXY and
# HTTP_PROXY) so that upgrades use them again: variables exported before `sudo`
# do not reach this script. The proxy in agent.env is the service's too.
#
# Everything runs from main, at the very end: a download cut short runs nothing.
set -euo pipefail

readonly CONTROL_PLANE_URL='@@CONTROL_PLANE_URL@@'
readonly AGENT_VERSION='@@AGENT_VERSION@@'
readonly WHEEL_NAME='@@WHEEL_NAME@@'
readonly WHEEL_SHA256='@@WHEEL_SHA256@@'

readonly PREFIX=/opt/fleetvisor-agent
readonly AGENT="$PREFIX/bin/fleetvisor-agent"
readonly CONFIG_DIR=/etc/fleetvisor
readonly CONFIG_FILE="$CONFIG_DIR/agent.env"
readonly UNIT=fleetvisor-agent.service
readonly UNIT_FILE="/etc/systemd/system/$UNIT"
readonly STATE_DIR=/var/lib/fleetvisor-agent
# Where agents installed with the earlier DynamicUser= unit kept their state.
readonly PRIVATE_STATE_DIR=/var/lib/private/fleetvisor-agent
readonly SERVICE_USER=fleetvisor-agent
readonly HYPERVISOR_WAIT=90  # seconds for the started service's first look at libvirt
readonly LIBVIRT_URI=qemu:///system

TOKEN=""
NAME=""
ENVIRONMENT=""
START=1
UNINSTALL=0
FORCE=0
WORK_DIR=""
PIP_INDEX=""
PIP_LINKS=""
PROXY=""
DOWNLOAD_PROXY=""
SERVICE_PROXY=()

usage() {
  cat <<EOF
Usage: curl -fsSL $CONTROL_PLANE_URL/agent/install.sh | sudo bash -s -- [options]

Install (or upgrade) the Fleetvisor agent $AGENT_VERSION on this host and enrol it with
$CONTROL_PLANE_URL.

  --token TOKEN        enrolment token (needed unless this host is already installed)
  --name NAME          the host's name in the fleet (default: the hostname, or HOSTNAME-ENVIRONMENT)
  --environment ENV    environment label, e.g. prod (lowercase letters, digits, '-')
  --pip-index-url URL  install the agent's Python dependencies from this index instead of PyPI
  --pip-find-links URL look for them here too (a directory of wheels served over HTTP)
  --proxy URL          HTTP(S) proxy for the downloads and for the service (default: apt's proxy,
                       for the downloads only)
  --no-start           install and enrol, but neither enable nor start the service
                       (for machines where systemd is not running)
  --uninstall          deregister the host and remove the agent, its unit, settings and state
  --force              with --uninstall: remove everything even if deregistration fails
  -h, --help           this text
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'fleetvisor-install: error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'fleetvisor-install: %s (--help lists the options)\n' "$*" >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --token) [ $# -ge 2 ] || usage_error "--token needs a value"; TOKEN=$2; shift 2 ;;
      --token=*) TOKEN=${1#*=}; shift ;;
      --name) [ $# -ge 2 ] || usage_error "--name needs a value"; NAME=$2; shift 2 ;;
      --name=*) NAME=${1#*=}; shift ;;
      --environment) [ $# -ge 2 ] || usage_error "--environment needs a value"; ENVIRONMENT=$2; shift 2 ;;
      --environment=*) ENVIRONMENT=${1#*=}; shift ;;
      --pip-index-url) [ $# -ge 2 ] || usage_error "--pip-index-url needs a value"; PIP_INDEX=$2; shift 2 ;;
      --pip-index-url=*) PIP_INDEX=${1#*=}; shift ;;
      --pip-find-links) [ $# -ge 2 ] || usage_error "--pip-find-links needs a value"; PIP_LINKS=$2; shift 2 ;;
      --pip-find-links=*) PIP_LINKS=${1#*=}; shift ;;
      --proxy) [ $# -ge 2 ] || usage_error "--proxy needs a value"; PROXY=$2; shift 2 ;;
      --proxy=*) PROXY=${1#*=}; shift ;;
      --no-start) START=0; shift ;;
      --uninstall) UNINSTALL=1; shift ;;
      --force) FORCE=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage_error "unknown option: $1" ;;
    esac
  done
  validate_args
}

validate_args() {
  # The same rules as the agent and the control plane, so a typo fails here and not half-way.
  if [ -n "$TOKEN" ] && ! [[ "$TOKEN" =~ ^[A-Za-z0-9._~+/=-]{8,512}$ ]]; then
    usage_error "--token does not look like an enrolment token"
  fi
  if [ -n "$NAME" ] && ! [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]]; then
    usage_error "--name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
  fi
  if [ -n "$ENVIRONMENT" ] && ! [[ "$ENVIRONMENT" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]]; then
    usage_error "--environment must be 1-32 lowercase letters, digits or '-'"
  fi
  local option value
  for option in pip-index-url:"$PIP_INDEX" pip-find-links:"$PIP_LINKS" proxy:"$PROXY"; do
    value=${option#*:}
    if [ -n "$value" ] && ! [[ "$value" =~ ^https?://[A-Za-z0-9._~:/?#@!\$\&\(\)*+,\;=%-]+$ ]]; then
      usage_error "--${option%%:*} must be an http:// or https:// URL"
    fi
  done
  if [ "$UNINSTALL" -eq 1 ] && { [ -n "$TOKEN" ] || [ -n "$NAME" ] || [ -n "$ENVIRONMENT" ]; }; then
    usage_error "--uninstall takes no --token, --name or --environment"
  fi
  if [ "$FORCE" -eq 1 ] && [ "$UNINSTALL" -eq 0 ]; then
    usage_error "--force goes with --uninstall only"
  fi
}

systemd_running() { [ -d /run/systemd/system ]; }

cleanup() { if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi; }

preflight() {
  [ "$(id -u)" -eq 0 ] || die "run me as root (curl ... | sudo bash -s -- ...)"
  if [ "$UNINSTALL" -eq 1 ]; then return 0; fi
  if [ -z "$TOKEN" ] && [ ! -f "$STATE_DIR/state.json" ]; then
    usage_error "--token is needed to enrol this host (make one in Fleetvisor: Enrolment tokens)"
  fi
  if [ "$START" -eq 1 ] && ! systemd_running; then
    die "systemd is not running here, so the service cannot start: run again with --no-start"
  fi
  command -v apt-get >/dev/null || die "this installer needs apt (Debian 12+ or Ubuntu 24.04+)"
  check_os
}

check_os() {
  local id="" version=""
  if [ -r /etc/os-release ]; then
    id=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')
    version=$(sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"')
  fi
  case "$id" in
    debian) dpkg --compare-versions "${version:-0}" ge 12 && return 0 ;;
    ubuntu) dpkg --compare-versions "${version:-0}" ge 24.04 && return 0 ;;
  esac
  die "unsupported system '${id:-unknown} ${version}': Debian 12+ or Ubuntu 24.04+ is needed"
}

apt_proxy() {  # apt's configured proxy, https first: what this host's downloads are known to need
  local key value
  for key in Acquire::https::Proxy Acquire::http::Proxy; do
    value=$(apt-config dump "$key" 2>/dev/null | sed -n "s/^$key \"\(.*\)\";\$/\1/p" | head -n 1)
    if [[ "$value" =~ ^https?:// ]]; then printf '%s' "$value"; return 0; fi
  done
}

download_settings() {
  # Flags win, then what agent.env kept from an earlier run, then (for the proxy) apt's own.
  PIP_INDEX=${PIP_INDEX:-$(read_setting PIP_INDEX_URL)}
  PIP_LINKS=${PIP_LINKS:-$(read_setting PIP_FIND_LINKS)}
  DOWNLOAD_PROXY=${PROXY:-$(read_setting HTTPS_PROXY)}
  local from="agent.env"
  if [ -n "$PROXY" ]; then from="--proxy"; fi
  if [ -z "$DOWNLOAD_PROXY" ]; then DOWNLOAD_PROXY=$(apt_proxy); from="apt's configuration"; fi
  if [ -n "$DOWNLOAD_PROXY" ]; then note "downloads go through $DOWNLOAD_PROXY (from $from)"; fi
  if [ -n "$PIP_INDEX" ]; then note "Python packages from the index $PIP_INDEX"; fi
  if [ -n "$PIP_LINKS" ]; then note "Python packages also from $PIP_LINKS"; fi
  return 0
}

fetch_wheel() {
  say "Downloading the agent $AGENT_VERSION from $CONTROL_PLANE_URL"
  download_settings
  WORK_DIR=$(mktemp -d)
  local wheel="$WORK_DIR/$WHEEL_NAME" actual proxy=()
  if [ -n "$DOWNLOAD_PROXY" ]; then proxy=(--proxy "$DOWNLOAD_PROXY"); fi
  curl -fsSL --retry 3 "${proxy[@]}" -H 'Accept: application/octet-stream' -o "$wheel" \
    "$CONTROL_PLANE_URL/agent/$WHEEL_NAME" \
    || die "could not download $CONTROL_PLANE_URL/agent/$WHEEL_NAME"
  actual=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$actual" != "$WHEEL_SHA256" ]; then
    rm -f -- "$wheel"
    printf '\nfleetvisor-install: SHA256 MISMATCH for %s\n  expected %s\n  received %s\n' \
      "$WHEEL_NAME" "$WHEEL_SHA256" "$actual" >&2
    die "the downloaded agent is not the one this script pins; nothing was installed"
  fi
  note "sha256 $actual verified"
}

install_packages() {
  local arch qemu missing=() p
  arch=$(dpkg --print-architecture)
  case "$arch" in
    amd64) qemu="qemu-system-x86" ;;
    arm64) qemu="qemu-system-arm" ;;
    *) die "unsupported architecture $arch: amd64 or arm64 is needed" ;;
  esac
  for p in libvirt-daemon-system libvirt-clients "$qemu" qemu-utils python3-venv python3-libvirt \
           curl ca-certificates; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "System packages: all there"
    return 0
  fi
  say "Installing system packages: ${missing[*]}"
  local apt=(apt-get)
  # A proxy named here (--proxy, or agent.env's) is for apt too; otherwise apt keeps its own settings.
  if [ -n "$DOWNLOAD_PROXY" ] && [ "$DOWNLOAD_PROXY" != "$(apt_proxy)" ]; then
    apt+=(-o "Acquire::http::Proxy=$DOWNLOAD_PROXY" -o "Acquire::https::Proxy=$DOWNLOAD_PROXY")
  fi
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "${missing[@]}" >/dev/null
}

install_agent() {
  # The distribution's Python: its dist-packages hold python3-libvirt (a python3 first on PATH may not).
  local python=/usr/bin/python3 fresh=0
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed"
  # --system-site-packages: libvirt-python comes from the distribution's python3-libvirt,
  # so nothing has to be compiled on the host.
  if ! grep -qs '^include-system-site-packages = true' "$PREFIX/pyvenv.cfg" || ! "$PREFIX/bin/python" -c '' 2>/dev/null; then
    say "Creating the virtualenv $PREFIX"
    rm -rf -- "$PREFIX"
    "$python" -m venv --system-site-packages "$PREFIX"
    fresh=1
  fi
  say "Installing fleetvisor-agent $AGENT_VERSION into $PREFIX"
  local pip=("$PREFIX/bin/pip" install -q --disable-pip-version-check --no-input)
  local mirror
  if [ -n "$PIP_INDEX" ]; then pip+=(--index-url "$PIP_INDEX"); fi
  if [ -n "$PIP_LINKS" ]; then pip+=(--find-links "$PIP_LINKS"); fi
  for mirror in "$PIP_INDEX" "$PIP_LINKS"; do
    # pip ignores a plain-HTTP mirror unless told to trust it; naming one here is that choice.
    if [[ "$mirror" == http://* ]]; then mirror=${mirror#http://}; pip+=(--trusted-host "${mirror%%/*}"); fi
  done
  if [ -n "$DOWNLOAD_PROXY" ]; then pip+=(--proxy "$DOWNLOAD_PROXY"); fi
  "${pip[@]}" "$WORK_DIR/$WHEEL_NAME"
  # Same version, other bytes (a rebuilt wheel): put exactly the verified one in place. A new virtualenv has
  # just got it (and each pip run costs seconds on a small host).
  if [ "$fresh" -eq 0 ]; then "${pip[@]}" --force-reinstall --no-deps "$WORK_DIR/$WHEEL_NAME"; fi
  "$AGENT" --version >/dev/null || die "the installed agent does not run"
}

read_service_proxy() {
  # The proxy the service uses (agent.env), for the agent run from here: it reads only FLEETVISOR_* itself.
  SERVICE_PROXY=()
  local variable
  for variable in HTTPS_PROXY HTTP_PROXY; do
    if [ -n "$(read_setting "$variable")" ]; then SERVICE_PROXY+=("$variable=$(read_setting "$variable")"); fi
  done
}

read_setting() {  # $1 = key: its value in agent.env, if set (the file is data, never sourced)
  [ -f "$CONFIG_FILE" ] || return 0
  sed -n "s/^$1=//p" "$CONFIG_FILE" | tail -n 1
}

write_config() {
  say "Writing $CONFIG_FILE"
  NAME=${NAME:-$(read_setting FLEETVISOR_AGENT_NAME)}
  ENVIRONMENT=${ENVIRONMENT:-$(read_setting FLEETVISOR_ENVIRONMENT)}
  install -d -m 0755 "$CONFIG_DIR"
  local new managed='^(FLEETVISOR_URL|FLEETVISOR_AGENT_NAME|FLEETVISOR_ENVIRONMENT|PIP_INDEX_URL|PIP_FIND_LINKS)='
  if [ -n "$PROXY" ]; then managed="${managed%)=}|HTTPS_PROXY|HTTP_PROXY)="; fi
  new=$(mktemp "$CONFIG_DIR/.agent.env.XXXXXX")
  chmod 0600 "$new"
  {
    if [ -f "$CONFIG_FILE" ]; then
      grep -Ev "$managed" "$CONFIG_FILE" || true
    else
      printf '# Fleetvisor agent settings (see %s/share/doc/fleetvisor-agent/README.md).\n' "$PREFIX"
      printf 'FLEETVISOR_LIBVIRT_URI=%s\n' "$LIBVIRT_URI"
    fi
    printf 'FLEETVISOR_URL=%s\n' "$CONTROL_PLANE_URL"
    if [ -n "$NAME" ]; then printf 'FLEETVISOR_AGENT_NAME=%s\n' "$NAME"; fi
    if [ -n "$ENVIRONMENT" ]; then printf 'FLEETVISOR_ENVIRONMENT=%s\n' "$ENVIRONMENT"; fi
    if [ -n "$PIP_INDEX" ]; then printf 'PIP_INDEX_URL=%s\n' "$PIP_INDEX"; fi
    if [ -n "$PIP_LINKS" ]; then printf 'PIP_FIND_LINKS=%s\n' "$PIP_LINKS"; fi
    if [ -n "$PROXY" ]; then printf 'HTTPS_PROXY=%s\nHTTP_PROXY=%s\n' "$PROXY" "$PROXY"; fi
  } > "$new"
  mv -f -- "$new" "$CONFIG_FILE"
}

ensure_service_user() {
  # A system user in the user database, so that polkit (which asks "is the user in group libvirt?")
  # and a 0770 root:libvirt socket both let the unprivileged service in (issue 19).
  getent group libvirt >/dev/null || die "group libvirt is missing: is libvirt-daemon-system installed?"
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    say "Creating the system user $SERVICE_USER (group libvirt, no home, no login)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "Fleetvisor agent" "$SERVICE_USER"
  fi
  usermod --append --groups libvirt "$SERVICE_USER"
}

prepare_state_dir() {
  # An agent installed with the DynamicUser= unit kept its state in /var/lib/private behind a symlink:
  # move it to where the system user's unit keeps it, the identity with it.
  if [ -L "$STATE_DIR" ] && [ -d "$PRIVATE_STATE_DIR" ]; then
    stop_service "Stopping the running agent to move its state to $STATE_DIR"
    rm -f -- "$STATE_DIR"
    mv -- "$PRIVATE_STATE_DIR" "$STATE_DIR"
  fi
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
}

stop_service() {  # $1 = what to say when it is running
  if systemd_running && systemctl is-active --quiet "$UNIT"; then
    say "$1"
    systemctl stop "$UNIT"
  fi
}

install_unit() {
  say "Installing the systemd unit $UNIT_FILE"
  install -m 0644 "$PREFIX/share/fleetvisor-agent/$UNIT" "$UNIT_FILE"
  if systemd_running; then systemctl daemon-reload; fi
}

enroll() {
  if [ -z "$TOKEN" ]; then
    say "Keeping this host's enrolment (no --token given)"
    return 0
  fi
  # A running agent holds the state directory's lock.
  stop_service "Stopping the running agent to enrol"
  say "Enrolling with $CONTROL_PLANE_URL"
  # The agent reads agent.env itself (as systemd does: quotes and all), so enrolment sees exactly the
  # service's settings, and none this shell may have exported. The token goes in the environment, not on
  # a command line other users can read.
  local inherited=() variable
  for variable in $(compgen -e); do
    if [[ $variable == FLEETVISOR_* ]]; then inherited+=(-u "$variable"); fi
  done
  read_service_proxy
  env "${inherited[@]}" "${SERVICE_PROXY[@]}" FLEETVISOR_ENROLLMENT_TOKEN="$TOKEN" FLEETVISOR_AGENT_STATE_DIR="$STATE_DIR" \
      "$AGENT" enroll --config "$CONFIG_FILE" || die "enrolment failed (see above)"
  # enroll ran as root: what it wrote goes to the service's user.
  chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"
}

start_service() {
  if [ "$START" -eq 0 ]; then
    say "Not starting the service (--no-start); later: systemctl enable --now $UNIT"
    if systemd_running && systemctl is-active --quiet "$UNIT"; then note "it runs the old version until restarted"; fi
    return 0
  fi
  say "Enabling and starting $UNIT"
  systemctl enable --quiet "$UNIT"
  systemctl restart "$UNIT"
  sleep 3
  if ! systemctl is-active --quiet "$UNIT"; then
    journalctl -u "$UNIT" -n 20 --no-pager >&2 || true
    die "$UNIT did not stay up (its last log lines are above)"
  fi
  check_service_reaches_libvirt
}

check_service_reaches_libvirt() {
  # The proof that counts is the service's own: its user, its sandbox. A check run here as root would
  # pass where the service cannot connect (polkit lets root through).
  say "Checking that the running service reaches libvirt"
  local pid answer code=0
  pid=$(systemctl show --property MainPID --value "$UNIT")
  answer=$(FLEETVISOR_AGENT_STATE_DIR="$STATE_DIR" "$AGENT" status --config /dev/null --pid "$pid" \
             --wait "$HYPERVISOR_WAIT" 2>&1) || code=$?
  note "$answer"
  case "$code" in
    0) return 0 ;;
    1) cat >&2 <<EOF

The service runs as $SERVICE_USER but libvirt refused it (above), so it can manage no VM.
Fix: check that libvirtd (or virtqemud) runs (systemctl status libvirtd), that
'id $SERVICE_USER' lists group libvirt, and that no local polkit rule denies
org.libvirt.unix.manage to that group; then: systemctl restart $UNIT
and see: $AGENT status --state-dir $STATE_DIR --wait 60
EOF
       die "the installed agent cannot reach libvirt, so it can manage no VM" ;;
    *) journalctl -u "$UNIT" -n 20 --no-pager >&2 || true
       die "the service said nothing about libvirt within $HYPERVISOR_WAIT s (its last log lines are above)" ;;
  esac
}

install_main() {
  fetch_wheel
  install_packages
  install_agent
  write_config
  ensure_service_user
  prepare_state_dir
  install_unit
  enroll
  start_service
  say "Done: fleetvisor-agent $AGENT_VERSION on $(hostname) with $CONTROL_PLANE_URL"
  note "settings: $CONFIG_FILE   state: $STATE_DIR   logs: journalctl -u $UNIT"
  if systemd_running; then note "service: $(systemctl is-active "$UNIT" 2>/dev/null || true)"; fi
}

deregister() {
  if [ ! -x "$AGENT" ] || [ ! -f "$STATE_DIR/state.json" ]; then
    note "no agent state here: nothing to deregister"
    return 0
  fi
  say "Deregistering this host"
  read_service_proxy
  if ! env "${SERVICE_PROXY[@]}" FLEETVISOR_AGENT_STATE_DIR="$STATE_DIR" "$AGENT" deregister; then
    if [ "$FORCE" -eq 0 ]; then
      die "deregistration failed, nothing was removed: deregister the host in Fleetvisor and run this again, or add --force"
    fi
    note "deregistration failed; removing everything anyway (--force): deregister the host in Fleetvisor"
  fi
}

uninstall_main() {
  if systemd_running && [ -f "$UNIT_FILE" ]; then
    say "Stopping and disabling $UNIT"
    systemctl disable --now --quiet "$UNIT" || true
  fi
  deregister
  say "Removing the unit, $PREFIX, $CONFIG_FILE and the agent's state"
  rm -f -- "$UNIT_FILE"
  if systemd_running; then systemctl daemon-reload; fi
  # rm -r removes the state symlink itself, not what it points to (that is the private dir).
  rm -rf -- "$PREFIX" "$STATE_DIR" "$PRIVATE_STATE_DIR"
  rm -f -- "$CONFIG_FILE"
  rmdir -- "$CONFIG_DIR" 2>/dev/null || true
  if getent passwd "$SERVICE_USER" >/dev/null; then
    say "Removing the system user $SERVICE_USER"
    userdel "$SERVICE_USER"
  fi
  if getent group "$SERVICE_USER" >/dev/null; then groupdel "$SERVICE_USER"; fi
  say "Done: the Fleetvisor agent is gone from $(hostname) (libvirt and QEMU stay installed)"
}

main() {
  parse_args "$@"
  preflight
  trap cleanup EXIT
  if [ "$UNINSTALL" -eq 1 ]; then uninstall_main; else install_main; fi
}

main "$@"
