//go:build integration

package redis

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/testserver"
)

// Quotes, a backslash and spaces: the include file must carry any password.
const testPassword = `integration-only "redis" pass\\word`

// startRedis runs the container's own command line on the rendered
// redis.conf and users.acl, bound to 127.0.0.1. It returns the port and the
// secret files' directory (SecretsMount's stand-in).
func startRedis(t *testing.T, v ConfigValues) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: apt-get install redis-server")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o700))
	// redis reads "dir" and "aclfile" while parsing the file: the test's own.
	v.Dir = data
	v.ACLFile = filepath.Join(dir, ACLFileName)
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	confPath := filepath.Join(dir, "redis.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	users, err := RenderACL(Users(testPassword))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(v.ACLFile, []byte(users), 0o600))
	secrets := filepath.Join(dir, "secrets")
	require.NoError(t, os.Mkdir(secrets, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte(testPassword), 0o644))
	port := testserver.FreePort(t)

	spec := ServerSpec(Args{})
	require.Equal(t, []string{"redis-server", confMount + "/redis.conf"}, spec.Command)
	args := append([]string{confPath}, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--daemonize", "no")
	cmd := exec.Command(spec.Command[0], args...)
	if os.Geteuid() == 0 {
		// Run unprivileged, directly (no runuser in between, so killing
		// the process stops the server).
		u, err := user.Lookup("redis")
		require.NoError(t, err, "the redis user (from the redis-server package) runs the server unprivileged")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755))
		}
		require.NoError(t, os.Chown(data, uid, gid))
		require.NoError(t, os.Chown(v.ACLFile, uid, gid))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	testserver.Start(t, cmd, fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second, nil)
	return port, secrets
}

// cli runs redis-cli as user (none when empty) with its password in
// REDISCLI_AUTH, as the health check does.
func cli(t *testing.T, port int, as, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"--no-auth-warning", "-h", "127.0.0.1", "-p", strconv.Itoa(port)}
	cmd := exec.CommandContext(ctx, "redis-cli")
	cmd.Env = os.Environ()
	if as != "" {
		base = append(base, "--user", as)
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+UserPassword(testPassword, as))
	}
	cmd.Args = append(append([]string{"redis-cli"}, base...), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(out))
}

func TestIntegrationRedisRenderedConfig(t *testing.T) {
	port, secrets := startRedis(t, Defaults(MaxMemoryFor(4096)))

	assert.Contains(t, cli(t, port, "", "", "PING"), "NOAUTH", "the default user is off: a client must log in")
	assert.Equal(t, "PONG", cli(t, port, AdminUser, "", "PING"))
	assert.Equal(t, "maxmemory\n"+strconv.Itoa(3072*1024*1024), cli(t, port, AdminUser, "", "CONFIG", "GET", "maxmemory"))
	assert.Equal(t, "maxmemory-policy\nallkeys-lru", cli(t, port, AdminUser, "", "CONFIG", "GET", "maxmemory-policy"))
	assert.Equal(t, "appendonly\nyes", cli(t, port, AdminUser, "", "CONFIG", "GET", "appendonly"))
	assert.Equal(t, "save\n3600 1 300 100 60 10000", cli(t, port, AdminUser, "", "CONFIG", "GET", "save"))
	assert.Equal(t, "protected-mode\nyes", cli(t, port, AdminUser, "", "CONFIG", "GET", "protected-mode"))
	for _, c := range DisabledCommands {
		assert.Contains(t, cli(t, port, AdminUser, "", c), "unknown command", c)
	}

	// The container's health check command, pointed at this port and at
	// the test's secret files.
	health := ServerSpec(Args{}).Health.Test[1]
	require.Contains(t, health, "-h 127.0.0.1 ping")
	health = strings.Replace(health, "-h 127.0.0.1 ping", fmt.Sprintf("-h 127.0.0.1 -p %d ping", port), 1)
	health = strings.ReplaceAll(health, container.SecretsMount, secrets)
	assert.NoError(t, exec.Command("sh", "-c", health).Run(), "health check")
	require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte("wrong"), 0o644))
	assert.Error(t, exec.Command("sh", "-c", health).Run(), "health check fails with a wrong password")
	require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte(testPassword), 0o644))
}

