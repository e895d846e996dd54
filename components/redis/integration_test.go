//go:build integration

package redis

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/testserver"
)

// Quotes, a backslash and spaces: the include file must carry any password.
const testPassword = `integration-only "redis" pass\\word`

// startRedis runs the container's own command line (redis.conf, then the
// secret include file) on the rendered files, bound to 127.0.0.1. It
// returns the port and the secret files' directory (SecretsMount's stand-in).
func startRedis(t *testing.T, v ConfigValues) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: apt-get install redis-server")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o700))
	// redis reads "dir" while parsing the file: the test's data directory.
	v.Dir = data
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	confPath := filepath.Join(dir, "redis.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	secrets := filepath.Join(dir, "secrets")
	require.NoError(t, os.Mkdir(secrets, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(secrets, AuthConfFile), []byte(RenderAuthConfig(testPassword)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte(testPassword), 0o644))
	port := testserver.FreePort(t)

	spec := ServerSpec(Args{})
	var argv []string
	for _, a := range spec.Command {
		a = strings.Replace(a, confMount+"/redis.conf", confPath, 1)
		argv = append(argv, strings.Replace(a, container.SecretsMount, secrets, 1))
	}
	argv = append(argv, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--daemonize", "no")
	cmd := exec.Command(argv[0], argv[1:]...)
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
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	testserver.Start(t, cmd, fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second, nil)
	return port, secrets
}

// cli runs redis-cli; auth uses REDISCLI_AUTH as the health check does.
func cli(t *testing.T, port int, auth bool, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
	cmd.Env = os.Environ()
	if auth {
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+testPassword)
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(out))
}

func TestIntegrationRedisRenderedConfig(t *testing.T) {
	port, secrets := startRedis(t, Defaults(MaxMemoryFor(4096)))

	assert.Contains(t, cli(t, port, false, "", "PING"), "NOAUTH", "a password is required")
	assert.Equal(t, "PONG", cli(t, port, true, "", "PING"))
	assert.Equal(t, "maxmemory\n"+strconv.Itoa(3072*1024*1024), cli(t, port, true, "", "CONFIG", "GET", "maxmemory"))
	assert.Equal(t, "maxmemory-policy\nallkeys-lru", cli(t, port, true, "", "CONFIG", "GET", "maxmemory-policy"))
	assert.Equal(t, "appendonly\nyes", cli(t, port, true, "", "CONFIG", "GET", "appendonly"))
	assert.Equal(t, "save\n3600 1 300 100 60 10000", cli(t, port, true, "", "CONFIG", "GET", "save"))
	assert.Equal(t, "protected-mode\nyes", cli(t, port, true, "", "CONFIG", "GET", "protected-mode"))
	for _, c := range DisabledCommands {
		assert.Contains(t, cli(t, port, true, "", c), "unknown command", c)
	}

	// The container's health check command, pointed at this port and at
	// the test's secret files.
	health := ServerSpec(Args{}).Health.Test[1]
	health = strings.Replace(health, "redis-cli -h 127.0.0.1", fmt.Sprintf("redis-cli -h 127.0.0.1 -p %d", port), 1)
	health = strings.ReplaceAll(health, container.SecretsMount, secrets)
	assert.NoError(t, exec.Command("sh", "-c", health).Run(), "health check")
	require.NoError(t, os.WriteFile(filepath.Join(secrets, PasswordFile), []byte("wrong"), 0o644))
	assert.Error(t, exec.Command("sh", "-c", health).Run(), "health check fails with a wrong password")
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
	out := cli(t, port, true, proto.String(), "--pipe")
	assert.Contains(t, out, "errors: 0", "allkeys-lru evicts instead of refusing writes: %s", out)

	info := cli(t, port, true, "", "INFO", "stats")
	var evicted int
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "evicted_keys:") {
			evicted, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "evicted_keys:")))
		}
	}
	size, _ := strconv.Atoi(cli(t, port, true, "", "DBSIZE"))
	assert.Greater(t, evicted, 0)
	assert.Less(t, size, 4000)
	// Eviction may go on in the background between INFO and DBSIZE:
	// the keys left and those counted evicted never exceed what was written.
	assert.LessOrEqual(t, size+evicted, 4000)
	t.Logf("MEASURED eviction: maxmemory %dmb, 4000 writes of 4 KiB -> %d keys kept, %d evicted", maxMB, size, evicted)
}
