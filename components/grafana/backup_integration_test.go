//go:build integration

package grafana

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

// fakeDocker answers inspect from $DOCKER_STATE (an empty line and an
// error without it, as docker does for an unknown container) and moves it on stop and
// start, recording each call in $DOCKER_LOG.
const fakeDocker = `#!/bin/bash
echo "$*" >> "$DOCKER_LOG"
case $1 in
inspect) [[ -e $DOCKER_STATE ]] || { echo; exit 1; }; cat "$DOCKER_STATE" ;;
start) echo running > "$DOCKER_STATE" ;;
stop) echo exited > "$DOCKER_STATE" ;;
*) exit 2 ;;
esac
`

type rig struct {
	t                           *testing.T
	bin, db, backups, state     string
	dockerLog, textfiles        string
	backupScript, restoreScript string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	scripttest.Need(t, "sqlite3")
	dir := t.TempDir()
	r := &rig{t: t, bin: filepath.Join(dir, "bin"), db: filepath.Join(dir, "data", DatabaseFile),
		backups: filepath.Join(dir, "backups"), state: filepath.Join(dir, "state"),
		dockerLog: filepath.Join(dir, "docker.log"), textfiles: filepath.Join(dir, "textfiles")}
	require.NoError(t, os.MkdirAll(r.bin, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Dir(r.db), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(r.bin, "docker"), []byte(fakeDocker), 0o755))
	require.NoError(t, os.WriteFile(r.state, []byte("running\n"), 0o644))
	v := Backup("/srv/aurigraph/grafana")
	var err error
	r.backupScript, err = RenderBackup(v)
	require.NoError(t, err)
	r.restoreScript, err = RenderRestore(v)
	require.NoError(t, err)
	return r
}

func (r *rig) env(extra ...string) []string {
	return append(append(os.Environ(), "PATH="+r.bin+":"+os.Getenv("PATH"), "DB="+r.db, "BACKUP_DIR="+r.backups,
		"DOCKER_STATE="+r.state, "DOCKER_LOG="+r.dockerLog, "TEXTFILE_DIR="+r.textfiles), extra...)
}

func (r *rig) run(script string, env []string, args ...string) (string, error) {
	r.t.Helper()
	// A copy that never ends (the backup API restarting under the writer)
	// fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", script, "script"}, args...)...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.t.Logf("%s", out.String())
	return out.String(), err
}

func sqlite(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", "-bail", db, ".timeout 30000", sql).CombinedOutput()
	require.NoError(t, err, "%s: %s", sql, out)
	return strings.TrimSpace(string(out))
}

func sqliteInt(t *testing.T, db, sql string) int {
	t.Helper()
	n, err := strconv.Atoi(sqlite(t, db, sql))
	require.NoError(t, err)
	return n
}

func (r *rig) copies() []string {
	m, err := filepath.Glob(filepath.Join(r.backups, "grafana-*.db"))
	require.NoError(r.t, err)
	return m
}

