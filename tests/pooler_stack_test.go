package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// The application reaches PostgreSQL only through PgBouncer, which runs on
// the database's host with its exporter scraped, its auth file a secret
// file, and a pool sized from the stack file.
func TestStackPooler(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			cfg := harness.Config(t, s)
			res := harness.Run(t, s)
			containers := harness.Containers(res)

			// Every replica's JDBC URL names the pooler, not PostgreSQL, and
			// every replica waits for the pooler's container.
			bouncer, ok := containers[pgbouncer.ContainerName]
			require.True(t, ok, "the pooler's container")
			replicas := 0
			for name, c := range containers {
				if harness.Label(c, "com.aurigraph.service") != stacks.App {
					continue
				}
				replicas++
				url := envOf(c)["QUARKUS_DATASOURCE_JDBC_URL"]
				assert.Equal(t, pgbouncer.JDBCURL(), url, name)
				assert.Contains(t, url, fmt.Sprintf("//%s:%d/", pgbouncer.ContainerName, pgbouncer.Port), name)
				assert.NotContains(t, url, fmt.Sprintf("//%s:", postgres.ContainerName), "%s bypasses the pooler", name)
				assert.True(t, harness.Closure(res, c.URN)[bouncer.URN], "%s does not wait for the pooler", name)
			}
			require.Equal(t, len(stacks.Place(cfg).Replicas), replicas)
			assert.Equal(t, 0, len(harness.PlaintextContaining(res, fmt.Sprintf("jdbc:postgresql://%s:%d", postgres.ContainerName, postgres.Port))),
				"nothing names PostgreSQL's JDBC address directly")

			// On the data host, beside PostgreSQL, internal only.
			exporter, ok := containers[pgbouncer.ExporterName]
			require.True(t, ok, "the pooler's exporter")
			assertInternalOnDataHost(t, res, s, "aurigraph:pgbouncer:PgBouncer", &bouncer, &exporter)
			assert.True(t, harness.Closure(res, bouncer.URN)[containers[postgres.ContainerName].URN], "the pooler waits for PostgreSQL")

			// nofile holds every client and server connection.
			pool := cfg.Pooler
			nofile := 0
			for _, u := range propArray(bouncer.Inputs["ulimits"]) {
				if harness.Str(u.ObjectValue(), "name") == "nofile" {
					nofile = int(u.ObjectValue()["soft"].NumberValue())
				}
			}
			assert.GreaterOrEqual(t, nofile, pool.MaxClientConn+pool.DefaultPoolSize+pool.ReservePoolSize)

			// The installed pgbouncer.ini carries the stack's pool.
			ini := harness.InstalledFiles(res)[fmt.Sprintf("%s/%s/conf/pgbouncer.ini", cfg.Preflight.DataPath, stacks.Pooler)]
			require.NotEmpty(t, ini, "pgbouncer.ini installed under the pooler's conf/")
			for _, want := range []string{
				"pool_mode = transaction",
				fmt.Sprintf("max_client_conn = %d", pool.MaxClientConn),
				fmt.Sprintf("default_pool_size = %d", pool.DefaultPoolSize),
				fmt.Sprintf("reserve_pool_size = %d", pool.ReservePoolSize),
				fmt.Sprintf("max_db_connections = %d", pool.DefaultPoolSize+pool.ReservePoolSize),
			} {
				assert.Contains(t, ini, want)
			}

			// The auth file is written from a secret stdin, mode 0600, owned by
			// the pooler's user; no secret is in any plain input.
			authPath := fmt.Sprintf("%s/%s/conf/%s", cfg.Preflight.DataPath, stacks.Pooler, pgbouncer.AuthFileName)
			var auth []harness.Write
			for _, w := range harness.Writes(res) {
				if w.Path == authPath {
					auth = append(auth, w)
				}
			}
			require.Len(t, auth, 1, "one step writes the auth file")
			step := res.ByURN(auth[0].URN)
			require.NotNil(t, step)
			assert.True(t, step.Inputs["stdin"].ContainsSecrets(), "the auth file travels as a secret")
			assert.Contains(t, harness.Str(step.Inputs, "create"), fmt.Sprintf("write '%s' '%d:%d' '0600'", authPath, pgbouncer.UID, pgbouncer.GID))
			pw := s.Config[stacks.Namespace+":"+stacks.SecretPostgresPassword]
			require.NotEmpty(t, pw)
			app := postgres.RolePassword(pw, postgres.AppUser)
			assert.Contains(t, auth[0].Content, fmt.Sprintf("%q %q", postgres.AppUser, app), "the auth file holds the application role's password")
			assert.NotContains(t, auth[0].Content, pw, "never the superuser's")
			assert.Empty(t, harness.PlaintextContaining(res, pw), "PostgreSQL's password in clear")
			assert.Empty(t, harness.PlaintextContaining(res, app), "the application role's password in clear")
			assertNoPlaceholderInClear(t, s, res)

			// Prometheus scrapes the exporter.
			targets := promScrapeTargets(t, promRenderedConfig(t, res))
			assert.Equal(t, []string{pgbouncer.ExporterAddress()}, targets[prometheus.JobPgBouncer])
			assert.True(t, strings.HasPrefix(pgbouncer.ExporterAddress(), harness.Str(exporter.Inputs, "name")+":"),
				"the scrape target is the exporter container's name")
		})
	}
}
