//go:build integration

package postgres

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/offsite"
	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/internal/testserver"
)

// serverOwner is the user:group the test's PostgreSQL runs as and the
// directories it writes are chowned to: postgres when the test runs as root.
func serverOwner(t *testing.T) (uid, gid int, spec string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Getuid(), os.Getgid(), fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	u, err := user.Lookup("postgres")
	require.NoError(t, err, "the postgres user (from the postgresql package) is needed to run the server unprivileged")
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, u.Uid + ":" + u.Gid
}

// serverDir is a new directory the server's user owns, reachable by it.
func serverDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	uid, gid, _ := serverOwner(t)
	require.NoError(t, os.Chown(dir, uid, gid))
	return dir
}

// writer inserts one row at a time, each its own transaction, until stopped;
// holding mu pauses it between two commits.
type writer struct {
	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	rows    int
	lastErr error
}

func startWriter(s *server) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			w.mu.Lock()
			out, err := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", s.sock,
				"-p", strconv.Itoa(s.port), "-U", User, "-d", Database,
				"-c", "INSERT INTO ledger.tx (payload) VALUES (md5(random()::text))").CombinedOutput()
			if err != nil {
				w.lastErr = fmt.Errorf("%v: %s", err, out)
			} else {
				w.rows++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writer) halt() { close(w.stop); <-w.done }

// recovered is what the proof compares: the ids of ledger.tx, and the
// dropped table's fingerprint (or "gone").
func (s *server) recovered(t *testing.T, db string) (ids, doomed string) {
	t.Helper()
	ids = s.psql(t, db, "SELECT count(*) || ':' || md5(string_agg(id::text, ',' ORDER BY id)) FROM ledger.tx")
	if s.psql(t, db, "SELECT to_regclass('ledger.doomed') IS NULL") == "t" {
		return ids, "gone"
	}
	return ids, s.psql(t, db, "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY v)) FROM ledger.doomed")
}

// restored is a server pitr.sh started on a recovered data directory.
type restored struct {
	server
	data string
}

// recoverTo runs the rendered pitr.sh to target into a fresh directory and
// returns the recovered server, stopped when the test ends, and the line
// pitr.sh logged.
func recoverTo(t *testing.T, live *server, pitr, target string, env []string) (*restored, string) {
	t.Helper()
	_, _, owner := serverOwner(t)
	parent := serverDir(t)
	r := &restored{server: server{bin: live.bin, dir: parent, sock: parent, port: testserver.FreePort(t), asUser: live.asUser},
		data: filepath.Join(parent, "data")}
	// pitr.sh hands the directory to RESTORE_START; pg_ctl starts without
	// waiting, so the duration pitr.sh reports includes the replay.
	start := filepath.Join(t.TempDir(), "start.sh")
	name, args := r.cmd("pg_ctl", "-D", `"$1"`, "-l", `"$1.log"`, "-W", "-o",
		fmt.Sprintf(`"-p %d -k %s -c listen_addresses="`, r.port, parent), "start")
	require.NoError(t, os.WriteFile(start, []byte("#!/bin/sh\nexec "+name+" "+strings.Join(args, " ")+"\n"), 0o755))
	t.Cleanup(func() {
		name, args := r.cmd("pg_ctl", "-D", r.data, "-m", "immediate", "-w", "-t", "60", "stop")
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop (recovered): %v: %s", err, out)
		}
	})
	out := mustRun(t, append(env,
		"RESTORE_START="+start,
		fmt.Sprintf("RESTORE_PSQL=%s -h %s -p %d -U %s", filepath.Join(live.bin, "psql"), parent, r.port, User),
		"RESTORE_OWNER="+owner,
		"LIVE_DATA_DIR="+filepath.Join(live.dir, "data"),
	), "bash", pitr, target, r.data)
	line := regexp.MustCompile(`pitr ok: .*`).FindString(out)
	require.NotEmpty(t, line, out)
	return r, line
}

