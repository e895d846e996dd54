//go:build integration

package postgres

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/testserver"
)

func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, err, "%s %v\nstdout: %s\nstderr: %s", name, args, out.String(), errb.String())
	return out.String() + errb.String()
}

// server is a real PostgreSQL on 127.0.0.1 run as an unprivileged user.
type server struct {
	bin, dir, sock string
	port           int
	asUser         []string // runuser prefix when the test runs as root
}

func (s *server) cmd(name string, args ...string) (string, []string) {
	full := filepath.Join(s.bin, name)
	if len(s.asUser) == 0 {
		return full, args
	}
	return s.asUser[0], append(append(append([]string{}, s.asUser[1:]...), full), args...)
}

// psql runs SQL as the aurigraph user over the socket (local trust).
func (s *server) psql(t *testing.T, db, sql string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, nil, filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t",
		"-v", "ON_ERROR_STOP=1", "-h", s.sock, "-p", strconv.Itoa(s.port), "-U", User, "-d", db, "-c", sql))
}

// env points the rendered scripts at this server instead of the container.
func (s *server) env(backupDir string) []string {
	conn := fmt.Sprintf("-h %s -p %d -U %s", s.sock, s.port, User)
	return []string{
		"PSQL=" + filepath.Join(s.bin, "psql") + " " + conn,
		"PG_DUMP=" + filepath.Join(s.bin, "pg_dump") + " " + conn,
		"PG_RESTORE=" + filepath.Join(s.bin, "pg_restore") + " " + conn,
		"BACKUP_DIR=" + backupDir,
		"WAIT_SECONDS=30",
	}
}

func startServer(t *testing.T, conf string) *server {
	t.Helper()
	s := &server{bin: testserver.PostgresBin(t), dir: t.TempDir(), port: testserver.FreePort(t)}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "the postgres user (from the postgresql package) is needed to run the server unprivileged")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for d := s.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755))
		}
		require.NoError(t, os.Chown(s.dir, uid, gid))
		s.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	s.sock = s.dir
	pwfile := filepath.Join(s.dir, "pw")
	require.NoError(t, os.WriteFile(pwfile, []byte("integration-only-password\n"), 0o644))
	data := filepath.Join(s.dir, "data")
	confPath := filepath.Join(s.dir, "postgresql.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))

	name, args := s.cmd("initdb", "-D", data, "-U", User, "--pwfile", pwfile, "-E", "UTF8",
		"--auth-local=trust", "--auth-host=scram-sha-256")
	mustRun(t, nil, name, args...)
	// The rendered file is the server's config; only where it listens differs.
	opts := fmt.Sprintf("-c config_file=%s -c listen_addresses=127.0.0.1 -p %d -k %s", confPath, s.port, s.sock)
	name, args = s.cmd("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start")
	mustRun(t, nil, name, args...)
	t.Cleanup(func() {
		name, args := s.cmd("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop")
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop: %v: %s", err, out)
		}
	})
	// The image's entrypoint creates the database from POSTGRES_DB; initdb does not.
	s.psql(t, "postgres", "CREATE DATABASE "+Database)
	return s
}

