//go:build integration

package redis

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/testserver"
)

// fakeDocker stands in for the Docker CLI the scripts call, with local
// redis-servers as the containers: start/stop/inspect/rm by name, run (the
// restore's one-off loader, and redis-check-rdb), exec (the command runs
// here, its redis-cli reaching that "container's" port). Every argument
// list goes to $FAKE/docker.argv. $FAKE/ports maps names to ports,
// $FAKE_CONF is the rendered redis.conf standing in for the mounted one.
const fakeDocker = `#!/bin/bash
set -euo pipefail
printf '%s\n' "$*" >>"$FAKE/docker.argv"
orig=("$@")
port_of() { awk -v n="$1" '$1 == n { print $2 }' "$FAKE/ports"; }
running() { [[ -f $FAKE/$1.pid ]] && kill -0 "$(cat "$FAKE/$1.pid")" 2>/dev/null; }
start_server() {
  local name=$1 port
  shift
  port=$(port_of "$name")
  [[ -n $port ]] || { echo "no such container: $name" >&2; exit 1; }
  running "$name" && return 0
  local -a as=()
  if [[ $(id -u) == 0 ]]; then as=(runuser -u redis --); fi
  "${as[@]}" redis-server "$FAKE_CONF" --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$FAKE/$name.pid" "$@" >/dev/null
  for _ in $(seq 100); do [[ -s $FAKE/$name.pid ]] && return 0; sleep 0.1; done
  echo "$name did not start" >&2; exit 1
}
stop_server() {
  local pid
  running "$1" || return 0
  pid=$(cat "$FAKE/$1.pid")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$FAKE/$1.pid"
}
cmd=$1
shift
case $cmd in
start) start_server "$1" ;;
stop) stop_server "${@: -1}" ;;
rm) stop_server "${@: -1}" ;;
inspect)
  name=${*: -1}
  [[ -n $(port_of "$name") ]] || { echo "no such container: $name" >&2; exit 1; }
  case $2 in *Running*) running "$name" && echo true || echo false ;; *) echo "${FAKE_IMAGE:-sha256:fake-redis-image}" ;; esac ;;
exec)
  name=$1
  shift
  port=$(port_of "$name")
  [[ -n $port ]] && running "$name" || { echo "container $name is not running" >&2; exit 1; }
  FAKE_REDIS_PORT=$port exec "$@" ;;
run)
  name="" entry=""
  while [[ $1 == -* ]]; do
    case $1 in
    --name) name=$2; shift 2 ;;
    --entrypoint) entry=$2; shift 2 ;;
    --volumes-from | --user | --network | --tmpfs | -v) shift 2 ;;
    *) shift ;;
    esac
  done
  shift # the image
  case $entry in
  redis-check-rdb)
    # With FAKE_IMAGE (a real image holding redis-check-rdb), the real Docker runs the check.
    if [[ -n ${FAKE_IMAGE:-} ]]; then exec /usr/bin/docker "${orig[@]}"; fi
    exec redis-check-rdb "$@" ;;
  redis-server) shift; start_server "$name" "$@" ;; # the conf file is $FAKE_CONF
  *) echo "fake docker: cannot run $entry" >&2; exit 1 ;;
  esac ;;
*) echo "fake docker: $cmd?" >&2; exit 1 ;;
esac
`

// fakeRedisCli is redis-cli aimed at the port of the "container" docker exec runs in.
const fakeRedisCli = `#!/bin/sh
exec /usr/bin/redis-cli -h 127.0.0.1 -p "$FAKE_REDIS_PORT" "$@"
`

type backupRig struct {
	t                         *testing.T
	fake, bin, data, backups  string
	textfiles, secrets, aside string
	port                      int
	env                       []string
	backup, restore           string
}

