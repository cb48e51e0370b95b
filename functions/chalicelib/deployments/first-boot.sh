#!/bin/sh
# Fleetvisor first-boot runner (written by cloud-init, run once by runcmd as root).
# For each line of /etc/fleetvisor/installers.list ("<step> <id> <timeout_seconds> <retries>") it runs
# /usr/local/lib/fleetvisor/installers/<step>.sh with /etc/fleetvisor/installers/<step>.env in its
# environment, under `timeout`. Exit codes: 0 ok, 1 invalid input (no retry), 2 installation error
# (retried with backoff: 10 s, 20 s, 40 s ...), 3 configuration error, 124 timed out; any other code
# counts as 2. Then it writes to the serial console, for the agent:
#   FLEETVISOR-FIRST-BOOT installer=<id> line=<base64>   (the last <= 20 lines of its output)
#   FLEETVISOR-FIRST-BOOT installer=<id> exit=<code>
# and after the last installer
#   FLEETVISOR-FIRST-BOOT done
# FLEETVISOR_ROOT, FLEETVISOR_CONSOLE and FLEETVISOR_RETRY_DELAY exist for the tests that run this script.
set -u
root="${FLEETVISOR_ROOT:-}"
console="${FLEETVISOR_CONSOLE:-/dev/ttyS0}"
say() {
  echo "FLEETVISOR-FIRST-BOOT $*"
  echo "FLEETVISOR-FIRST-BOOT $*" >> "$console" 2>/dev/null || true
}
lib="$root/usr/local/lib/fleetvisor"
etc="$root/etc/fleetvisor"
mkdir -p "$root/var/log/fleetvisor"
if [ -f "$etc/installers.list" ]; then
  while read -r step id limit retries; do
    [ -n "$step" ] || continue
    log="$root/var/log/fleetvisor/$step.log"
    attempt=0
    delay="${FLEETVISOR_RETRY_DELAY:-10}"
    while :; do
      attempt=$((attempt + 1))
      (set -a; . "$etc/installers/$step.env"; set +a
       exec timeout --kill-after=30 "$limit" "$lib/installers/$step.sh") >> "$log" 2>&1 < /dev/null
      code=$?
      case "$code" in
        0|1|3|124) ;;
        137) code=124 ;;
        *) code=2 ;;
      esac
      if [ "$code" -ne 2 ] || [ "$attempt" -gt "$retries" ]; then break; fi
      echo "exit 2: retrying in $delay s" >> "$log"
      sleep "$delay"
      delay=$((delay * 2))
    done
    tail -n 20 "$log" | while IFS= read -r line; do
      say "installer=$id line=$(printf '%s' "$line" | base64 -w 0)"
    done
    say "installer=$id exit=$code"
  done < "$etc/installers.list"
fi
say done
