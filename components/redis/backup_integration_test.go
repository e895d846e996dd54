//go:build integration

package redis

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

// restartableRedis is a redis-server on the rendered redis.conf (appendonly
// on, as in the container) that the rendered restore.sh stops and starts
// itself through the STOP, START and RUNNING command lines.
type restartableRedis struct {
	dir, data string
	port      int
	env       []string
}

func newRestartableRedis(t *testing.T) *restartableRedis {
	t.Helper()
	require.Equal(t, 0, os.Geteuid(), "restore.sh sets the data files' owner: run as root")
	scripttest.Need(t, "redis-server")
	scripttest.Need(t, "redis-check-rdb")
	u, err := user.Lookup("redis")
	require.NoError(t, err, "the redis user (from the redis-server package) runs the server unprivileged")
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	r := &restartableRedis{dir: dir, data: filepath.Join(dir, "data"), port: freePort(t)}
	v := Defaults(64)
	v.Dir, v.ACLFile, v.Bind, v.Port = r.data, filepath.Join(dir, ACLFileName), "127.0.0.1", r.port
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o644))
	users, err := RenderACL(Users(testPassword))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(v.ACLFile, []byte(users), 0o600))
	require.NoError(t, os.Mkdir(r.data, 0o700))
	run := filepath.Join(dir, "run") // the server's pid and log
	require.NoError(t, os.Mkdir(run, 0o755))
	for _, p := range []string{r.data, v.ACLFile, run} {
		require.NoError(t, exec.Command("chown", u.Uid+":"+u.Gid, p).Run())
	}
	pid := filepath.Join(run, "redis.pid")
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	scripts := map[string]string{
		"start": fmt.Sprintf("#!/bin/sh\nexec runuser -u redis -- redis-server %s/redis.conf --daemonize yes --pidfile %s --logfile %s/redis.log\n", dir, pid, run),
		"stop": fmt.Sprintf("#!/bin/sh\n[ -e %[1]s ] || exit 0\np=$(cat %[1]s)\nkill \"$p\"\nwhile kill -0 \"$p\" 2>/dev/null; do sleep 0.1; done\n", pid),
		"running": fmt.Sprintf("#!/bin/sh\nif [ -e %[1]s ] && kill -0 \"$(cat %[1]s)\" 2>/dev/null; then echo true; else echo false; fi\n", pid),
	}
	for name, body := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
	}
	r.env = []string{
		"REDIS_CLI=redis-cli --no-auth-warning -h 127.0.0.1 -p " + strconv.Itoa(r.port) + " --user " + AdminUser,
		"REDISCLI_AUTH=" + testPassword,
		"DATA_DIR=" + r.data, "BACKUP_DIR=" + filepath.Join(dir, "backups"), "TEXTFILE_DIR=" + filepath.Join(dir, "textfiles"),
		"OWNER=" + u.Uid + ":" + u.Gid, "WAIT_SECONDS=30",
		"START=" + filepath.Join(bin, "start"), "STOP=" + filepath.Join(bin, "stop"), "RUNNING=" + filepath.Join(bin, "running"),
	}
	r.run(t, filepath.Join(bin, "start"))
	t.Cleanup(func() { _ = exec.Command(filepath.Join(bin, "stop")).Run() })
	require.Eventually(t, func() bool { return r.cli(t, "PING") == "PONG" }, 20*time.Second, 100*time.Millisecond)
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])").Output()
	require.NoError(t, err)
	p, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	return p
}

func (r *restartableRedis) cli(t *testing.T, args ...string) string { return cli(t, r.port, AdminUser, "", args...) }

func (r *restartableRedis) run(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s %v:\n%s", filepath.Base(script), args, out)
	return string(out), err
}

