#!/usr/bin/env bash
# Expiry of the certificates the program installs, for node exporter's
# textfile collector. Installed by components/host (step "exporters") as
# /usr/local/lib/aurigraph/cert-metrics and run hourly by
# aurigraph-cert-metrics.timer, on every host:
#   aurigraph_certificate_expiry_timestamp_seconds{path}  notAfter of the file's
#                                                        (first) certificate, Unix seconds
# Every certificate the program writes lives under the data path: the edge
# certificate of the gateway (nginx/tls/edge.crt) and the internal ones the
# stack CA signs (Vault, Elasticsearch, Kibana, Logstash, Grafana, ...), each
# a *.crt or *.pem file beside its service. Private keys are never read
# (files without a certificate block are skipped). Data, backup and log
# directories are not searched: they hold no certificate and many files.
# Settings (environment):
#   CERT_ROOT     where to look                 (/srv/aurigraph, the data path)
#   TEXTFILE_DIR  node exporter's directory      (/var/lib/prometheus/node-exporter)
#   OPENSSL       openssl command                (openssl)
set -euo pipefail
export LC_ALL=C
CERT_ROOT=${CERT_ROOT:-/srv/aurigraph}
TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
OPENSSL=${OPENSSL:-openssl}
OUT=$TEXTFILE_DIR/aurigraph-certificates.prom

mkdir -p "$TEXTFILE_DIR"
# Written beside the target (same file system) under a name node exporter
# ignores (not *.prom), then renamed over it: a scrape never sees half a file.
TMP=$(mktemp "$TEXTFILE_DIR/.aurigraph-certificates.XXXXXX")
trap 'rm -f "$TMP"' EXIT

rows=""
if [ -d "$CERT_ROOT" ]; then
  while IFS= read -r -d '' f; do
    # The label's alphabet: nothing to escape in the exposition format.
    if [[ ! $f =~ ^[A-Za-z0-9/._@+-]+$ ]]; then
      echo "cert-metrics: skipping $f: unusual characters in its path" >&2
      continue
    fi
    grep -q -e '-----BEGIN CERTIFICATE-----' "$f" 2>/dev/null || continue
    if ! end=$("$OPENSSL" x509 -noout -enddate -in "$f" 2>/dev/null); then
      echo "cert-metrics: $f: not a readable certificate" >&2
      continue
    fi
    if ! ts=$(date -u -d "${end#notAfter=}" +%s 2>/dev/null); then
      echo "cert-metrics: $f: cannot read the date ${end#notAfter=}" >&2
      continue
    fi
    rows+="$f $ts"$'\n'
  done < <(find "$CERT_ROOT" -xdev \( -type d \( -name data -o -name backups -o -name logs \) -prune \) -o \
    -type f \( -name '*.crt' -o -name '*.pem' \) -print0)
fi

printf '%s' "$rows" | sort | awk '
  BEGIN {
    print "# HELP aurigraph_certificate_expiry_timestamp_seconds Expiry (notAfter) of the certificate in the file, Unix seconds."
    print "# TYPE aurigraph_certificate_expiry_timestamp_seconds gauge"
  }
  { printf "aurigraph_certificate_expiry_timestamp_seconds{path=\"%s\"} %s\n", $1, $2 }' >"$TMP"
# node exporter runs as its own user: the file must be world-readable.
chmod 0644 "$TMP"
mv -f "$TMP" "$OUT"