func TestIntegrationPostgresConfigBackupRestoreDrill(t *testing.T) {
	// Small limits for a test machine; the arithmetic is the production one.
	v := Sizing(512, 1, 3*10+20) // 3 clients with pools of 10, 20 for the rest
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	s := startServer(t, conf)

	// The server runs on the rendered file.
	assert.Equal(t, strconv.Itoa(v.MaxConnections), s.psql(t, "aurigraph", "SHOW max_connections"))
	assert.Equal(t, fmt.Sprintf("%dMB", v.SharedBuffersMB), s.psql(t, "aurigraph", "SHOW shared_buffers"))
	assert.Equal(t, fmt.Sprintf("%dMB", v.EffectiveCacheMB), s.psql(t, "aurigraph", "SHOW effective_cache_size"))
	assert.Equal(t, fmt.Sprintf("%dMB", v.WorkMemMB), s.psql(t, "aurigraph", "SHOW work_mem"))
	assert.Equal(t, "scram-sha-256", s.psql(t, "aurigraph", "SHOW password_encryption"))
	assert.Equal(t, "stderr", s.psql(t, "aurigraph", "SHOW log_destination"))
	assert.Equal(t, "pg_stat_statements", s.psql(t, "aurigraph", "SHOW shared_preload_libraries"))
	s.psql(t, "aurigraph", "ALTER ROLE aurigraph PASSWORD 'integration-only-password'")
	assert.Equal(t, "SCRAM-SHA-256", s.psql(t, "aurigraph", "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'aurigraph'"))

	// A schema with rows.
	s.psql(t, "aurigraph", `CREATE SCHEMA ledger;
CREATE TABLE ledger.blocks (height bigint PRIMARY KEY, hash text NOT NULL, payload jsonb);
INSERT INTO ledger.blocks SELECT g, md5(g::text), jsonb_build_object('tx', g % 97) FROM generate_series(1, 20000) g;
CREATE TABLE public.accounts (id serial PRIMARY KEY, name text UNIQUE);
INSERT INTO public.accounts (name) SELECT 'acct-' || g FROM generate_series(1, 500) g;`)
	fingerprint := func(db string) string {
		return s.psql(t, db, `SELECT (SELECT count(*) || ':' || md5(string_agg(hash || payload::text, ',' ORDER BY height)) FROM ledger.blocks)
 || '/' || (SELECT count(*) || ':' || md5(string_agg(name, ',' ORDER BY id)) FROM public.accounts)`)
	}
	source := fingerprint("aurigraph")

	sv := Scripts(s.dir, Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	backupDir := filepath.Join(t.TempDir(), "backups")
	textfiles := filepath.Join(t.TempDir(), "node-exporter")
	env := append(s.env(backupDir), "TEXTFILE_DIR="+textfiles)
	write := func(name string, render func(ScriptValues) (string, error)) string {
		out, err := render(sv)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, []byte(out), 0o755))
		return p
	}
	backup, restore, drill := write("backup.sh", RenderBackup), write("restore.sh", RenderRestore), write("drill.sh", RenderDrill)

	// The first dump run fails (no pg_dump): the backup metrics say so,
	// with no success ever (0, so BackupTooOld fires at once).
	cmd := exec.Command("bash", backup, "scheduled")
	cmd.Env = append(append(os.Environ(), env...), "PG_DUMP=false")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Equal(t, runMetrics{success: 0, run: 0}, readRunMetrics(t, textfiles, KindDump))
	assert.Empty(t, partials(t, textfiles), "no temporary file left behind")

	// Backup: a timestamped, compressed custom-format dump.
	before := time.Now().Unix()
	mustRun(t, env, "bash", backup, "scheduled")
	after := time.Now().Unix()
	ok := readRunMetrics(t, textfiles, KindDump)
	assert.Equal(t, 1.0, ok.run)
	assert.True(t, ok.success >= float64(before) && ok.success <= float64(after), "last success %v is the run's time", ok.success)
	mustRun(t, env, "bash", backup, "predeploy")
	ok = readRunMetrics(t, textfiles, KindDump) // a pre-deployment dump is a backup too
	assert.Equal(t, 1.0, ok.run)
	assert.GreaterOrEqual(t, ok.success, float64(after))
	dumps, _ := filepath.Glob(filepath.Join(backupDir, "aurigraph-*.dump"))
	require.Len(t, dumps, 2)
	name := regexp.MustCompile(`^aurigraph-(scheduled|predeploy)-\d{8}T\d{6}Z\.dump$`)
	var dump string
	for _, d := range dumps {
		assert.Regexp(t, name, filepath.Base(d))
		if strings.Contains(d, "-scheduled-") {
			dump = d
		}
	}
	raw, err := os.ReadFile(dump)
	require.NoError(t, err)
	assert.Equal(t, "PGDMP", string(raw[:5]), "custom format")
	toc := mustRun(t, nil, filepath.Join(s.bin, "pg_restore"), "--list", dump)
	assert.Regexp(t, `Compression: (6|gzip)`, toc)
	info, _ := os.Stat(dump)
	plain := filepath.Join(t.TempDir(), "plain.dump")
	mustRun(t, nil, filepath.Join(s.bin, "pg_dump"), "-h", s.sock, "-p", strconv.Itoa(s.port), "-U", User,
		"--format=custom", "--compress=0", "-f", plain, "aurigraph")
	plainInfo, _ := os.Stat(plain)
	assert.Less(t, info.Size(), plainInfo.Size()/2, "compressed")
	t.Logf("MEASURED backup: %s %d bytes (uncompressed custom dump %d bytes, ratio %.2f)",
		filepath.Base(dump), info.Size(), plainInfo.Size(), float64(info.Size())/float64(plainInfo.Size()))

	// Restore into another database: the same rows.
	mustRun(t, env, "bash", restore, dump, "aurigraph_restored")
	assert.Equal(t, source, fingerprint("aurigraph_restored"))
	t.Logf("MEASURED restore: %s", fingerprint("aurigraph_restored"))

	// A failed run keeps the last success's time and says it failed.
	cmd = exec.Command("bash", backup, "scheduled")
	cmd.Env = append(append(os.Environ(), env...), "PG_DUMP=false")
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Equal(t, runMetrics{success: ok.success, run: 0}, readRunMetrics(t, textfiles, KindDump))
	// Rotation alone is no backup run: the metrics stay as they are.
	mustRun(t, env, "bash", backup, "rotate")
	assert.Equal(t, runMetrics{success: ok.success, run: 0}, readRunMetrics(t, textfiles, KindDump))

	// Restoring over the live database needs an explicit confirmation.
	cmd = exec.Command("bash", restore, dump)
	cmd.Env = append(os.Environ(), env...)
	out, err = cmd.CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), "RESTORE_CONFIRM=yes")
	s.psql(t, "aurigraph", "DELETE FROM public.accounts WHERE id > 100")
	mustRun(t, append(env, "RESTORE_CONFIRM=yes"), "bash", restore, dump)
	assert.Equal(t, source, fingerprint("aurigraph"), "the live database is back to the dump")

	// Drill: newest dump into the scratch database, verified table by table.
	report := filepath.Join(t.TempDir(), "drill.txt")
	logOut := mustRun(t, append(env, "DRILL_KEEP=yes", "DRILL_REPORT="+report), "bash", drill)
	assert.Contains(t, logOut, "drill ok")
	assert.Contains(t, logOut, "manifest verified", "the local drill checks the dump's manifest too")
	assert.Equal(t, source, fingerprint("aurigraph_drill"))
	drilled := readRunMetrics(t, textfiles, KindDrill)
	assert.Equal(t, 1.0, drilled.run)
	assert.Greater(t, drilled.success, 0.0)
	rep, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, "ledger.blocks|20000\npublic.accounts|500\n", string(rep))
	t.Logf("MEASURED drill: %s", strings.TrimSpace(logOut[strings.Index(logOut, "drill ok"):]))
	// Without DRILL_KEEP the scratch database is dropped.
	mustRun(t, append(env, "DRILL_REPORT="+report), "bash", drill)
	assert.Equal(t, "0", s.psql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'aurigraph_drill'"))

	drilled = readRunMetrics(t, textfiles, KindDrill)

	// A manifest that disagrees with its dump fails the local drill (both
	// dumps' manifests: either may be the newest within one second).
	good := map[string][]byte{}
	for _, d := range dumps {
		b, err := os.ReadFile(d + ".manifest")
		require.NoError(t, err)
		good[d] = b
		require.NoError(t, os.WriteFile(d+".manifest", []byte(strings.Replace(string(b), "|20000|", "|19999|", 1)), 0o600))
	}
	cmd = exec.Command("bash", drill)
	cmd.Env = append(os.Environ(), env...)
	out, err = cmd.CombinedOutput()
	assert.Error(t, err, "a manifest that disagrees must fail the drill: %s", out)
	assert.Contains(t, string(out), "< table|ledger.blocks|19999|")
	for d, b := range good {
		require.NoError(t, os.WriteFile(d+".manifest", b, 0o600))
	}

	// A corrupt dump fails the drill.
	bad := filepath.Join(backupDir, "aurigraph-scheduled-29991231T235959Z.dump")
	require.NoError(t, os.WriteFile(bad, raw[:len(raw)/3], 0o600))
	cmd = exec.Command("bash", drill)
	cmd.Env = append(os.Environ(), env...)
	out, err = cmd.CombinedOutput()
	assert.Error(t, err, "a truncated dump must fail the drill: %s", out)
	assert.Equal(t, runMetrics{success: drilled.success, run: 0}, readRunMetrics(t, textfiles, KindDrill),
		"the failed drill is recorded, the last success kept")
	assert.Empty(t, partials(t, textfiles), "no temporary file left behind")
}

