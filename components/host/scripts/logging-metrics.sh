#!/usr/bin/env bash
# Health of the log pipeline for node exporter's textfile collector.
# Installed by components/host (step "exporters") as
# /usr/local/lib/aurigraph/logging-metrics and run every minute by
# aurigraph-logging-metrics.timer; it measures what runs on its host:
#   aurigraph_elasticsearch_cluster_health_status{color}  1 for the cluster's colour
#                                    (green, yellow, red), 0 for the others; all 0
#                                    when Elasticsearch does not answer
#   aurigraph_logstash_events_in_total  events Logstash's inputs received since it
#                                    started (left out when Logstash does not answer)
# Why a script and not an exporter container: the questions go through
# `docker exec` into the containers themselves, as their health checks do,
# so Elasticsearch's password never leaves its container (no copy on the
# host, no second holder of the secret), there is no further image to pin
# and pull, and the host's node exporter, already scraped and labelled with
# the host, carries the figures.
# Settings (environment, from the units; empty container names: nothing of
# that service on this host):
#   ES_CONTAINER ES_URL ES_CA ES_PASSWORD_FILE  Elasticsearch's container, its URL
#                                    and CA file inside it, and the variable there
#                                    holding the elastic user's password
#   LOGSTASH_CONTAINER LOGSTASH_API  Logstash's container and its API inside it
#   TEXTFILE_DIR                     node exporter's directory
#   DOCKER                           docker command (docker)
set -euo pipefail
export LC_ALL=C
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
DOCKER=${DOCKER:-docker}
ES_CONTAINER=${ES_CONTAINER:-}
LOGSTASH_CONTAINER=${LOGSTASH_CONTAINER:-}
OUT=$TEXTFILE_DIR/aurigraph-logging.prom

mkdir -p "$TEXTFILE_DIR"
# Written beside the target under a name node exporter ignores, then
# renamed over it: a scrape never sees half a file.
TMP=$(mktemp "$TEXTFILE_DIR/.aurigraph-logging.XXXXXX")
trap 'rm -f "$TMP"' EXIT

# here NAME: the container runs on this host.
here() { [ -n "$1" ] && "$DOCKER" inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; }

if here "$ES_CONTAINER"; then
  : "${ES_URL:?}" "${ES_CA:?}" "${ES_PASSWORD_FILE:?}"
  # The password reaches curl as a config on stdin, inside the container.
  # shellcheck disable=SC2016 # expanded by the container's shell
  health=$("$DOCKER" exec "$ES_CONTAINER" sh -c \
    'printf "user = \"elastic:%s\"\n" "$(sed "s/[\\\\\"]/\\\\&/g" "$1")" | curl -fsS -m 10 -K - --cacert "$2" "$3/_cluster/health"' \
    sh "$ES_PASSWORD_FILE" "$ES_CA" "$ES_URL" 2>/dev/null) || health=""
  status=$(printf '%s' "$health" | grep -o '"status":"[a-z]*"' | head -n 1 | cut -d'"' -f4 || true)
  if [ -z "$status" ]; then
    echo "logging-metrics: Elasticsearch ($ES_CONTAINER) did not report its health" >&2
  fi
  {
    echo "# HELP aurigraph_elasticsearch_cluster_health_status 1 for the cluster's health colour, 0 for the others (all 0: no answer)."
    echo "# TYPE aurigraph_elasticsearch_cluster_health_status gauge"
    for color in green yellow red; do
      printf 'aurigraph_elasticsearch_cluster_health_status{color="%s"} %d\n' "$color" "$([ "$status" = "$color" ] && echo 1 || echo 0)"
    done
  } >>"$TMP"
fi

if here "$LOGSTASH_CONTAINER"; then
  : "${LOGSTASH_API:?}"
  stats=$("$DOCKER" exec "$LOGSTASH_CONTAINER" curl -fsS -m 10 "$LOGSTASH_API/_node/stats/events" 2>/dev/null) || stats=""
  in=$(printf '%s' "$stats" | grep -o '"in":[0-9]*' | head -n 1 | cut -d: -f2 || true)
  if [ -n "$in" ]; then
    {
      echo "# HELP aurigraph_logstash_events_in_total Events Logstash's inputs received since it started."
      echo "# TYPE aurigraph_logstash_events_in_total counter"
      echo "aurigraph_logstash_events_in_total $in"
    } >>"$TMP"
  else
    echo "logging-metrics: Logstash ($LOGSTASH_CONTAINER) did not report its events" >&2
  fi
fi

# node exporter runs as its own user: the file must be world-readable.
chmod 0644 "$TMP"
mv -f "$TMP" "$OUT"