// TestIntegrationRedisSnapshotAndRestore runs the rendered backup.sh and
// restore.sh against a real redis-server 7 with the rendered redis.conf
// (appendonly on) and ACL file, while a client keeps writing.
func TestIntegrationRedisSnapshotAndRestore(t *testing.T) {
	r := newRestartableRedis(t)
	v := Backups(r.dir)
	scripts := map[string]string{}
	for name, render := range map[string]func(BackupValues) (string, error){"backup.sh": RenderBackup, "restore.sh": RenderRestore} {
		content, err := render(v)
		require.NoError(t, err)
		scripttest.Shellcheck(t, "bash", name, content)
		p := filepath.Join(r.dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
		scripts[name] = p
	}

	// 2,000 keys before the snapshot, one of them with a time to live.
	var load strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&load, "SET before:%d v%d\n", i, i)
	}
	load.WriteString("SET ttl:1 v EX 3600\n")
	cli(t, r.port, AdminUser, load.String())
	require.Equal(t, "2001", r.cli(t, "DBSIZE"))

	// A client keeps writing during the snapshot.
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if r.cli(t, "SET", fmt.Sprintf("during:%d", i), "v") == "OK" {
				written.Add(1)
			}
		}
	}()
	started := time.Now()
	out, err := r.run(t, scripts["backup.sh"])
	took := time.Since(started)
	close(stop)
	wg.Wait()
	require.NoError(t, err, out)
	assert.Contains(t, out, "snapshot ok")
	snaps, _ := filepath.Glob(filepath.Join(r.dir, "backups", "redis-*.rdb"))
	require.Len(t, snaps, 1)
	info, err := os.Stat(snaps[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	metrics, err := os.ReadFile(filepath.Join(r.dir, "textfiles", "aurigraph-backup-redis-snapshot.prom"))
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `aurigraph_backup_last_run_success{store="redis",kind="snapshot"} 1`)
	t.Logf("MEASURED redis snapshot: %s, %d bytes, with %d writes during the run", took.Round(time.Millisecond), info.Size(), written.Load())

	// Written after the snapshot: not in it.
	require.Equal(t, "OK", r.cli(t, "SET", "after:1", "v"))

	// Restoring over a running Redis needs the confirmation.
	out, err = r.run(t, scripts["restore.sh"])
	require.Error(t, err)
	assert.Contains(t, out, "RESTORE_CONFIRM=yes")
	assert.Equal(t, "v", r.cli(t, "GET", "after:1"), "a refused restore touches nothing")

	r.env = append(r.env, "RESTORE_CONFIRM=yes")
	started = time.Now()
	out, err = r.run(t, scripts["restore.sh"])
	require.NoError(t, err, out)
	t.Logf("MEASURED redis restore (stop, lay out, start, verify): %s", time.Since(started).Round(time.Millisecond))
	assertRestored := func(when string) {
		t.Helper()
		var gets, want strings.Builder
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(&gets, "GET before:%d\n", i)
			fmt.Fprintf(&want, "v%d\n", i)
		}
		got := cli(t, r.port, AdminUser, gets.String())
		assert.Equal(t, strings.TrimSpace(want.String()), got, "%s: every key written before the snapshot is back", when)
		assert.Equal(t, "v", r.cli(t, "GET", "ttl:1"), when)
		assert.Empty(t, r.cli(t, "GET", "after:1"), "%s: nothing written after the snapshot", when)
	}
	assertRestored("after the restore")
	asides, _ := filepath.Glob(r.data + ".before-restore-*")
	require.Len(t, asides, 1, "the previous data is kept aside")
	_, err = os.Stat(filepath.Join(asides[0], "appendonlydir"))
	assert.NoError(t, err, "with its append-only file")

	// The snapshot became the append-only file's base: a restart (which
	// loads the AOF, not dump.rdb) keeps it, and new writes persist.
	require.Equal(t, "OK", r.cli(t, "SET", "after-restore:1", "v"))
	bin := filepath.Join(r.dir, "bin")
	_, err = r.run(t, filepath.Join(bin, "stop"))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(r.data, "dump.rdb")), "only the AOF can bring the data back now")
	_, err = r.run(t, filepath.Join(bin, "start"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.cli(t, "PING") == "PONG" }, 20*time.Second, 100*time.Millisecond)
	assertRestored("after a restart")
	assert.Equal(t, "v", r.cli(t, "GET", "after-restore:1"), "a write after the restore survives a restart")

	// A snapshot run that cannot reach Redis fails and says so.
	failing := append([]string{}, r.env...)
	failing[0] = "REDIS_CLI=redis-cli --no-auth-warning -h 127.0.0.1 -p 1 --user " + AdminUser
	cmd := exec.Command("bash", scripts["backup.sh"])
	cmd.Env = append(os.Environ(), failing...)
	fout, err := cmd.CombinedOutput()
	assert.Error(t, err, "%s", fout)
	metrics, err = os.ReadFile(filepath.Join(r.dir, "textfiles", "aurigraph-backup-redis-snapshot.prom"))
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `aurigraph_backup_last_run_success{store="redis",kind="snapshot"} 0`)
}

// TestIntegrationRedisSnapshotRotation keeps the newest KeepSnapshots.
func TestIntegrationRedisSnapshotRotation(t *testing.T) {
	dir := t.TempDir()
	v := Backups("/srv/aurigraph/redis")
	script, err := RenderBackup(v)
	require.NoError(t, err)
	p := filepath.Join(dir, "backup.sh")
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	backups := filepath.Join(dir, "backups")
	require.NoError(t, os.Mkdir(backups, 0o700))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var names []string
	for i := 0; i < KeepSnapshots+13; i++ {
		n := "redis-" + start.Add(time.Duration(i)*time.Hour).Format("20060102T150405Z") + ".rdb"
		names = append(names, n)
		require.NoError(t, os.WriteFile(filepath.Join(backups, n), []byte("x"), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(backups, "unrelated.txt"), []byte("x"), 0o600))
	cmd := exec.Command("bash", p, "rotate")
	cmd.Env = append(os.Environ(), "BACKUP_DIR="+backups)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	left, _ := filepath.Glob(filepath.Join(backups, "redis-*.rdb"))
	var got []string
	for _, l := range left {
		got = append(got, filepath.Base(l))
	}
	assert.Equal(t, names[13:], got, "the newest %d stay", KeepSnapshots)
	_, err = os.Stat(filepath.Join(backups, "unrelated.txt"))
	assert.NoError(t, err, "rotation touches only snapshots")
}
