#!/usr/bin/env bash
# Per-container memory and restart metrics for node exporter's textfile collector.
# Installed by components/host (step "exporters") as
# /usr/local/lib/aurigraph/container-metrics and run every 15 s by
# aurigraph-container-metrics.timer: Debian has no cAdvisor package, and the
# ContainerMemoryNearLimit alert needs these two series on every host.
#   container_memory_working_set_bytes{name}  cgroup v2 memory.current minus
#                                             inactive_file, floored at 0 (as cAdvisor)
#   container_spec_memory_limit_bytes{name}   memory.max; 0 when unlimited
#   aurigraph_container_restarts_total{name}  Docker's RestartCount (restarts by the
#                                             restart policy; 0 again when the container
#                                             is recreated), for ContainerRestartLoop; also
#                                             for a container between two restarts, which
#                                             has no cgroup at that moment
# Settings (environment; tests point them at a fake tree and a fake docker):
#   CGROUP_ROOT   cgroup v2 mount            (/sys/fs/cgroup)
#   TEXTFILE_DIR  node exporter's directory  (/var/lib/prometheus/node-exporter)
#   DOCKER        docker command             (docker)
set -euo pipefail
export LC_ALL=C
CGROUP_ROOT=${CGROUP_ROOT:-/sys/fs/cgroup}
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
DOCKER=${DOCKER:-docker}
OUT=$TEXTFILE_DIR/aurigraph-containers.prom

fail() {
  echo "container-metrics: $*" >&2
  exit 1
}

# Stale values are worse than none: without fresh figures the file goes.
stale() {
  rm -f "$OUT"
  fail "$@"
}

[ -f "$CGROUP_ROOT/cgroup.controllers" ] || stale "$CGROUP_ROOT is not a cgroup v2 hierarchy"
mkdir -p "$TEXTFILE_DIR"
# Written beside the target (same file system) under a name node exporter
# ignores (not *.prom), then renamed over it: a scrape never sees half a file.
TMP=$(mktemp "$TEXTFILE_DIR/.aurigraph-containers.XXXXXX")
trap 'rm -f "$TMP"' EXIT

# cgroup_dir ID: systemd cgroup driver first, then cgroupfs.
cgroup_dir() {
  local d
  for d in "$CGROUP_ROOT/system.slice/docker-$1.scope" "$CGROUP_ROOT/docker/$1"; do
    if [ -f "$d/memory.current" ]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  return 1
}

number() { [[ $1 =~ ^[0-9]+$ ]]; }

ids=$("$DOCKER" ps --quiet --no-trunc) || stale "docker ps failed"
rows=""
restarts=""
if [ -n "$ids" ]; then
  # A container that stops between ps and inspect is simply left out.
  # shellcheck disable=SC2086 # one word per id
  inspected=$("$DOCKER" inspect --format '{{.Id}} {{.Name}} {{.RestartCount}}' $ids 2>/dev/null || true)
  while read -r id name count; do
    name=${name#/}
    # Docker's id and name alphabets: nothing to escape, no path tricks.
    [[ $id =~ ^[0-9a-f]{64}$ && $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || continue
    if number "${count:-}"; then restarts+="$name $count"$'\n'; fi
    if ! dir=$(cgroup_dir "$id"); then
      echo "container-metrics: no cgroup for container $name ($id)" >&2
      continue
    fi
    current=$(cat "$dir/memory.current" 2>/dev/null) || continue
    max=$(cat "$dir/memory.max" 2>/dev/null) || continue
    inactive=$(awk '$1 == "inactive_file" { print $2 }' "$dir/memory.stat" 2>/dev/null || true)
    if [ "$max" = max ]; then max=0; fi
    inactive=${inactive:-0}
    if ! number "$current" || ! number "$max" || ! number "$inactive"; then continue; fi
    working=$((current - inactive))
    if [ "$working" -lt 0 ]; then working=0; fi
    rows+="$name $working $max"$'\n'
  done <<<"$inspected"
fi

printf '%s' "$rows" | sort | awk '
  { name[NR] = $1; working[NR] = $2; limit[NR] = $3 }
  END {
    print "# HELP container_memory_working_set_bytes Current working set of the container in bytes (memory.current - inactive_file)."
    print "# TYPE container_memory_working_set_bytes gauge"
    for (i = 1; i <= NR; i++) printf "container_memory_working_set_bytes{name=\"%s\"} %s\n", name[i], working[i]
    print "# HELP container_spec_memory_limit_bytes Memory limit of the container in bytes (memory.max; 0 without a limit)."
    print "# TYPE container_spec_memory_limit_bytes gauge"
    for (i = 1; i <= NR; i++) printf "container_spec_memory_limit_bytes{name=\"%s\"} %s\n", name[i], limit[i]
  }' >"$TMP"
printf '%s' "$restarts" | sort | awk '
  { name[NR] = $1; count[NR] = $2 }
  END {
    print "# HELP aurigraph_container_restarts_total Times Docker restarted the container by its restart policy (RestartCount)."
    print "# TYPE aurigraph_container_restarts_total counter"
    for (i = 1; i <= NR; i++) printf "aurigraph_container_restarts_total{name=\"%s\"} %s\n", name[i], count[i]
  }' >>"$TMP"
# node exporter runs as its own user: the file must be world-readable.
chmod 0644 "$TMP"
mv -f "$TMP" "$OUT"
