//go:build integration

package pgbouncer

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/internal/derive"
	"github.com/aurigraph/infra/internal/testserver"
)

// The test's only secret: PostgreSQL's superuser password; the roles'
// passwords the generated auth file carries are derived from it.
const testPassword = "integration-only-pooler-password"

// postgresUser is the unprivileged account PostgreSQL and PgBouncer run as
// (both refuse root).
func postgresUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	require.NoError(t, err, "the postgres user (from the postgresql package) is needed to run the servers unprivileged")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func run(t *testing.T, cred *syscall.Credential, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(cred, env, name, args...)
	require.NoError(t, err, "%s %v\n%s", name, args, out)
	return out
}

func runErr(cred *syscall.Credential, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// ownedDir is a temporary directory the servers' user owns.
func ownedDir(t *testing.T, cred *syscall.Credential) string {
	t.Helper()
	dir := t.TempDir()
	if cred != nil {
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755))
		}
		require.NoError(t, os.Chown(dir, int(cred.Uid), int(cred.Gid)))
	}
	return dir
}

// setKey rewrites one `key = value` line of pgbouncer.ini (it must be there).
func setKey(t *testing.T, ini, key, value string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
	require.Regexp(t, re, ini, "the generated file sets %s", key)
	return re.ReplaceAllLiteralString(ini, key+" = "+value)
}

