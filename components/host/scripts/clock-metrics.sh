#!/usr/bin/env bash
# Clock metrics for node exporter's textfile collector, from chrony.
# Installed by components/host (step "time-sync") as
# /usr/local/lib/aurigraph/clock-metrics and run every 30 s by
# aurigraph-clock-metrics.timer; the ClockOffsetHigh and ClockNotSynchronised
# alerts read them. node exporter's node_timex_offset_seconds cannot serve:
# chrony slews through the clock frequency and leaves the kernel's offset at 0.
#   aurigraph_clock_synchronised      1 when chronyd is synchronised to a source
#   aurigraph_clock_offset_seconds    host clock minus NTP time (positive: ahead),
#                                     chrony's "System time"; absent when unsynchronised
# Settings (environment; tests point them at a directory and a fake chronyc):
#   TEXTFILE_DIR  node exporter's directory  (/var/lib/prometheus/node-exporter)
#   CHRONYC       chronyc command            (chronyc)
set -euo pipefail
export LC_ALL=C
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
CHRONYC=${CHRONYC:-chronyc}
OUT=$TEXTFILE_DIR/aurigraph-clock.prom

mkdir -p "$TEXTFILE_DIR"
# Written beside the target under a name node exporter ignores, then renamed.
TMP=$(mktemp "$TEXTFILE_DIR/.aurigraph-clock.XXXXXX")
trap 'rm -f "$TMP"' EXIT

synchronised=0
offset=
# chronyc -c tracking: field 5 is "System time" in seconds, positive when the
# clock is slow of NTP time; field 14 the leap status.
if tracking=$(timeout 10 "$CHRONYC" -c tracking 2>/dev/null); then
  IFS=, read -r -a f <<<"$tracking"
  if [ "${#f[@]}" -ge 14 ] && [ "${f[13]}" != "Not synchronised" ] && [ "${f[0]}" != 00000000 ]; then
    synchronised=1
    offset=$(awk -v s="${f[4]}" 'BEGIN { printf "%.9f", -s }')
  fi
fi
{
  echo "# HELP aurigraph_clock_synchronised Whether chronyd is synchronised to a time source (1) or not (0)."
  echo "# TYPE aurigraph_clock_synchronised gauge"
  echo "aurigraph_clock_synchronised $synchronised"
  if [ -n "$offset" ]; then
    echo "# HELP aurigraph_clock_offset_seconds The host clock minus NTP time as chronyd estimates it (positive: ahead)."
    echo "# TYPE aurigraph_clock_offset_seconds gauge"
    echo "aurigraph_clock_offset_seconds $offset"
  fi
} >"$TMP"
chmod 0644 "$TMP"
mv -f "$TMP" "$OUT"
