//go:build integration

package tests

import "github.com/aurigraph/infra/internal/testhost"

// servicesImage is one local image with Debian's builds of the services the
// plan runs from official images: NGINX, PostgreSQL, Redis, Prometheus and
// the PostgreSQL and Redis exporters (wget and procps for the health checks).
// The plan's containers run on it with their recorded settings; only the
// command differs where Debian's binaries and paths differ (see debianCommand).
var servicesImage = testhost.Recipe{
	Name: "aurigraph-services",
	Packages: []string{"nginx", "postgresql-15", "postgresql-client-15", "redis-server", "prometheus",
		"prometheus-postgres-exporter", "prometheus-redis-exporter", "wget", "procps", "ca-certificates"},
	Setup: servicesSetup,
}

// servicesSetup gives the image what the official images have and Debian's
// packages do not: PostgreSQL's user with the Alpine image's uid and gid (70;
// initdb and postgres look their user up), the official entrypoint's first
// start (initdb with the password from POSTGRES_PASSWORD_FILE, the host
// rule, the database; docker-library/postgres docker-entrypoint.sh) as a
// small stand-in, and pg_isready on PATH ahead of Debian's wrapper.
const servicesSetup = `set -eu
r=$1
chroot "$r" groupmod -g 70 postgres
chroot "$r" usermod -u 70 -g 70 postgres
ln -sf /usr/lib/postgresql/15/bin/pg_isready "$r/usr/local/bin/pg_isready"
cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Stand-in for the official image's first start, for a non-root user.
set -eu
bin=/usr/lib/postgresql/15/bin
# The official CMD starts with "postgres"; the arguments follow it.
if [ "${1:-}" = postgres ]; then shift; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list
  "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" $POSTGRES_INITDB_ARGS >/dev/null
  printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
  echo "CREATE DATABASE $POSTGRES_DB" | "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
fi
exec "$bin/postgres" "$@"
SH
chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
`