func TestIntegrationRedisEvictsUnderMaxmemory(t *testing.T) {
	const maxMB = 4
	port, _ := startRedis(t, Defaults(maxMB))
	// 4000 values of 4 KiB (about 16 MiB) through one pipe.
	var proto strings.Builder
	val := strings.Repeat("x", 4096)
	for i := 0; i < 4000; i++ {
		k := fmt.Sprintf("key:%d", i)
		fmt.Fprintf(&proto, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
	}
	out := cli(t, port, AdminUser, proto.String(), "--pipe")
	assert.Contains(t, out, "errors: 0", "allkeys-lru evicts instead of refusing writes: %s", out)

	info := cli(t, port, AdminUser, "", "INFO", "stats")
	var evicted int
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "evicted_keys:") {
			evicted, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "evicted_keys:")))
		}
	}
	size, _ := strconv.Atoi(cli(t, port, AdminUser, "", "DBSIZE"))
	assert.Greater(t, evicted, 0)
	assert.Less(t, size, 4000)
	// Eviction may go on in the background between INFO and DBSIZE:
	// the keys left and those counted evicted never exceed what was written.
	assert.LessOrEqual(t, size+evicted, 4000)
	t.Logf("MEASURED eviction: maxmemory %dmb, 4000 writes of 4 KiB -> %d keys kept, %d evicted", maxMB, size, evicted)
}

// The generated ACL on a real redis-server: each user may do what its
// service needs and nothing else.
func TestIntegrationRedisACLUsers(t *testing.T) {
	port, _ := startRedis(t, Defaults(64))
	app := func(args ...string) string { return cli(t, port, AppUser, "", args...) }
	noperm := func(out string) bool { return strings.Contains(out, "NOPERM") }

	// Nobody gets in without a user and its password.
	assert.Contains(t, cli(t, port, "", "", "GET", "aurigraph:x"), "NOAUTH")
	assert.Contains(t, cli(t, port, "", "", "AUTH", "default", "anything"), "WRONGPASS")
	assert.Contains(t, cli(t, port, "", "", "AUTH", AppUser, "not-its-password"), "WRONGPASS")

	// The application: data commands on its prefixes.
	assert.Equal(t, "OK", app("SET", "aurigraph:block:1", "h1"))
	assert.Equal(t, "h1", app("GET", "aurigraph:block:1"))
	assert.Equal(t, "OK", app("SET", "cache:metrics:tps", "2000000", "EX", "300"))
	assert.Equal(t, "1", app("HSET", "aurigraph:node:1", "tier", "validator"))
	assert.Equal(t, "1", app("LPUSH", "aurigraph:queue", "tx"))
	assert.Equal(t, "1", app("ZADD", "aurigraph:rank", "1", "n1"))
	assert.Equal(t, "1", app("EXPIRE", "aurigraph:rank", "60"))
	assert.Equal(t, "1", app("DEL", "aurigraph:queue"))
	assert.Contains(t, cli(t, port, AppUser, "MULTI\nINCR aurigraph:counter\nEXEC\n"), "1", "transactions")
	assert.Equal(t, "PONG", app("PING"))
	// ... refused on other prefixes ...
	for _, args := range [][]string{{"GET", "other:key"}, {"SET", "session:1", "x"}, {"DEL", "other:key"}, {"MGET", "aurigraph:block:1", "other:key"}} {
		assert.True(t, noperm(app(args...)), "%v must be refused: %s", args, app(args...))
	}
	// ... and every admin command.
	for _, args := range [][]string{{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "maxmemory", "1mb"}, {"FLUSHALL"}, {"FLUSHDB"},
		{"DEBUG", "SLEEP", "0"}, {"SHUTDOWN", "NOSAVE"}, {"ACL", "LIST"}, {"ACL", "SETUSER", AppUser, "+@all"}, {"KEYS", "*"},
		{"MONITOR"}, {"BGSAVE"}, {"SAVE"}, {"CLIENT", "KILL", "TYPE", "normal"}, {"SWAPDB", "0", "1"}, {"MIGRATE", "x", "1", "k", "0", "1"},
		{"EVAL", "return 1", "0"}, {"PUBLISH", "c", "m"}, {"INFO"}} {
		out := app(args...)
		assert.True(t, noperm(out) || strings.Contains(out, "unknown command"), "%v must be refused to the application: %s", args, out)
	}
	assert.Equal(t, "h1", cli(t, port, AdminUser, "", "GET", "aurigraph:block:1"), "the data survived every refused command")

	// The exporter: what a scrape runs, no data, no write.
	exp := func(args ...string) string { return cli(t, port, ExporterUser, "", args...) }
	assert.Equal(t, "PONG", exp("PING"))
	assert.Contains(t, exp("INFO", "ALL"), "used_memory:")
	assert.Contains(t, exp("CONFIG", "GET", "*"), "maxmemory")
	for _, args := range [][]string{{"LATENCY", "LATEST"}, {"SLOWLOG", "GET"}, {"SLOWLOG", "LEN"}, {"CLIENT", "SETNAME", "redis_exporter"}, {"SELECT", "0"}} {
		assert.False(t, noperm(exp(args...)), "%v: %s", args, exp(args...))
	}
	for _, args := range [][]string{{"GET", "aurigraph:block:1"}, {"SET", "aurigraph:x", "1"}, {"CONFIG", "SET", "maxmemory", "1mb"},
		{"SLOWLOG", "RESET"}, {"KEYS", "*"}, {"SCAN", "0"}, {"FLUSHALL"}, {"ACL", "LIST"}} {
		out := exp(args...)
		assert.True(t, noperm(out) || strings.Contains(out, "unknown command"), "%v must be refused to the exporter: %s", args, out)
	}
	// Grafana's user is the exporter's kind.
	assert.Contains(t, cli(t, port, GrafanaUser, "", "INFO", "memory"), "used_memory:")
	assert.True(t, noperm(cli(t, port, GrafanaUser, "", "GET", "aurigraph:block:1")))

	// The real redis_exporter, as the container runs it (REDIS_USER and
	// REDIS_PASSWORD): it reaches Redis (redis_up 1), and Redis refused it
	// nothing it asked for (the ACL log holds every denial).
	bin, err := exec.LookPath("prometheus-redis-exporter")
	require.NoError(t, err, "apt-get install prometheus-redis-exporter")
	require.Equal(t, "OK", cli(t, port, AdminUser, "", "ACL", "LOG", "RESET"))
	listen := testserver.FreePort(t)
	spec := ExporterSpec(Args{Password: pulumi.String(testPassword)})
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "REDIS_ADDR="+fmt.Sprintf("redis://127.0.0.1:%d", port),
		"REDIS_USER="+spec.Env["REDIS_USER"], "REDIS_PASSWORD="+UserPassword(testPassword, ExporterUser),
		"REDIS_EXPORTER_WEB_LISTEN_ADDRESS="+fmt.Sprintf("127.0.0.1:%d", listen))
	testserver.Start(t, cmd, fmt.Sprintf("127.0.0.1:%d", listen), 20*time.Second, nil)
	var metrics string
	for i := 0; i < 2; i++ { // two scrapes: the second after a connection was reused
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", listen))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
	}
	assert.Contains(t, metrics, "\nredis_up 1\n")
	assert.Contains(t, metrics, "redis_memory_max_bytes 6.7108864e+07", "maxmemory, read with CONFIG GET")
	assert.Contains(t, metrics, "redis_commands_processed_total")
	denials := cli(t, port, AdminUser, "", "ACL", "LOG")
	assert.Empty(t, denials, "the exporter was refused a command: %s", denials)
	if !t.Failed() {
		t.Logf("MEASURED redis_exporter %s as %s: redis_up 1, ACL LOG empty after 2 scrapes", exporterVersion(bin), ExporterUser)
	}
}

func exporterVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	if m := regexp.MustCompile(`Exporter (\S+)`).FindStringSubmatch(string(out)); m != nil {
		return m[1]
	}
	return "(version unknown)"
}

// The reloads' command (adminCommand, as configfile runs it on the host)
// against the server: OK on the new container, tolerated on one from
// before the ACL file, a failure on any other error reply.
func TestIntegrationRedisAdminCommandChecksTheReply(t *testing.T) {
	port, _ := startRedis(t, Defaults(64))
	// docker exec redis sh -c '...': the same sh -c, on this host, with the
	// container's secret file.
	secrets := t.TempDir()
	run := func(port int, password, args string) (string, error) {
		require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte(password), 0o600))
		script := adminCommand(args)
		script = strings.TrimPrefix(script, "docker exec "+ContainerName+" ")
		script = strings.Replace(script, "redis-cli ", fmt.Sprintf("redis-cli -h 127.0.0.1 -p %d ", port), 1)
		script = strings.ReplaceAll(script, container.SecretsMount, secrets)
		cmd := exec.Command("sh", "-c", script)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(port, testPassword, "CONFIG SET maxmemory 32mb")
	assert.NoError(t, err, out)
	assert.Equal(t, "maxmemory\n"+strconv.Itoa(32*1024*1024), cli(t, port, AdminUser, "", "CONFIG", "GET", "maxmemory"), "the reload applied")
	out, err = run(port, testPassword, "ACL LOAD")
	assert.NoError(t, err, out)
	out, err = run(port, testPassword, "CONFIG SET maxmemory notanumber")
	assert.Error(t, err, "an error reply fails the step: %s", out)

	// A container from before the ACL file: requirepass, no admin user.
	legacy := testserver.FreePort(t)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(legacy), "--requirepass", testPassword,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if os.Geteuid() == 0 {
		u, err := user.Lookup("redis")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "/tmp")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	testserver.Start(t, cmd, fmt.Sprintf("127.0.0.1:%d", legacy), 20*time.Second, nil)
	out, err = run(legacy, testPassword, "ACL LOAD")
	assert.NoError(t, err, out)
	assert.Contains(t, out, "from before the ACL file")
}
