#!/usr/bin/env bash
# Compares every file the program installed on this host with the checksum
# its install step recorded, and writes the result for node exporter's
# textfile collector. The records are sha256sum(1) lines ("<sha256>  <path>"),
# one manifest per install step in MANIFEST_DIR, written by host preparation
# (ensure_file) and by components/configfile's install steps; an operator
# can check by hand with `sha256sum -c /var/lib/aurigraph/manifest.d/*.sha256`.
# A file counts as drifted when it is missing or its content differs; the
# next `pulumi up` rewrites it and its record, and the count goes back to 0.
#
# Environment: MANIFEST_DIR, TEXTFILE_DIR, MAX_LABELLED (how many drifted
# files get a series of their own: a host edited wholesale must not flood
# Prometheus with one series per file).
set -euo pipefail
export LC_ALL=C
MANIFEST_DIR=${MANIFEST_DIR:-/var/lib/aurigraph/manifest.d}
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
MAX_LABELLED=${MAX_LABELLED:-20}
OUT=$TEXTFILE_DIR/aurigraph_drift.prom

# label VALUE: a Prometheus label value (backslash, quote and newline escaped).
label() {
  local v=${1//\\/\\\\}
  v=${v//\"/\\\"}
  printf '%s' "${v//$'\n'/\\n}"
}

total=0
drifted=0
series=()
shopt -s nullglob
for manifest in "$MANIFEST_DIR"/*.sha256; do
  name=$(basename "$manifest" .sha256)
  while read -r want path; do
    if [ -z "$want" ] || [ -z "$path" ]; then continue; fi
    total=$((total + 1))
    state=
    if [ ! -f "$path" ]; then
      state=missing
    elif [ "$(sha256sum <"$path" | cut -d' ' -f1)" != "$want" ]; then
      state=changed
    fi
    if [ -n "$state" ]; then
      drifted=$((drifted + 1))
      echo "drift-check: $path ($name): $state" >&2
      if [ "${#series[@]}" -lt "$MAX_LABELLED" ]; then
        series+=("aurigraph_managed_file_drifted{manifest=\"$(label "$name")\",path=\"$(label "$path")\",state=\"$state\"} 1")
      fi
    fi
  done <"$manifest"
done

mkdir -p "$TEXTFILE_DIR"
tmp=$(mktemp "$OUT.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP aurigraph_managed_files Files the program installed on this host and recorded with a checksum."
  echo "# TYPE aurigraph_managed_files gauge"
  echo "aurigraph_managed_files $total"
  echo "# HELP aurigraph_managed_files_drifted Recorded files that are missing or whose content differs from the record."
  echo "# TYPE aurigraph_managed_files_drifted gauge"
  echo "aurigraph_managed_files_drifted $drifted"
  echo "# HELP aurigraph_managed_file_drifted One series per drifted file (the first $MAX_LABELLED): its path, the manifest recording it, missing or changed."
  echo "# TYPE aurigraph_managed_file_drifted gauge"
  for s in "${series[@]}"; do echo "$s"; done
  echo "# HELP aurigraph_drift_check_timestamp_seconds When the drift check last ran."
  echo "# TYPE aurigraph_drift_check_timestamp_seconds gauge"
  echo "aurigraph_drift_check_timestamp_seconds $(date +%s)"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$OUT"
trap - EXIT
echo "drift-check: $drifted of $total recorded files drifted"
