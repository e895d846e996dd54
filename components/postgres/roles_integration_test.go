//go:build integration

package postgres

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// applyRoles runs roles.sql the way RolesCommand does: psql as the
// superuser over the local socket, the script on stdin.
func (s *server) applyRoles(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", s.sock, "-p", strconv.Itoa(s.port), "-U", User, "-d", Database, "-f", "-")
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "roles.sql: %s", out)
}

// as runs sql as role over TCP with its password (SCRAM, as every service
// logs in) and returns the output, or the server's error.
func (s *server) as(role, password, db, sql string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", role, "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestIntegrationRolesLeastPrivilege(t *testing.T) {
	conf, err := RenderConfig(Sizing(512, 1, 50))
	require.NoError(t, err)
	s := startServer(t, conf)

	// A cluster as it was before the roles: the application logged in as
	// the superuser and made its tables, a sequence, a view and a function
	// in public; an operator keeps another schema.
	s.psql(t, Database, `CREATE TABLE public.accounts (id serial PRIMARY KEY, name text UNIQUE);
INSERT INTO public.accounts (name) SELECT 'acct-' || g FROM generate_series(1, 50) g;
CREATE TABLE public.blocks (height bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hash text);
CREATE SEQUENCE public.ticket;
CREATE VIEW public.account_names AS SELECT name FROM public.accounts;
CREATE FUNCTION public.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
CREATE SCHEMA ops;
CREATE TABLE ops.notes (body text);
INSERT INTO ops.notes VALUES ('operators only');`)

	const superuser = "integration-superuser-password"
	sql, err := RenderRoles(Roles(superuser))
	require.NoError(t, err)
	pw := func(role string) string { return RolePassword(superuser, role) }
	for _, role := range []string{AppUser, ReportingUser, ExporterUser, VaultUser} {
		assert.NotContains(t, sql, pw(role), "roles.sql holds verifiers, never a password")
	}
	assert.NotContains(t, sql, superuser)

	// Idempotent: twice on the old cluster, and again below after the
	// application has made tables of its own.
	s.applyRoles(t, sql)
	s.applyRoles(t, sql)

	ok := func(role, db, q string) string {
		t.Helper()
		out, err := s.as(role, pw(role), db, q)
		require.NoError(t, err, "%s: %s: %s", role, q, out)
		return out
	}
	refused := func(role, db, q, why string) {
		t.Helper()
		out, err := s.as(role, pw(role), db, q)
		assert.Error(t, err, "%s must be refused: %s (%s)", role, q, out)
		assert.Contains(t, out, why, "%s: %s", role, q)
	}

	// The superuser logs in with the stack's password (kept in sync).
	out, err := s.as(User, superuser, Database, "SELECT current_user")
	require.NoError(t, err, out)

	// The application: no dangerous attribute, owns its schema and the old objects.
	assert.Equal(t, "f|f|f|f|f", ok(AppUser, Database,
		"SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user"))
	assert.Equal(t, AppUser, s.psql(t, Database, "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'public'"))
	assert.Equal(t, AppUser, s.psql(t, Database, `SELECT string_agg(DISTINCT relowner::regrole::text, ',') FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S', 'v', 'i')`), "tables, sequences, views and indexes")
	assert.Equal(t, AppUser, s.psql(t, Database, "SELECT proowner::regrole FROM pg_proc WHERE proname = 'answer'"))
	// It reads and writes its tables, migrates (creates and alters), uses
	// its sequences and functions.
	assert.Equal(t, "50", ok(AppUser, Database, "SELECT count(*) FROM accounts"))
	ok(AppUser, Database, "INSERT INTO accounts (name) VALUES ('new'); UPDATE accounts SET name = 'renamed' WHERE name = 'new'; DELETE FROM accounts WHERE name = 'acct-1'")
	ok(AppUser, Database, "INSERT INTO blocks (hash) VALUES ('h'); SELECT nextval('ticket'); SELECT answer()")
	ok(AppUser, Database, "CREATE TABLE ledger (id bigserial PRIMARY KEY, entry text); INSERT INTO ledger (entry) VALUES ('e'); ALTER TABLE accounts ADD COLUMN note text")
	// And nothing else.
	refused(AppUser, Database, "CREATE ROLE intruder", "permission denied to create role")
	refused(AppUser, "postgres", "DROP DATABASE "+Database, "must be owner of database")
	refused(AppUser, Database, "CREATE DATABASE other", "permission denied to create database")
	refused(AppUser, Database, "SELECT * FROM ops.notes", "permission denied for schema ops")
	refused(AppUser, Database, "CREATE SCHEMA mine", "permission denied for database")
	refused(AppUser, Database, "ALTER ROLE "+AppUser+" SUPERUSER", "must be superuser")

	s.applyRoles(t, sql) // third run, with the application's own table in place
	assert.Equal(t, AppUser, s.psql(t, Database, "SELECT tableowner FROM pg_tables WHERE tablename = 'ledger'"))

	// Reporting reads every table, old and new, and writes none.
	assert.Equal(t, "1", ok(ReportingUser, Database, "SELECT count(*) FROM ledger"))
	assert.Equal(t, "50", ok(ReportingUser, Database, "SELECT count(*) FROM accounts"))
	refused(ReportingUser, Database, "INSERT INTO accounts (name) VALUES ('x')", "permission denied for table accounts")
	refused(ReportingUser, Database, "CREATE TABLE t (i int)", "permission denied for schema public")
	refused(ReportingUser, Database, "SELECT * FROM ops.notes", "permission denied for schema ops")

	// The exporter sees the statistics (every session's, pg_monitor) and no data.
	assert.Equal(t, "t", ok(ExporterUser, Database, "SELECT pg_has_role('pg_monitor', 'MEMBER')"))
	assert.NotEqual(t, "0", ok(ExporterUser, Database, "SELECT count(*) FROM pg_stat_database"))
	ok(ExporterUser, Database, "SELECT count(*) FROM pg_stat_activity; SELECT count(*) FROM pg_stat_bgwriter; SELECT count(*) FROM pg_settings")
	assert.NotEqual(t, "0", ok(ExporterUser, Database, "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'accounts'"))
	refused(ExporterUser, Database, "SELECT * FROM public.accounts", "permission denied for schema public")
	refused(ExporterUser, Database, "SELECT * FROM ops.notes", "permission denied for schema ops")
	refused(ExporterUser, Database, "CREATE TABLE public.t (i int)", "permission denied for schema public")

	// Vault creates a short-lived role in a group, which reads (and only
	// reads) the application's tables, and drops it; Vault itself reads nothing.
	create := "CREATE ROLE \"v-token-reader\" WITH LOGIN PASSWORD 'short-lived-password' VALID UNTIL 'infinity' IN ROLE " + ReadOnlyGroup
	ok(VaultUser, Database, create)
	out, err = s.as("v-token-reader", "short-lived-password", Database, "SELECT count(*) FROM accounts")
	require.NoError(t, err, out)
	assert.Equal(t, "50", out)
	out, err = s.as("v-token-reader", "short-lived-password", Database, "DELETE FROM accounts")
	assert.Error(t, err, out)
	ok(VaultUser, Database, "DROP ROLE \"v-token-reader\"")
	assert.Equal(t, "0", s.psql(t, Database, "SELECT count(*) FROM pg_roles WHERE rolname = 'v-token-reader'"))
	refused(VaultUser, Database, "SELECT * FROM public.accounts", "permission denied for schema public")
	refused(VaultUser, Database, "SELECT * FROM ops.notes", "permission denied for schema ops")
	refused(VaultUser, Database, "CREATE DATABASE other", "permission denied to create database")
	refused(VaultUser, Database, "ALTER ROLE "+VaultUser+" SUPERUSER", "must be superuser")

	// Nobody else connects to the database.
	s.psql(t, Database, "CREATE ROLE stranger LOGIN PASSWORD 'stranger-password'")
	out, err = s.as("stranger", "stranger-password", Database, "SELECT 1")
	assert.Error(t, err)
	assert.Contains(t, out, "permission denied for database")
}