// runMetrics is one script's outcome file: the last success's time and
// whether the last run succeeded.
type runMetrics struct{ success, run float64 }

// readRunMetrics reads $TEXTFILE_DIR/aurigraph-backup-postgres-<kind>.prom,
// checks it with promtool (Prometheus's own parser and linter) and returns
// the last success and run samples, each labelled {store="postgres",kind}.
func readRunMetrics(t *testing.T, dir, kind string) runMetrics {
	t.Helper()
	p := filepath.Join(dir, "aurigraph-backup-"+Store+"-"+kind+".prom")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node exporter reads it as its own user")
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "apt-get install prometheus")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(b)
	out, err := check.CombinedOutput()
	assert.NoError(t, err, "%s\n%s", out, b)
	var m runMetrics
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		require.Len(t, f, 2, line)
		v, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err, line)
		labels := `{store="` + Store + `",kind="` + kind + `"}`
		switch f[0] {
		case backupjob.SuccessMetric + labels:
			m.success = v
		case backupjob.RunMetric + labels:
			m.run = v
		case backupjob.DurationMetric + labels, backupjob.MaxAgeMetric + labels:
			assert.GreaterOrEqual(t, v, 0.0, line)
		default:
			t.Fatalf("unexpected sample %q", line)
		}
		seen[f[0]] = true
	}
	require.Len(t, seen, 4, string(b))
	return m
}