func newBackupRig(t *testing.T, maxMemoryMB int) *backupRig {
	t.Helper()
	scripttest.Need(t, "redis-server")
	scripttest.Need(t, "redis-check-rdb")
	r := &backupRig{t: t}
	root := t.TempDir()
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		require.NoError(t, os.Mkdir(p, mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	r.fake, r.bin, r.data = mk("fake", 0o777), mk("bin", 0o755), mk("data", 0o700)
	r.textfiles, r.secrets = mk("textfile", 0o755), mk("secrets", 0o700)
	r.backups, r.aside = filepath.Join(root, "backups"), filepath.Join(root, "restore-aside")
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())

	v := Defaults(maxMemoryMB)
	v.Dir, v.ACLFile = r.data, filepath.Join(root, ACLFileName)
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	confPath := filepath.Join(root, "redis.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	users, err := RenderACL(Users(testPassword))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(v.ACLFile, []byte(users), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(r.secrets, PasswordFile), []byte(testPassword), 0o600))
	if os.Geteuid() == 0 {
		u, err := user.Lookup("redis")
		require.NoError(t, err, "the redis user (from the redis-server package) runs the server unprivileged")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(r.data, uid, gid))
		require.NoError(t, os.Chown(v.ACLFile, uid, gid))
		owner = fmt.Sprintf("%d:%d", uid, gid)
	}
	r.port = testserver.FreePort(t)
	loader := testserver.FreePort(t)
	require.NoError(t, os.WriteFile(filepath.Join(r.fake, "ports"),
		[]byte(fmt.Sprintf("%s %d\n%s-restore %d\n", ContainerName, r.port, ContainerName, loader)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "docker"), []byte(fakeDocker), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "redis-cli"), []byte(fakeRedisCli), 0o755))
	t.Cleanup(func() {
		for _, n := range []string{ContainerName, ContainerName + "-restore"} {
			if b, err := os.ReadFile(filepath.Join(r.fake, n+".pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
			}
		}
	})

	sv := Scripts("/srv/aurigraph/redis")
	r.backup, err = RenderBackup(sv)
	require.NoError(t, err)
	r.restore, err = RenderRestore(sv)
	require.NoError(t, err)
	r.env = append(os.Environ(), "PATH="+r.bin+":"+os.Getenv("PATH"), "FAKE="+r.fake, "FAKE_CONF="+confPath,
		"DATA_DIR="+r.data, "BACKUP_DIR="+r.backups, "ASIDE_DIR="+r.aside, "TEXTFILE_DIR="+r.textfiles,
		"PASSWORD_FILE="+filepath.Join(r.secrets, PasswordFile), "OWNER="+owner, "WAIT_SECONDS=60")
	return r
}

// docker runs the fake docker as the scripts do.
func (r *backupRig) docker(args ...string) string {
	r.t.Helper()
	cmd := exec.Command(filepath.Join(r.bin, "docker"), args...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "docker %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// run runs a rendered script with extra environment; it returns stderr and the error.
func (r *backupRig) run(script string, env []string, args ...string) (string, error) {
	r.t.Helper()
	cmd := exec.Command("bash", append([]string{"-c", script, "script"}, args...)...)
	cmd.Env = append(append([]string(nil), r.env...), env...)
	out, err := cmd.CombinedOutput()
	r.t.Logf("script output:\n%s", out)
	return string(out), err
}

func (r *backupRig) cli(args ...string) string { return cli(r.t, r.port, AdminUser, "", args...) }

// writer SETs aurigraph:k:0, 1, 2, ... one at a time on its own connection
// and publishes the last index the server acknowledged.
type writer struct {
	acked atomic.Int64
	stop  chan struct{}
	done  chan error
}

func startWriter(t *testing.T, port int) *writer {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	w := &writer{stop: make(chan struct{}), done: make(chan error, 1)}
	w.acked.Store(-1)
	rd := bufio.NewReader(conn)
	send := func(args ...string) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			return "", err
		}
		line, err := rd.ReadString('\n')
		return strings.TrimSpace(line), err
	}
	reply, err := send("AUTH", AdminUser, testPassword)
	require.NoError(t, err)
	require.Equal(t, "+OK", reply)
	go func() {
		defer conn.Close()
		for i := int64(0); ; i++ {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			reply, err := send("SET", fmt.Sprintf("aurigraph:k:%d", i), strconv.FormatInt(i, 10))
			if err != nil || reply != "+OK" {
				w.done <- fmt.Errorf("SET %d: %q %v", i, reply, err)
				return
			}
			w.acked.Store(i)
		}
	}()
	return w
}

func (w *writer) waitFor(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return w.acked.Load() >= n }, 60*time.Second, 10*time.Millisecond)
}

func (w *writer) halt(t *testing.T) int64 {
	t.Helper()
	close(w.stop)
	require.NoError(t, <-w.done)
	return w.acked.Load()
}