func (r *rig) dockerCalls() []string {
	b, err := os.ReadFile(r.dockerLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(r.t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (r *rig) metric(name string) string {
	b, err := os.ReadFile(filepath.Join(r.textfiles, "aurigraph-backup-grafana-snapshot.prom"))
	require.NoError(r.t, err)
	m := regexp.MustCompile(`(?m)^` + name + `\{store="grafana",kind="snapshot"\} (\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(r.t, m, "%s in %s", name, b)
	return m[1]
}

// writer commits one row after another into db until stop is closed, as
// its own sqlite3 process (Grafana stands apart from the copy the same way).
func writer(t *testing.T, db string) (stop func() int64) {
	t.Helper()
	cmd := exec.Command("sqlite3", "-bail", db)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		w := bufio.NewWriter(in)
		fmt.Fprintln(w, ".timeout 30000")
		for {
			select {
			case <-done:
				w.Flush()
				in.Close()
				return
			default:
			}
			fmt.Fprintln(w, "INSERT INTO dashboard_version(data) VALUES (hex(randomblob(100)));")
			w.Flush()
			sent.Add(1)
		}
	}()
	return func() int64 {
		close(done)
		require.NoError(t, cmd.Wait(), "writer: %s", out.String())
		return sent.Load()
	}
}

func sum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

func TestIntegrationGrafanaScriptsPassShellcheck(t *testing.T) {
	r := newRig(t)
	scripttest.Shellcheck(t, "bash", "backup.sh", r.backupScript)
	scripttest.Shellcheck(t, "bash", "restore.sh", r.restoreScript)
}

// A copy taken while another process commits continuously is sound and
// holds every row committed before it started; it is restored in place of
// the live database, which is kept aside.
func TestIntegrationGrafanaCopyUnderWritesAndRestore(t *testing.T) {
	r := newRig(t)
	// About 20 MB: the backup API copies it in many steps, each of which a
	// commit from the writer would restart without the read transaction.
	sqlite(t, r.db, `CREATE TABLE dashboard_version(id INTEGER PRIMARY KEY, data TEXT);
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
		INSERT INTO dashboard_version(data) SELECT hex(randomblob(100)) FROM c;`)
	stop := writer(t, r.db)
	require.Eventually(t, func() bool {
		return sqliteInt(t, r.db, "SELECT max(id) FROM dashboard_version;") > 100100
	}, 20*time.Second, 50*time.Millisecond, "the writer commits")
	committed := sqliteInt(t, r.db, "SELECT max(id) FROM dashboard_version;")

	start := time.Now()
	out, err := r.run(r.backupScript, r.env())
	took := time.Since(start)
	require.NoError(t, err)
	later := sqliteInt(t, r.db, "SELECT max(id) FROM dashboard_version;")
	sent := stop()
	t.Logf("copy under writes: %v (%d rows committed before it, %d by the end of it, %d inserts sent)", took, committed, later, sent)
	assert.Greater(t, later, committed, "the writer kept committing through the copy")
	assert.Less(t, took, 30*time.Second, "the copy ends while the writer goes on")

	copies := r.copies()
	require.Len(t, copies, 1)
	cp := copies[0]
	assert.Regexp(t, `/grafana-\d{8}T\d{6}Z\.db$`, cp)
	assert.Equal(t, "ok", sqlite(t, cp, "PRAGMA integrity_check;"))
	assert.Equal(t, committed, sqliteInt(t, cp, fmt.Sprintf("SELECT count(*) FROM dashboard_version WHERE id <= %d;", committed)),
		"every row committed before the copy started is in it")
	info, err := os.Stat(cp)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
	info, err = os.Stat(r.backups)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm())
	partial, _ := filepath.Glob(filepath.Join(r.backups, "*.partial*"))
	assert.Empty(t, partial)
	assert.Contains(t, out, "copy ok")
	assert.Equal(t, "1", r.metric("aurigraph_backup_last_run_success"))
	assert.Equal(t, "7200", r.metric("aurigraph_backup_max_age_seconds"))

	// Grafana goes on after the copy; the restore takes it back.
	sqlite(t, r.db, "DELETE FROM dashboard_version WHERE id < 50000;")
	live := sum(t, r.db)

	_, err = r.run(r.restoreScript, r.env())
	require.Error(t, err, "Grafana runs: no restore without RESTORE_CONFIRM=yes")
	assert.Equal(t, live, sum(t, r.db), "the refused restore touched nothing")
	assert.Empty(t, r.dockerCalls()[1:], "only inspected")

	_, err = r.run(r.restoreScript, r.env("RESTORE_CONFIRM=yes"))
	require.NoError(t, err)
	calls := r.dockerCalls()
	assert.Equal(t, []string{"stop grafana", "start grafana"}, calls[len(calls)-2:])
	assert.Equal(t, sum(t, cp), sum(t, r.db), "the database is the copy, byte for byte")
	assert.Equal(t, committed, sqliteInt(t, r.db, fmt.Sprintf("SELECT count(*) FROM dashboard_version WHERE id <= %d;", committed)))
	info, err = os.Stat(r.db)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), info.Mode().Perm())
	st := info.Sys().(*syscall.Stat_t)
	assert.Equal(t, [2]uint32{UID, GID}, [2]uint32{st.Uid, st.Gid}, "owned by the image's grafana user")
	aside, _ := filepath.Glob(filepath.Join(r.backups, "before-restore-*", DatabaseFile))
	require.Len(t, aside, 1, "the replaced database is kept aside")
	assert.Equal(t, live, sum(t, aside[0]))
	staged, _ := filepath.Glob(r.db + ".restoring-*")
	assert.Empty(t, staged)
}

func TestIntegrationGrafanaRestoreRefusesAnUnsoundCopy(t *testing.T) {
	r := newRig(t)
	sqlite(t, r.db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	live := sum(t, r.db)
	require.NoError(t, os.MkdirAll(r.backups, 0o700))
	bad := filepath.Join(r.backups, "grafana-20990101T000000Z.db")
	require.NoError(t, os.WriteFile(bad, []byte("SQLite format 3\x00 but not really"), 0o600))
	out, err := r.run(r.restoreScript, r.env("RESTORE_CONFIRM=yes"))
	require.Error(t, err)
	assert.Contains(t, out, "not a sound database")
	assert.Equal(t, live, sum(t, r.db))
	assert.NotContains(t, r.dockerCalls(), "stop grafana")
}

func TestIntegrationGrafanaFailedCopyIsRecordedAndLeavesNothing(t *testing.T) {
	r := newRig(t)
	// No database: the run fails, and says so in the metrics.
	_, err := r.run(r.backupScript, r.env())
	require.Error(t, err)
	assert.Equal(t, "0", r.metric("aurigraph_backup_last_run_success"))
	assert.Empty(t, r.copies())
}

func TestIntegrationGrafanaCopiesRotate(t *testing.T) {
	r := newRig(t)
	sqlite(t, r.db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	require.NoError(t, os.MkdirAll(r.backups, 0o700))
	for _, ts := range []string{"20240101T000000Z", "20240101T010000Z", "20240101T020000Z"} {
		require.NoError(t, os.WriteFile(filepath.Join(r.backups, "grafana-"+ts+".db"), []byte("old"), 0o600))
	}
	_, err := r.run(r.backupScript, r.env("KEEP=2"))
	require.NoError(t, err)
	copies := r.copies()
	require.Len(t, copies, 2)
	assert.Equal(t, "grafana-20240101T020000Z.db", filepath.Base(copies[0]))
	assert.NotContains(t, filepath.Base(copies[1]), "2024", "the new copy is the newest")
}

// Without a container (a host being rebuilt), the restore needs no
// confirmation and starts nothing.
func TestIntegrationGrafanaRestoreWithoutAContainer(t *testing.T) {
	r := newRig(t)
	require.NoError(t, os.Remove(r.state))
	sqlite(t, r.db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	_, err := r.run(r.backupScript, r.env())
	require.NoError(t, err)
	sqlite(t, r.db, "INSERT INTO t VALUES (2);")
	_, err = r.run(r.restoreScript, r.env())
	require.NoError(t, err)
	assert.Equal(t, "1", sqlite(t, r.db, "SELECT group_concat(x) FROM t;"))
	for _, c := range r.dockerCalls() {
		assert.True(t, strings.HasPrefix(c, "inspect "), "only inspected: %s", c)
	}
}

// A copy that does not get its lock in time (a writer starving it) is
// retried; the run fails only when every attempt does.
func TestIntegrationGrafanaCopyRetriedWhenLocked(t *testing.T) {
	r := newRig(t)
	sqlite(t, r.db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	// sqlite3 that answers "database is locked" to the first .backup.
	counter := filepath.Join(r.bin, "backups-tried")
	wrapper := filepath.Join(r.bin, "sqlite3-locked-once")
	require.NoError(t, os.WriteFile(wrapper, []byte(`#!/bin/bash
case "$*" in *.backup*)
  if [[ ! -e `+counter+` ]]; then touch `+counter+`; echo "Error: database is locked" >&2; exit 1; fi ;;
esac
exec sqlite3 "$@"
`), 0o755))
	out, err := r.run(r.backupScript, r.env("SQLITE3="+wrapper, "RETRY_SECONDS=0"))
	require.NoError(t, err)
	assert.Contains(t, out, "(attempt 1 of 3): retrying")
	assert.Len(t, r.copies(), 1)
	partial, _ := filepath.Glob(filepath.Join(r.backups, "*.partial*"))
	assert.Empty(t, partial)

	require.NoError(t, os.Remove(counter))
	_, err = r.run(r.backupScript, r.env("SQLITE3="+wrapper, "RETRY_SECONDS=0", "ATTEMPTS=1"))
	require.Error(t, err)
	assert.Equal(t, "0", r.metric("aurigraph_backup_last_run_success"))
}