// partials are the files node exporter ignores (a write in progress).
func partials(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	return names
}

// expectedKept is the rotation rule written independently in Go: newest
// first, the newest dump of each of the newest N hours/days/ISO weeks/months,
// the newest dump always, and the newest N pre-deployment dumps.
func expectedKept(scheduled, predeploy []time.Time, h, d, w, m, pre int) map[string]bool {
	sort.Slice(scheduled, func(i, j int) bool { return scheduled[i].After(scheduled[j]) })
	sort.Slice(predeploy, func(i, j int) bool { return predeploy[i].After(predeploy[j]) })
	keep := map[string]bool{}
	name := func(kind string, ts time.Time) string {
		return fmt.Sprintf("aurigraph-%s-%s.dump", kind, ts.Format("20060102T150405Z"))
	}
	if len(scheduled) > 0 {
		keep[name("scheduled", scheduled[0])] = true
	}
	for _, c := range []struct {
		n   int
		key func(time.Time) string
	}{
		{h, func(t time.Time) string { return t.Format("2006010215") }},
		{d, func(t time.Time) string { return t.Format("20060102") }},
		{w, func(t time.Time) string { y, wk := t.ISOWeek(); return fmt.Sprintf("%d-%d", y, wk) }},
		{m, func(t time.Time) string { return t.Format("200601") }},
	} {
		seen := map[string]bool{}
		for _, ts := range scheduled {
			if len(seen) >= c.n {
				break
			}
			if k := c.key(ts); !seen[k] {
				seen[k] = true
				keep[name("scheduled", ts)] = true
			}
		}
	}
	for i := 0; i < len(predeploy) && i < pre; i++ {
		keep[name("predeploy", predeploy[i])] = true
	}
	return keep
}

