package pgbouncer

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/postgres"

	"github.com/aurigraph/infra/components/network"
)

// settings parses pgbouncer.ini's key = value lines by section.
func settings(t *testing.T, ini string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	section := ""
	for _, line := range strings.Split(ini, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "line %q", line)
			require.NotEmpty(t, section, "line %q outside a section", line)
			_, dup := out[section][strings.TrimSpace(k)]
			require.False(t, dup, "%s set twice", k)
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func TestRenderConfig(t *testing.T) {
	out, err := RenderConfig(Defaults(Pool{MaxClientConn: 3000, DefaultPoolSize: 150, ReservePoolSize: 25}))
	require.NoError(t, err)
	s := settings(t, out)
	pg := s["pgbouncer"]
	assert.Equal(t, "transaction", pg["pool_mode"])
	assert.Equal(t, "3000", pg["max_client_conn"])
	assert.Equal(t, "150", pg["default_pool_size"])
	assert.Equal(t, "25", pg["reserve_pool_size"])
	assert.Equal(t, "175", pg["max_db_connections"], "the server pool is the hard ceiling")
	assert.Equal(t, "175", pg["max_user_connections"])
	assert.Equal(t, "scram-sha-256", pg["auth_type"])
	assert.Equal(t, "/etc/pgbouncer/userlist.txt", pg["auth_file"])
	assert.Equal(t, StatsUser, pg["stats_users"])
	assert.Empty(t, pg["admin_users"])
	assert.Equal(t, "extra_float_digits", pg["ignore_startup_parameters"])
	assert.Equal(t, "200", pg["max_prepared_statements"])
	assert.Equal(t, "6432", pg["listen_port"])
	assert.Equal(t, "0", pg["client_idle_timeout"], "application pools keep their connections")
	for _, k := range []string{"query_wait_timeout", "idle_transaction_timeout", "server_idle_timeout", "server_lifetime", "server_connect_timeout"} {
		assert.Regexp(t, `^[1-9][0-9]*$`, pg[k], k)
	}
	assert.Equal(t, map[string]string{"aurigraph": "host=postgres port=5432 dbname=aurigraph"}, s["databases"])
	assert.NotRegexp(t, regexp.MustCompile(`(?i)password`), strings.Join(nonComments(out), "\n"), "no password in the file")

	again, _ := RenderConfig(Defaults(Pool{MaxClientConn: 3000, DefaultPoolSize: 150, ReservePoolSize: 25}))
	assert.Equal(t, out, again)

	// Before 1.21 the line would stop PgBouncer: 0 leaves it out.
	v := Defaults(Pool{MaxClientConn: 10, DefaultPoolSize: 2})
	v.MaxPreparedStatements = 0
	out, err = RenderConfig(v)
	require.NoError(t, err)
	assert.NotContains(t, settings(t, out)["pgbouncer"], "max_prepared_statements")
}

func nonComments(ini string) []string {
	var out []string
	for _, l := range strings.Split(ini, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), ";") {
			out = append(out, l)
		}
	}
	return out
}

func TestRenderConfigRefuses(t *testing.T) {
	for name, v := range map[string]ConfigValues{
		"empty":      {},
		"no clients": Defaults(Pool{MaxClientConn: 0, DefaultPoolSize: 10}),
		"no pool":    Defaults(Pool{MaxClientConn: 10, DefaultPoolSize: 0}),
		"bad database": func() ConfigValues {
			v := Defaults(Pool{MaxClientConn: 10, DefaultPoolSize: 1})
			v.Database = "a b"
			return v
		}(),
		"injected user": func() ConfigValues {
			v := Defaults(Pool{MaxClientConn: 10, DefaultPoolSize: 1})
			v.StatsUser = "x\nadmin_users = x"
			return v
		}(),
	} {
		_, err := RenderConfig(v)
		assert.Error(t, err, name)
	}
}