func TestIntegrationPointInTimeRecovery(t *testing.T) {
	textfiles := t.TempDir()
	t.Setenv("TEXTFILE_DIR", textfiles)
	uid, gid, _ := serverOwner(t)
	archive := filepath.Join(serverDir(t), "archive")
	for _, d := range []string{archive, filepath.Join(archive, "wal")} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, uid, gid))
	}
	// The production settings, with the archive where this server can write
	// and a shorter archive_timeout so the test waits less for a segment.
	v := Sizing(512, 1, 50)
	v.ArchiveDir = archive
	v.ArchiveTimeoutSeconds = 5
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	s := startServer(t, conf)
	assert.Equal(t, "on", s.psql(t, "postgres", "SHOW archive_mode"))
	assert.Equal(t, "5s", s.psql(t, "postgres", "SHOW archive_timeout"))

	sv := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	write := func(name string, render func(ScriptValues) (string, error)) string {
		out, err := render(sv)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, []byte(out), 0o755))
		return p
	}
	basebackup, pitr := write("basebackup.sh", RenderBaseBackup), write("pitr.sh", RenderPITR)
	backupDir := filepath.Join(t.TempDir(), "backups")
	conn := fmt.Sprintf("-h %s -p %d -U %s", s.sock, s.port, User)
	env := append(s.env(backupDir),
		"PG_BASEBACKUP="+filepath.Join(s.bin, "pg_basebackup")+" "+conn,
		"ARCHIVE_DIR="+archive, "SERVER_ARCHIVE_DIR="+archive)

	// A database of a stated size, then rows written one transaction at a time.
	s.psql(t, Database, `CREATE SCHEMA ledger;
CREATE TABLE ledger.tx (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text NOT NULL);
INSERT INTO ledger.tx (payload) SELECT md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 400000) g;
CREATE TABLE ledger.doomed (v text);
INSERT INTO ledger.doomed SELECT 'row-' || g FROM generate_series(1, 1000) g;`)
	size := s.psql(t, Database, "SELECT pg_size_pretty(pg_database_size(current_database()))")
	w := startWriter(s)
	defer func() {
		select {
		case <-w.done:
		default:
			w.halt()
		}
	}()
	time.Sleep(time.Second)

	out := mustRun(t, env, "bash", basebackup)
	assert.Contains(t, out, "base backup ok")
	bases, _ := filepath.Glob(filepath.Join(archive, "base", "base-*.tar.gz"))
	require.Len(t, bases, 1)
	assert.Regexp(t, `^base-\d{8}T\d{6}Z\.tar\.gz$`, filepath.Base(bases[0]))
	time.Sleep(2 * time.Second)

	// T: the writer paused between two commits, so every row committed
	// before T is exactly what is visible now.
	w.mu.Lock()
	time.Sleep(50 * time.Millisecond)
	target := s.psql(t, Database, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`)
	time.Sleep(50 * time.Millisecond)
	wantIDs, wantDoomed := s.recovered(t, Database)
	rowsAtT := w.rows
	w.mu.Unlock()

	time.Sleep(2 * time.Second)
	w.halt()
	require.NoError(t, w.lastErr)
	require.Greater(t, w.rows, rowsAtT, "rows were written after T")
	require.Greater(t, rowsAtT, 0, "rows were written before T, after the base backup")
	s.psql(t, Database, "DROP TABLE ledger.doomed")
	s.psql(t, Database, "INSERT INTO ledger.tx (payload) VALUES ('PLAINTEXT-MARKER-after-the-drop')")
	afterIDs, _ := s.recovered(t, Database)
	require.NotEqual(t, wantIDs, afterIDs)

	// RPO: the last commit reaches the archive by archive_timeout, with no
	// switch forced by anyone.
	committed := time.Now()
	lastWAL := s.psql(t, Database, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	require.Eventually(t, func() bool {
		return s.psql(t, Database, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= lastWAL
	}, 30*time.Second, 200*time.Millisecond, "segment %s archived", lastWAL)
	t.Logf("MEASURED archive lag: the last commit's segment %s was archived %.1fs after the commit (archive_timeout %ds)",
		lastWAL, time.Since(committed).Seconds(), v.ArchiveTimeoutSeconds)

	// Restore to T from the local archive: every row committed before T, none after, the dropped table back.
	r, line := recoverTo(t, s, pitr, target, env)
	gotIDs, gotDoomed := r.recovered(t, Database)
	assert.Equal(t, wantIDs, gotIDs, "exactly the rows committed before T")
	assert.Equal(t, wantDoomed, gotDoomed, "the dropped table as it was at T")
	assert.Equal(t, "f", r.psql(t, Database, "SELECT pg_is_in_recovery()"), "promoted: accepts writes")
	r.psql(t, Database, "INSERT INTO ledger.tx (payload) VALUES ('written after the recovery')")
	t.Logf("MEASURED pitr (local archive, database %s, %d rows written during the test, %d before T): %s", size, w.rows, rowsAtT, line)
	hist, err := os.ReadFile(filepath.Join(backupDir, "pitr-history.log"))
	require.NoError(t, err)
	assert.Regexp(t, `target=.+ base=base-\d{8}T\d{6}Z\.tar\.gz seconds=[0-9.]+ bytes=\d+ dest=`, string(hist))

	// pitr.sh refuses the live data directory, a non-empty one and a target before every base backup.
	for _, c := range []struct{ target, dest, err string }{
		{target, filepath.Join(s.dir, "data"), "live data directory"},
		{target, r.data, "not empty"},
		{"2001-01-01 00:00:00+00", filepath.Join(t.TempDir(), "x"), "no base backup"},
		{"yesterday; rm -rf /", filepath.Join(t.TempDir(), "y"), "neither latest nor a time"},
	} {
		cmd := exec.Command("bash", pitr, c.target, c.dest)
		cmd.Env = append(append(os.Environ(), env...), "LIVE_DATA_DIR="+filepath.Join(s.dir, "data"))
		out, err := cmd.CombinedOutput()
		assert.Error(t, err, "%s %s", c.target, c.dest)
		assert.Contains(t, string(out), c.err)
	}

	// The copy off the host: encrypted on this side, into a real SFTP
	// target (a systemd host with sshd, the host key pinned).
	target2 := testhost.Start(t)
	state := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(state, "repository-password"), []byte("integration-only-repository-password\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(state, "ssh-key"), target2.ClientKey, 0o600))
	ov := offsite.Values{
		Store: Store, Paths: []string{archive, backupDir}, Tag: "aurigraph-postgres", StateDir: state,
		SFTP:       offsite.SFTP{Host: target2.Address, Port: target2.Port, User: target2.User, Path: "/home/" + target2.User + "/restic", HostKey: target2.HostKey},
		KeepHourly: 24, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12,
	}
	script, err := offsite.RenderScript(ov)
	require.NoError(t, err)
	off := filepath.Join(t.TempDir(), "offsite.sh")
	require.NoError(t, os.WriteFile(off, []byte(script), 0o755))
	started := time.Now()
	mustRun(t, nil, "bash", off, "copy")
	assert.Equal(t, 1.0, readRunMetrics(t, textfiles, "offsite-copy").run, "the copy records its outcome")
	assert.Equal(t, 1.0, readRunMetrics(t, textfiles, KindBase).run, "so does the base backup")
	t.Logf("MEASURED offsite copy: %.1fs for the archive (%s) and the dumps", time.Since(started).Seconds(), duSize(t, archive))
	marker := "PLAINTEXT-MARKER-after-the-drop"
	assert.NoError(t, exec.Command("grep", "-rqF", marker, filepath.Join(archive, "wal")).Run(), "the marker is in the local WAL in clear")
	remote := target2.Exec(t, "grep -rqF "+marker+" /home/"+target2.User+"/restic; echo $?; ls /home/"+target2.User+"/restic")
	assert.True(t, strings.HasPrefix(remote.Stdout, "1\n"), "the copy is encrypted: %s %s", remote.Stdout, remote.Stderr)
	assert.Contains(t, remote.Stdout, "snapshots")

	// Lose the local archive; restore it from the copy and recover to T again.
	require.NoError(t, os.RemoveAll(archive))
	fetched := serverDir(t)
	started = time.Now()
	mustRun(t, nil, "bash", off, "restore", fetched)
	t.Logf("MEASURED offsite restore: %.1fs to fetch the archive back over SFTP", time.Since(started).Seconds())
	copyArchive := filepath.Join(fetched, archive)
	offEnv := append(env, "ARCHIVE_DIR="+copyArchive, "SERVER_ARCHIVE_DIR="+copyArchive)
	r2, line := recoverTo(t, s, pitr, target, offEnv)
	gotIDs, gotDoomed = r2.recovered(t, Database)
	assert.Equal(t, wantIDs, gotIDs, "from the off-host copy: exactly the rows committed before T")
	assert.Equal(t, wantDoomed, gotDoomed)
	t.Logf("MEASURED pitr (off-host copy, database %s): %s", size, line)

	// latest: every archived commit, the drop included.
	r3, line := recoverTo(t, s, pitr, "latest", offEnv)
	gotIDs, gotDoomed = r3.recovered(t, Database)
	assert.Equal(t, afterIDs, gotIDs, "latest: the last commit too (RPO 0 once archived)")
	assert.Equal(t, "gone", gotDoomed)
	t.Logf("MEASURED pitr latest (off-host copy): %s", line)

	// The repository verifies.
	assert.Contains(t, mustRun(t, nil, "bash", off, "check"), "offsite check ok")
	assert.Equal(t, 1.0, readRunMetrics(t, textfiles, "offsite-check").run)
}

func duSize(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("du", "-sh", dir).Output()
	require.NoError(t, err)
	return strings.Fields(string(out))[0]
}

// TestIntegrationOffsiteRetention runs the rendered offsite.sh forget on a
// repository of snapshots with fabricated times (restic backup --time) and
// compares what restic keeps with the rotation rule the dumps follow
// (expectedKept), written independently in Go.
func TestIntegrationOffsiteRetention(t *testing.T) {
	t.Setenv("TEXTFILE_DIR", t.TempDir())
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatal("restic not found: apt-get install restic")
	}
	dir, state, repo := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wal"), []byte("segment"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(state, "repository-password"), []byte("integration-only\n"), 0o600))
	ov := offsite.Values{
		Store: Store, Paths: []string{dir}, Tag: "aurigraph-postgres", StateDir: state,
		// forget never connects: a local repository stands in for the SFTP one.
		SFTP:       offsite.SFTP{Host: "192.0.2.10", Port: 22, User: "backup", Path: "/srv/restic", HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFake"},
		KeepHourly: 24, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12,
	}
	script, err := offsite.RenderScript(ov)
	require.NoError(t, err)
	off := filepath.Join(t.TempDir(), "offsite.sh")
	require.NoError(t, os.WriteFile(off, []byte(script), 0o755))
	env := []string{"RESTIC_REPOSITORY=" + repo, "TZ=UTC"}
	restic := func(args ...string) string {
		return mustRun(t, append(env, "RESTIC_PASSWORD_FILE="+filepath.Join(state, "repository-password")), "restic", args...)
	}
	restic("init")

	// Snapshots over 15 months, each period with more than its class keeps:
	// every 20 to 100 min in the last 36 h (several an hour, several a
	// day), every 1 to 3 days in the month before (several a week), every
	// 6 to 10 days before that (several a month, months past the 12th).
	end := time.Date(2026, 3, 14, 22, 41, 9, 0, time.UTC)
	var times []time.Time
	for ts, i := end, 0; ts.After(end.AddDate(0, -15, 0)); i++ {
		times = append(times, ts)
		step := time.Duration(20+(i%5)*20) * time.Minute
		switch age := end.Sub(ts); {
		case age > 30*24*time.Hour:
			step = time.Duration(24*(6+i%5)) * time.Hour
		case age > 36*time.Hour:
			step = time.Duration(24*(1+i%3)) * time.Hour
		}
		ts = ts.Add(-step)
	}
	for _, ts := range times {
		restic("backup", "--quiet", "--tag", ov.Tag, "--host", "data-01", "--time", ts.Format("2006-01-02 15:04:05"), dir)
	}
	want := map[string]bool{}
	for name := range expectedKept(append([]time.Time{}, times...), nil, ov.KeepHourly, ov.KeepDaily, ov.KeepWeekly, ov.KeepMonthly, 0) {
		ts, err := time.Parse("20060102T150405Z", strings.TrimSuffix(strings.TrimPrefix(name, "aurigraph-scheduled-"), ".dump"))
		require.NoError(t, err)
		want[ts.Format(time.RFC3339)] = true
	}

	out := mustRun(t, env, "bash", off, "forget")
	assert.Contains(t, out, "offsite retention ok")
	got := map[string]bool{}
	var snaps []struct {
		Time time.Time `json:"time"`
	}
	require.NoError(t, json.Unmarshal([]byte(restic("snapshots", "--json")), &snaps))
	for _, s := range snaps {
		got[s.Time.UTC().Format(time.RFC3339)] = true
	}
	assert.Equal(t, want, got)
	assert.Less(t, len(got), len(times))
	t.Logf("MEASURED offsite retention 24/7/4/12: %d snapshots -> %d kept", len(times), len(got))
	// The pruned repository is sound.
	assert.Contains(t, mustRun(t, env, "bash", off, "check"), "offsite check ok")
}