func TestIntegrationBackupRotation(t *testing.T) {
	for _, r := range []Retention{
		{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10}, // prod
		{Hourly: 6, Daily: 3, Weekly: 0, Monthly: 0, PreDeploy: 10},   // staging
		{Hourly: 0, Daily: 0, Weekly: 0, Monthly: 0, PreDeploy: 1},    // nothing but the newest
	} {
		t.Run(fmt.Sprintf("%d-%d-%d-%d", r.Hourly, r.Daily, r.Weekly, r.Monthly), func(t *testing.T) {
			dir := t.TempDir()
			// Irregular scheduled dumps over 15 months (several per hour at
			// times, gaps at others), pre-deployment dumps, and files the
			// rotation must never touch.
			start := time.Date(2024, 1, 1, 0, 17, 5, 0, time.UTC)
			var scheduled, predeploy []time.Time
			for ts, i := start, 0; ts.Before(start.AddDate(0, 15, 0)); i++ {
				scheduled = append(scheduled, ts)
				step := time.Duration(1+i%7) * time.Hour
				if i%11 == 0 {
					step = 20 * time.Minute
				}
				ts = ts.Add(step)
			}
			for i := 0; i < 14; i++ {
				predeploy = append(predeploy, start.Add(time.Duration(i*700+3)*time.Hour))
			}
			touch := func(name string) { require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600)) }
			for _, ts := range scheduled {
				touch(fmt.Sprintf("aurigraph-scheduled-%s.dump", ts.Format("20060102T150405Z")))
			}
			for _, ts := range predeploy {
				touch(fmt.Sprintf("aurigraph-predeploy-%s.dump", ts.Format("20060102T150405Z")))
			}
			others := []string{"notes.txt", "aurigraph-scheduled-latest.dump", "other-scheduled-20240101T000000Z.dump", "drill-report.txt"}
			for _, o := range others {
				touch(o)
			}
			want := expectedKept(append([]time.Time{}, scheduled...), append([]time.Time{}, predeploy...),
				r.Hourly, r.Daily, r.Weekly, r.Monthly, r.PreDeploy)
			for _, o := range others {
				want[o] = true
			}

			sv := Scripts(dir, r)
			script, err := RenderBackup(sv)
			require.NoError(t, err)
			p := filepath.Join(t.TempDir(), "backup.sh")
			require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
			mustRun(t, []string{"BACKUP_DIR=" + dir}, "bash", p, "rotate")

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			got := map[string]bool{}
			for _, e := range entries {
				if e.Name() != ".lock" {
					got[e.Name()] = true
				}
			}
			assert.Equal(t, want, got)
			t.Logf("MEASURED rotation %+v: %d scheduled + %d predeploy dumps -> %d kept", r, len(scheduled), len(predeploy), len(got)-len(others))

			// Rotating again changes nothing.
			mustRun(t, []string{"BACKUP_DIR=" + dir}, "bash", p, "rotate")
			entries, _ = os.ReadDir(dir)
			assert.Len(t, entries, len(got)+1)
		})
	}
}

func TestIntegrationPostgresScriptsShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck not found: apt-get install shellcheck")
	}
	sv := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	scripts := map[string]string{}
	for name, render := range map[string]func(ScriptValues) (string, error){"backup.sh": RenderBackup, "restore.sh": RenderRestore, "drill.sh": RenderDrill,
		"basebackup.sh": RenderBaseBackup, "pitr.sh": RenderPITR, "postgres-drill.sh": func(v ScriptValues) (string, error) {
			return RenderOffsiteDrill(OffsiteDrillValues{ScriptValues: ScratchScripts(v), Offsite: "/srv/aurigraph/backups/bin/offsite-postgres.sh",
				WorkDir: "/srv/aurigraph/backups/drill/postgres", Image: "postgres:15.10-alpine"})
		}} {
		out, err := render(sv)
		require.NoError(t, err)
		scripts[name] = out
	}
	var err error
	scripts["timers.sh"], err = backupjob.RenderTimers(backupjob.TimerValues{Jobs: Jobs("/srv/aurigraph/postgres/bin", DefaultDrill())})
	require.NoError(t, err)
	dir := t.TempDir()
	for name, content := range scripts {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		out, err := exec.Command("shellcheck", "--severity=style", "--shell=bash", p).CombinedOutput()
		assert.NoError(t, err, "%s:\n%s", name, out)
	}
}