func TestRenderAuthFile(t *testing.T) {
	out, err := RenderAuthFile(AuthUsers(Passwords{App: `pa"ss word`, Reporting: "r", Stats: "s"}))
	require.NoError(t, err)
	assert.Equal(t, "\"aurigraph_app\" \"pa\"\"ss word\"\n\"aurigraph_reporting\" \"r\"\n\"pgbouncer_stats\" \"s\"\n", out)
	assert.NotContains(t, out, `"`+postgres.User+`"`, "the superuser never logs in through the pooler")
	_, err = RenderAuthFile(AuthUsers(Passwords{App: "a", Reporting: "r"}))
	assert.Error(t, err)
	_, err = RenderAuthFile(AuthUsers(Passwords{App: "two\nlines", Reporting: "r", Stats: "s"}))
	assert.Error(t, err)
}

func TestPoolArithmetic(t *testing.T) {
	p := Pool{MaxClientConn: 80000, DefaultPoolSize: 400, ReservePoolSize: 50}
	assert.Equal(t, 450, p.ServerPool())
	assert.Equal(t, 80000+450+NoFileMargin, p.NoFile())
	assert.Equal(t, container.NoFileLimit, Pool{MaxClientConn: 100, DefaultPoolSize: 10}.NoFile(), "never below the platform default")
}

func TestImageSupportsPreparedStatements(t *testing.T) {
	for ref, want := range map[string]bool{
		"edoburu/pgbouncer:v1.25.2-p0":                                   true,
		"edoburu/pgbouncer:v1.21.0-p0":                                   true,
		"edoburu/pgbouncer:1.22.1-p0":                                    true,
		"registry:5000/edoburu/pgbouncer:v2.0.0":                         true,
		"edoburu/pgbouncer:v1.20.1-p0":                                   false,
		"edoburu/pgbouncer:1.18.0":                                       false,
		"edoburu/pgbouncer:latest":                                       false,
		"registry:5000/edoburu/pgbouncer":                                false,
		"edoburu/pgbouncer:v1.25.2-p0@sha256:" + strings.Repeat("a", 64): true,
	} {
		assert.Equal(t, want, ImageSupportsPreparedStatements(ref), ref)
	}
}

func TestSpecs(t *testing.T) {
	a := PgBouncerArgs{Zones: network.NamedZones("aurigraph-network"), Image: pulumi.String("i"), ExporterImage: pulumi.String("e"),
		ServiceDir: "/srv/aurigraph/pgbouncer", Postgres: &postgres.Postgres{Passwords: postgres.DerivePasswords(pulumi.String("x"))},
		Resources:        container.Resources{CPUs: 1, MemoryMB: 1024},
		ExporterResource: container.Resources{CPUs: 0.5, MemoryMB: 256},
		Pool:             Pool{MaxClientConn: 70000, DefaultPoolSize: 100, ReservePoolSize: 20}}
	s := PoolerSpec(a)
	require.NoError(t, s.Validate())
	assert.Empty(t, s.Ports, "internal only")
	assert.Empty(t, s.SecretEnv, "the pooler reads its passwords from the auth file")
	assert.Empty(t, s.Env)
	assert.Equal(t, "70:70", s.User)
	assert.Equal(t, 70000+120+NoFileMargin, s.Ulimits["nofile"])
	assert.True(t, s.ReadOnlyRootFS)
	require.Len(t, s.Mounts, 1)
	assert.True(t, s.Mounts[0].ReadOnly)
	assert.Equal(t, "/etc/pgbouncer", s.Mounts[0].Target)
	assert.Equal(t, []string{"/etc/pgbouncer/pgbouncer.ini"}, s.Command)

	e := ExporterSpec(a)
	require.NoError(t, e.Validate())
	assert.Empty(t, e.SecretEnv)
	if assert.Len(t, e.SecretFiles, 1) {
		assert.Equal(t, "PGPASSFILE", e.SecretFiles[0].Env)
	}
	assert.Equal(t, "pgbouncer:6432:pgbouncer:pgbouncer_stats:a\\:b\\\\c\n", RenderExporterPassFile(`a:b\c`))
	assert.Equal(t, "postgres://pgbouncer_stats@pgbouncer:6432/pgbouncer?sslmode=disable", e.Env["PGBOUNCER_EXPORTER_CONNECTION_STRING"])
	assert.NotContains(t, e.Env["PGBOUNCER_EXPORTER_CONNECTION_STRING"], ":x@")
	assert.Equal(t, "jdbc:postgresql://pgbouncer:6432/"+postgres.Database, JDBCURL())
}