// pgbouncerVersion is the installed PgBouncer's version, e.g. [1 18 0].
func pgbouncerVersion(t *testing.T, bin string) [3]int {
	t.Helper()
	out := run(t, nil, nil, bin, "--version")
	m := regexp.MustCompile(`PgBouncer (\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v
}

func versionBefore(v, min [3]int) bool {
	for i := range v {
		if v[i] != min[i] {
			return v[i] < min[i]
		}
	}
	return false
}

// startupReply sends a protocol 3.0 StartupMessage with params to addr and
// returns the first message type of the reply: 'R' (authentication
// request) when the pooler accepts the parameters, 'E' (error) otherwise,
// with the error's text.
func startupReply(t *testing.T, addr string, params map[string]string) (byte, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	var body bytes.Buffer
	_ = binary.Write(&body, binary.BigEndian, int32(196608)) // 3.0
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		body.WriteString(k + "\x00" + params[k] + "\x00")
	}
	body.WriteByte(0)
	msg := make([]byte, 4, 4+body.Len())
	binary.BigEndian.PutUint32(msg, uint32(4+body.Len()))
	_, err = c.Write(append(msg, body.Bytes()...))
	require.NoError(t, err)
	head := make([]byte, 5)
	_, err = io.ReadFull(c, head)
	require.NoError(t, err)
	rest := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	_, _ = io.ReadFull(c, rest)
	return head[0], strings.ReplaceAll(string(rest), "\x00", " ")
}

// TestIntegrationPgBouncerPoolsFiveHundredClients runs a real PostgreSQL
// with the generated postgresql.conf and a real PgBouncer with the
// generated pgbouncer.ini and auth file (only where they listen, the
// server's address and the auth file's path rewritten), sends 500
// concurrent clients through the pooler, each running a transaction of
// several statements, and samples pg_stat_activity throughout: PostgreSQL
// must never see more connections from the pooler than the server pool.
func TestIntegrationPgBouncerPoolsFiveHundredClients(t *testing.T) {
	const clients = 500
	// Small pool, the production arithmetic: 500 clients share 20+5
	// server connections.
	pool := Pool{MaxClientConn: 600, DefaultPoolSize: 20, ReservePoolSize: 5}
	bouncer, err := exec.LookPath("pgbouncer")
	if err != nil {
		bouncer = "/usr/sbin/pgbouncer"
	}
	_, err = os.Stat(bouncer)
	require.NoError(t, err, "pgbouncer not found: apt-get install pgbouncer")
	cred := postgresUser(t)
	bin := testserver.PostgresBin(t)

	// PostgreSQL on the generated postgresql.conf; max_connections leaves
	// room above the pool so only the pooler can be what bounds it.
	pgConf, err := postgres.RenderConfig(postgres.Sizing(512, 1, 60))
	require.NoError(t, err)
	pgDir := ownedDir(t, cred)
	require.NoError(t, os.WriteFile(filepath.Join(pgDir, "postgresql.conf"), []byte(pgConf), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(pgDir, "pw"), []byte(testPassword+"\n"), 0o644))
	data := filepath.Join(pgDir, "data")
	run(t, cred, nil, filepath.Join(bin, "initdb"), "-D", data, "-U", postgres.User, "--pwfile", filepath.Join(pgDir, "pw"),
		"-E", "UTF8", "--auth-local=trust", "--auth-host=scram-sha-256")
	pgPort := testserver.FreePort(t)
	opts := fmt.Sprintf("-c config_file=%s -c listen_addresses=127.0.0.1 -p %d -k %s", filepath.Join(pgDir, "postgresql.conf"), pgPort, pgDir)
	run(t, cred, nil, filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(pgDir, "log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		if out, err := runErr(cred, nil, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
			t.Logf("pg_ctl stop: %v: %s", err, out)
		}
	})
	// Over the socket (local trust): the test's own view of PostgreSQL,
	// which the pooler's TCP connections are told apart from.
	psqlLocal := func(db, sql string) string {
		return strings.TrimSpace(run(t, nil, nil, filepath.Join(bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
			"-h", pgDir, "-p", strconv.Itoa(pgPort), "-U", postgres.User, "-d", db, "-c", sql))
	}
	psqlLocal("postgres", "CREATE DATABASE "+postgres.Database)
	psqlLocal(postgres.Database, "CREATE TABLE pooled (client int PRIMARY KEY, backend int NOT NULL, at timestamptz NOT NULL DEFAULT now())")
	// The deployment's roles, as the bootstrap makes them: the clients
	// below log in as the application's role, with its derived password.
	roles, err := postgres.RenderRoles(postgres.Roles(testPassword))
	require.NoError(t, err)
	rolesCmd := exec.Command(filepath.Join(bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pgDir, "-p", strconv.Itoa(pgPort),
		"-U", postgres.User, "-d", postgres.Database, "-f", "-")
	rolesCmd.Stdin = strings.NewReader(roles)
	rolesOut, err := rolesCmd.CombinedOutput()
	require.NoError(t, err, "roles.sql: %s", rolesOut)
	appPassword := postgres.RolePassword(testPassword, postgres.AppUser)
	statsPassword := derive.Password(appPassword, "pgbouncer/"+StatsUser)

	// PgBouncer on the generated files.
	v := Defaults(pool)
	ini, err := RenderConfig(v)
	require.NoError(t, err)
	auth, err := RenderAuthFile(AuthUsers(Passwords{App: appPassword,
		Reporting: postgres.RolePassword(testPassword, postgres.ReportingUser), Stats: statsPassword}))
	require.NoError(t, err)
	bDir := ownedDir(t, cred)
	authPath := filepath.Join(bDir, AuthFileName)
	bPort := testserver.FreePort(t)
	ini = setKey(t, ini, "listen_addr", "127.0.0.1")
	ini = setKey(t, ini, "listen_port", strconv.Itoa(bPort))
	ini = setKey(t, ini, "auth_file", authPath)
	ini = setKey(t, ini, postgres.Database, fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s", pgPort, postgres.Database))
	if ver := pgbouncerVersion(t, bouncer); versionBefore(ver, MinPreparedStatementsVersion) {
		// Debian 12 ships 1.18; the pinned image is 1.21 or later
		// (validation refuses an older one), where this line is required.
		require.Contains(t, ini, fmt.Sprintf("max_prepared_statements = %d", MaxPreparedStatements))
		ini = strings.Replace(ini, fmt.Sprintf("max_prepared_statements = %d\n", MaxPreparedStatements), "", 1)
		t.Logf("PgBouncer %d.%d.%d predates max_prepared_statements: the test runs without that one line", ver[0], ver[1], ver[2])
	}
	iniPath := filepath.Join(bDir, "pgbouncer.ini")
	require.NoError(t, os.WriteFile(iniPath, []byte(ini), 0o644))
	require.NoError(t, os.WriteFile(authPath, []byte(auth), 0o600))
	if cred != nil {
		require.NoError(t, os.Chown(authPath, int(cred.Uid), int(cred.Gid)))
	}
	cmd := exec.Command(bouncer, iniPath)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	bAddr := fmt.Sprintf("127.0.0.1:%d", bPort)
	srv := testserver.Start(t, cmd, bAddr, 20*time.Second, syscall.SIGINT)

	conninfo := func(u, db string) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable connect_timeout=20", bPort, u, db)
	}
	statsEnv := []string{"PGPASSWORD=" + statsPassword}
	psql := filepath.Join(bin, "psql")

	// JDBC's startup parameter is accepted (an authentication request
	// comes back, not an error); one PgBouncer does not know is refused,
	// so the check can fail.
	kind, text := startupReply(t, bAddr, map[string]string{"user": postgres.AppUser, "database": postgres.Database, "extra_float_digits": "2"})
	assert.Equal(t, byte('R'), kind, "extra_float_digits refused: %s", text)
	kind, text = startupReply(t, bAddr, map[string]string{"user": postgres.AppUser, "database": postgres.Database, "search_path": "x"})
	assert.Equal(t, byte('E'), kind, "an unknown startup parameter must be refused: %s", text)
	// The container's health check, run as it is (only the port differs),
	// passes against the running pooler without a password.
	check := PoolerSpec(PgBouncerArgs{}).Health.Test
	require.Equal(t, "CMD", check[0])
	require.Equal(t, "pg_isready", check[1])
	args := append([]string{}, check[2:]...)
	for i := range args {
		if args[i] == strconv.Itoa(Port) {
			args[i] = strconv.Itoa(bPort)
		}
	}
	out, err := runErr(nil, nil, filepath.Join(bin, "pg_isready"), args...)
	assert.NoError(t, err, "health check %v: %s", args, out)
	// A wrong password is refused.
	out, err = runErr(nil, []string{"PGPASSWORD=not-the-password"}, psql, "-X", conninfo(postgres.AppUser, postgres.Database), "-c", "SELECT 1")
	assert.Error(t, err, "a wrong password must be refused: %s", out)
	// The exporter's user reads the console's statistics, and only them.
	out = run(t, nil, statsEnv, psql, "-X", "-A", "-t", conninfo(StatsUser, AdminDatabase), "-c", "SHOW POOLS")
	assert.Contains(t, out, postgres.Database)
	out, err = runErr(nil, statsEnv, psql, "-X", conninfo(StatsUser, AdminDatabase), "-c", "PAUSE")
	assert.Error(t, err, "the stats user must not pause the pooler: %s", out)
	// The exporter's password file (PGPASSFILE) logs the stats user in,
	// with only its host and port pointed at this pooler.
	passFile := filepath.Join(t.TempDir(), ExporterPassFile)
	line := strings.Replace(RenderExporterPassFile(statsPassword), fmt.Sprintf("%s:%d:", ContainerName, Port), fmt.Sprintf("127.0.0.1:%d:", bPort), 1)
	require.NoError(t, os.WriteFile(passFile, []byte(line), 0o400))
	out = run(t, nil, []string{"PGPASSFILE=" + passFile}, psql, "-X", "-A", "-t", "-w", conninfo(StatsUser, AdminDatabase), "-c", "SHOW POOLS")
	assert.Contains(t, out, postgres.Database, "the exporter's password file")

	// Sample PostgreSQL's view of the pooler's connections (TCP from
	// loopback: the sampler itself uses the socket) during the load.
	var samples, maxSeen atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := runErr(nil, nil, psql, "-X", "-q", "-A", "-t", "-h", pgDir, "-p", strconv.Itoa(pgPort), "-U", postgres.User, "-d", postgres.Database,
				"-c", "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND client_addr IS NOT NULL")
			if err != nil {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(out))
			if err != nil {
				continue
			}
			samples.Add(1)
			for {
				m := maxSeen.Load()
				if int64(n) <= m || maxSeen.CompareAndSwap(m, int64(n)) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// 500 clients connect (with pgjdbc's startup parameters and SCRAM) and
	// hold their connections; then all at once each runs a transaction of
	// several statements, whose server connection must stay its own from
	// BEGIN to COMMIT.
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(i int, step string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("client %d: %s: %v", i, step, err))
	}
	connected := make(chan *pgConn, clients)
	for i := 1; i <= clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dialPG(bAddr, postgres.AppUser, appPassword, postgres.Database)
			if err != nil {
				fail(i, "connect", err)
				return
			}
			connected <- c
		}(i)
	}
	wg.Wait()
	close(connected)
	conns := make([]*pgConn, 0, clients)
	for c := range connected {
		conns = append(conns, c)
	}
	require.Empty(t, firstOf(failures, 5), "every client must connect through the pooler (%d failed); PgBouncer:\n%s", len(failures), srv.Logs())
	require.Len(t, conns, clients)
	held := time.Since(start)
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *pgConn) {
			defer wg.Done()
			defer c.close()
			var pids []string
			for _, sql := range []string{
				"BEGIN",
				"SELECT pg_backend_pid()",
				fmt.Sprintf("INSERT INTO pooled (client, backend) VALUES (%d, pg_backend_pid())", i+1),
				"SELECT pg_sleep(0.1)",
				fmt.Sprintf("UPDATE pooled SET at = now() WHERE client = %d AND backend = pg_backend_pid() RETURNING backend", i+1),
				"COMMIT",
			} {
				rows, err := c.exec(sql)
				if err != nil {
					fail(i+1, sql, err)
					return
				}
				if strings.Contains(sql, "pg_backend_pid()") && !strings.HasPrefix(sql, "INSERT") {
					pids = append(pids, rows...)
				}
			}
			if len(pids) != 2 || pids[0] != pids[1] {
				fail(i+1, "one server connection per transaction", fmt.Errorf("backends %v", pids))
			}
		}(i, c)
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled

	require.Empty(t, firstOf(failures, 5), "every client's transaction must succeed (%d failed); PgBouncer:\n%s", len(failures), srv.Logs())
	assert.Equal(t, strconv.Itoa(clients), psqlLocal(postgres.Database, "SELECT count(*) FROM pooled"))
	backends, err := strconv.Atoi(psqlLocal(postgres.Database, "SELECT count(DISTINCT backend) FROM pooled"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, samples.Load(), int64(5), "too few samples of pg_stat_activity to judge")
	assert.LessOrEqual(t, maxSeen.Load(), int64(pool.ServerPool()), "PostgreSQL saw more connections from the pooler than the server pool")
	assert.LessOrEqual(t, backends, pool.ServerPool(), "more server backends ran the transactions than the server pool")
	// The load filled the pool: the bound was reached, not merely unneeded.
	assert.GreaterOrEqual(t, maxSeen.Load(), int64(pool.DefaultPoolSize), "the pool never filled: the load proves nothing")
	t.Logf("MEASURED %d clients through PgBouncer: wall %s (all connected after %s), max server connections seen %d (server pool %d = %d + reserve %d) over %d samples, %d distinct server backends",
		clients, wall.Round(time.Millisecond), held.Round(time.Millisecond), maxSeen.Load(), pool.ServerPool(), pool.DefaultPoolSize, pool.ReservePoolSize, samples.Load(), backends)
}

// firstOf is at most n elements of list, so a failure message stays readable.
func firstOf(list []string, n int) []string {
	if len(list) > n {
		return list[:n]
	}
	return list
}