func TestIntegrationRedisBackupAndRestore(t *testing.T) {
	r := newBackupRig(t, 64)
	r.docker("start", ContainerName)
	require.Equal(t, "PONG", r.cli("PING"))

	// Older snapshots and a file that is not one: rotation keeps the
	// newest KEEP snapshots and leaves anything else.
	require.NoError(t, os.MkdirAll(r.backups, 0o700))
	for _, n := range []string{"redis-20200101T010000Z.rdb", "redis-20200101T020000Z.rdb", "redis-20200101T030000Z.rdb", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(r.backups, n), []byte("old"), 0o600))
	}

	w := startWriter(t, r.port)
	w.waitFor(t, 2000)
	before := w.acked.Load()
	start := time.Now()
	// CHECK_RDB's default: redis-check-rdb in the container's image (here
	// the fake runs this machine's).
	_, err := r.run(r.backup, []string{"KEEP=2"})
	backupTook := time.Since(start)
	after := w.acked.Load()
	require.NoError(t, err, "backup.sh")
	w.waitFor(t, after+2000)
	final := w.halt(t)

	snaps, err := filepath.Glob(filepath.Join(r.backups, "redis-2*.rdb"))
	require.NoError(t, err)
	require.Len(t, snaps, 2, "the new snapshot and the newest old one: %v", snaps)
	assert.Equal(t, "redis-20200101T030000Z.rdb", filepath.Base(snaps[0]))
	snap := snaps[1]
	assert.FileExists(t, filepath.Join(r.backups, "notes.txt"), "rotation touches only snapshots")
	partials, _ := filepath.Glob(filepath.Join(r.backups, "*.partial"))
	assert.Empty(t, partials)
	fi, err := os.Stat(snap)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(r.backups)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
	out, err := exec.Command("redis-check-rdb", snap).CombinedOutput()
	require.NoError(t, err, "%s", out)

	metrics := readMetrics(t, r.textfiles)
	assert.Equal(t, "1", metrics["aurigraph_backup_last_run_success"])
	assert.Equal(t, "7200", metrics["aurigraph_backup_max_age_seconds"])
	lastSuccess := metrics["aurigraph_backup_last_success_timestamp_seconds"]
	assert.NotEqual(t, "0", lastSuccess)

	// Without RESTORE_CONFIRM nothing happens: the server keeps its data.
	out2, err := r.run(r.restore, nil)
	require.Error(t, err)
	assert.Contains(t, out2, "RESTORE_CONFIRM=yes")
	assert.Equal(t, strconv.FormatInt(final+1, 10), r.cli("DBSIZE"), "a refused restore leaves the data")

	start = time.Now()
	_, err = r.run(r.restore, []string{"RESTORE_CONFIRM=yes"}) // the newest snapshot by default
	restoreTook := time.Since(start)
	require.NoError(t, err, "restore.sh")
	assert.Equal(t, "true", r.docker("inspect", "-f", "{{.State.Running}}", ContainerName), "the container runs again")

	// Every key acknowledged before backup.sh began is back; the restored
	// keys are a prefix of the writes (one point in time); nothing written
	// after the backup ended is there.
	n, err := strconv.ParseInt(r.cli("DBSIZE"), 10, 64)
	require.NoError(t, err)
	checkPrefix := func(n int64) {
		t.Helper()
		assert.GreaterOrEqual(t, n-1, before, "every key written before the BGSAVE")
		assert.LessOrEqual(t, n-1, after, "no key written after the backup")
		keys := []string{"EXISTS"}
		for i := int64(0); i < n; i++ {
			keys = append(keys, fmt.Sprintf("aurigraph:k:%d", i))
		}
		assert.Equal(t, strconv.FormatInt(n, 10), r.cli(keys...), "keys 0..%d all there", n-1)
		assert.Equal(t, strconv.FormatInt(n-1, 10), r.cli("GET", fmt.Sprintf("aurigraph:k:%d", n-1)))
	}
	checkPrefix(n)
	assert.Equal(t, "0", r.cli("EXISTS", fmt.Sprintf("aurigraph:k:%d", final)))
	assert.Contains(t, r.cli("INFO", "persistence"), "aof_enabled:1")
	manifests, _ := filepath.Glob(filepath.Join(r.data, "appendonlydir", "*.manifest"))
	assert.Len(t, manifests, 1, "a fresh multi-part AOF")

	// The data that was live is aside, whole.
	asides, _ := filepath.Glob(filepath.Join(r.aside, "*"))
	require.Len(t, asides, 1)
	assert.FileExists(t, filepath.Join(asides[0], "dump.rdb"))
	assert.DirExists(t, filepath.Join(asides[0], "appendonlydir"))

	// A second restart, with dump.rdb gone, loads the new AOF: the data
	// lives in it, not only in the RDB the restore placed.
	r.docker("stop", ContainerName)
	require.NoError(t, os.Rename(filepath.Join(r.data, "dump.rdb"), filepath.Join(r.fake, "dump.rdb.moved")))
	r.docker("start", ContainerName)
	require.Eventually(t, func() bool { return strings.Contains(r.cli("INFO", "persistence"), "loading:0") }, 30*time.Second, 100*time.Millisecond)
	assert.Equal(t, strconv.FormatInt(n, 10), r.cli("DBSIZE"), "the AOF holds the restored data")
	checkPrefix(n)

	// A failed run records a failure and keeps the last success.
	_, err = r.run(r.backup, []string{"CONTAINER=nosuch"})
	require.Error(t, err)
	metrics = readMetrics(t, r.textfiles)
	assert.Equal(t, "0", metrics["aurigraph_backup_last_run_success"])
	assert.Equal(t, lastSuccess, metrics["aurigraph_backup_last_success_timestamp_seconds"])

	// The password went through no command line.
	argv, err := os.ReadFile(filepath.Join(r.fake, "docker.argv"))
	require.NoError(t, err)
	assert.NotContains(t, string(argv), testPassword)
	assert.Contains(t, string(argv), "exec redis sh -c", "redis-cli ran in the container")

	if !t.Failed() {
		size := fi.Size()
		t.Logf("MEASURED redis snapshot: %d keys in the RDB (%d bytes), %d written before backup.sh, %d by its end; backup.sh %.2f s, restore.sh %.2f s (loader + AOF rewrite + restart)",
			n, size, before+1, after+1, backupTook.Seconds(), restoreTook.Seconds())
	}
}

