#!/usr/bin/env bash
# Whether this host waits for a reboot, for node exporter's textfile
# collector. Installed by components/host (step "security-updates") as
# /usr/local/lib/aurigraph/reboot-required and run by
# aurigraph-reboot-required.timer (at boot and every 5 minutes):
#   aurigraph_reboot_required           1 while /run/reboot-required exists
#                                       (an update, a kernel or libc, takes
#                                       effect only after a reboot), else 0
#   aurigraph_reboot_required_packages  the packages /run/reboot-required.pkgs
#                                       names (0 when it names none)
# The HostRebootRequired alert reads them; `go run ./cmd/reboot` reboots the
# hosts one at a time. /run is a tmpfs: the marker is gone after a reboot and
# the run at boot writes 0.
# Settings (environment; tests point them at a directory of their own):
#   RUN_DIR       where the markers are          (/run)
#   TEXTFILE_DIR  node exporter's directory      (/var/lib/prometheus/node-exporter)
set -euo pipefail
export LC_ALL=C
RUN_DIR=${RUN_DIR:-/run}
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
OUT=$TEXTFILE_DIR/aurigraph-reboot.prom

required=0
packages=0
if [ -e "$RUN_DIR/reboot-required" ]; then
  required=1
  if [ -f "$RUN_DIR/reboot-required.pkgs" ]; then
    # One package per line, listed again by every update that needs it.
    packages=$(awk 'NF && !seen[$1]++ { n++ } END { print n + 0 }' "$RUN_DIR/reboot-required.pkgs")
  fi
fi

mkdir -p "$TEXTFILE_DIR"
# Not *.prom until complete: node exporter never reads half a file.
TMP=$(mktemp "$TEXTFILE_DIR/.aurigraph-reboot.XXXXXX")
trap 'rm -f "$TMP"' EXIT
cat >"$TMP" <<METRICS
# HELP aurigraph_reboot_required 1 when the host needs a reboot for an installed update to take effect (/run/reboot-required exists).
# TYPE aurigraph_reboot_required gauge
aurigraph_reboot_required $required
# HELP aurigraph_reboot_required_packages Packages whose update waits for a reboot (/run/reboot-required.pkgs).
# TYPE aurigraph_reboot_required_packages gauge
aurigraph_reboot_required_packages $packages
METRICS
# node exporter runs as its own user: the file must be world-readable.
chmod 0644 "$TMP"
mv -f "$TMP" "$OUT"
trap - EXIT