// readMetrics reads the snapshot job's metrics file: metric name -> value,
// checking the labels.
func readMetrics(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "aurigraph-backup-redis-snapshot.prom"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, rest, ok := strings.Cut(l, "{")
		require.True(t, ok, l)
		labels, value, ok := strings.Cut(rest, "} ")
		require.True(t, ok, l)
		assert.Equal(t, `store="redis",kind="snapshot"`, labels)
		out[name] = value
	}
	return out
}

func TestIntegrationRedisScriptsShellcheck(t *testing.T) {
	sv := Scripts("/srv/aurigraph/redis")
	for name, render := range map[string]func(ScriptValues) (string, error){"backup.sh": RenderBackup, "restore.sh": RenderRestore} {
		s, err := render(sv)
		require.NoError(t, err)
		scripttest.Shellcheck(t, "bash", name, s)
	}
}

// A larger dataset for the runbook's figures, with the check of the
// default CHECK_RDB=image path: the real Docker runs redis-check-rdb from
// an image (this machine's binary), on the snapshot mounted read-only; a
// corrupt snapshot is refused before anything is stopped.
func TestIntegrationRedisBackupFigures(t *testing.T) {
	image := scripttest.Import(t, scripttest.Image{Name: "aurigraph-test/redis-check-rdb", Binary: scripttest.Need(t, "redis-check-rdb"),
		At: "/usr/local/bin/redis-check-rdb", Path: "/usr/local/bin"})
	const keys = 500000
	r := newBackupRig(t, 1024)
	r.env = append(r.env, "FAKE_IMAGE="+image)
	r.docker("start", ContainerName)
	var proto strings.Builder
	val := strings.Repeat("v", 100)
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("aurigraph:f:%d", i)
		fmt.Fprintf(&proto, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
	}
	out := cli(t, r.port, AdminUser, proto.String(), "--pipe")
	require.Contains(t, out, "errors: 0", out)
	require.Equal(t, strconv.Itoa(keys), r.cli("DBSIZE"))

	start := time.Now()
	_, err := r.run(r.backup, nil)
	backupTook := time.Since(start)
	require.NoError(t, err)
	snaps, _ := filepath.Glob(filepath.Join(r.backups, "redis-*.rdb"))
	require.Len(t, snaps, 1)
	fi, err := os.Stat(snaps[0])
	require.NoError(t, err)
	argv, _ := os.ReadFile(filepath.Join(r.fake, "docker.argv"))
	assert.Contains(t, string(argv), "run --rm --network none --entrypoint redis-check-rdb -v "+r.backups+":"+r.backups+":ro "+image)

	// A damaged snapshot: refused, the server untouched.
	bad := filepath.Join(r.backups, "redis-20991231T000000Z.rdb")
	b, err := os.ReadFile(snaps[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(bad, b, 0o600))
	out, err = r.run(r.restore, []string{"RESTORE_CONFIRM=yes"}) // the newest: the damaged one
	require.Error(t, err)
	assert.Contains(t, out, "rejects")
	assert.NotContains(t, out, "stopping")
	assert.Equal(t, "true", r.docker("inspect", "-f", "{{.State.Running}}", ContainerName))
	assert.Equal(t, strconv.Itoa(keys), r.cli("DBSIZE"))
	require.NoError(t, os.Remove(bad))

	r.cli("SET", "aurigraph:after", "x")
	start = time.Now()
	_, err = r.run(r.restore, []string{"RESTORE_CONFIRM=yes"}, snaps[0])
	restoreTook := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(keys), r.cli("DBSIZE"))
	assert.Equal(t, "0", r.cli("EXISTS", "aurigraph:after"))
	if !t.Failed() {
		t.Logf("MEASURED redis %d keys of 100 B: snapshot %d bytes; backup.sh (BGSAVE, copy, redis-check-rdb in a container) %.2f s; restore.sh (check, stop, load with AOF off, AOF rewrite, restart) %.2f s",
			keys, fi.Size(), backupTook.Seconds(), restoreTook.Seconds())
	}
}
