//go:build integration

package postgres

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/offsite"
	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/internal/testserver"
)

// scratchServer writes RESTORE_START and RESTORE_STOP scripts for the
// drill: each start is a new, empty cluster (what the scratch container is),
// and the env that points PSQL and PG_RESTORE at it.
func scratchServer(t *testing.T, live *server) []string {
	t.Helper()
	sc := &server{bin: live.bin, dir: serverDir(t), port: testserver.FreePort(t), asUser: live.asUser}
	sc.sock = sc.dir
	data := filepath.Join(sc.dir, "data")
	initdb, initArgs := sc.cmd("initdb", "-D", data, "-U", User, "--auth-local=trust", "-E", "UTF8")
	start, startArgs := sc.cmd("pg_ctl", "-D", data, "-o", fmt.Sprintf(`"-p %d -k %s -c listen_addresses="`, sc.port, sc.sock), "-l", data+".log", "-w", "start")
	stop, stopArgs := sc.cmd("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
	dir := t.TempDir()
	startSh := filepath.Join(dir, "start.sh")
	stopSh := filepath.Join(dir, "stop.sh")
	require.NoError(t, os.WriteFile(startSh, []byte("#!/bin/sh\nset -e\nrm -rf "+data+"\n"+initdb+" "+strings.Join(initArgs, " ")+" >/dev/null\n"+
		start+" "+strings.Join(startArgs, " ")+" >/dev/null\n"), 0o755))
	require.NoError(t, os.WriteFile(stopSh, []byte("#!/bin/sh\n[ -d "+data+" ] || exit 0\n"+stop+" "+strings.Join(stopArgs, " ")+" >/dev/null\nrm -rf "+data+"\n"), 0o755))
	t.Cleanup(func() { _ = exec.Command(stopSh).Run() })
	conn := fmt.Sprintf("-h %s -p %d -U %s", sc.sock, sc.port, User)
	return []string{"RESTORE_START=" + startSh, "RESTORE_STOP=" + stopSh,
		"PSQL=" + filepath.Join(live.bin, "psql") + " " + conn, "PG_RESTORE=" + filepath.Join(live.bin, "pg_restore") + " " + conn}
}

// drillMetrics reads the drill's own textfile, checked by promtool.
func drillMetrics(t *testing.T, dir string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "aurigraph-restore-drill-"+Store+".prom"))
	require.NoError(t, err)
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = bytes.NewReader(b)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, b)
	m := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		require.Len(t, f, 2, line)
		v, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err)
		m[f[0]] = v
	}
	return m
}

// TestIntegrationDrillFromTheOffHostCopy: rows written while backup.sh
// dumps (the manifest must come from the dump's own snapshot), the dumps
// copied off the host into a real SFTP target with restic, then the
// rendered postgres-drill.sh fetches the copy, restores into a scratch
// server and verifies every manifest line. A manifest that disagrees with
// its dump fails the drill and records it.
func TestIntegrationDrillFromTheOffHostCopy(t *testing.T) {
	textfiles := t.TempDir()
	t.Setenv("TEXTFILE_DIR", textfiles)
	uid, gid, _ := serverOwner(t)
	archive := filepath.Join(serverDir(t), "archive")
	for _, d := range []string{archive, filepath.Join(archive, "wal")} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, uid, gid))
	}
	v := Sizing(512, 1, 50)
	v.ArchiveDir = archive
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	s := startServer(t, conf)

	// A schema the application's Flyway migrations would leave, and rows.
	s.psql(t, Database, `CREATE SCHEMA ledger;
CREATE TABLE ledger.tx (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text NOT NULL, amount numeric(20,6), ratio float8, raw bytea);
INSERT INTO ledger.tx (payload, amount, ratio, raw) SELECT md5(g::text) || md5((g * 7)::text), g / 7.0, g / 3.0, decode(md5(g::text), 'hex') FROM generate_series(1, 400000) g;
CREATE TABLE ledger.accounts (id int PRIMARY KEY, name text UNIQUE, opened date);
INSERT INTO ledger.accounts SELECT g, 'acct-' || g, date '2020-01-01' + g FROM generate_series(1, 5000) g;
CREATE TABLE public.flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL, success boolean NOT NULL);
INSERT INTO public.flyway_schema_history VALUES (1, '1', 'init', true), (2, '1.9', 'ledger', true), (3, '1.10', 'accounts', true), (4, '1.11', 'failed', false);`)
	size := s.psql(t, Database, "SELECT pg_size_pretty(pg_database_size(current_database()))")

	sv := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	backupSh, err := RenderBackup(sv)
	require.NoError(t, err)
	drillSh, err := RenderOffsiteDrill(OffsiteDrillValues{ScriptValues: ScratchScripts(sv),
		Offsite: "/srv/aurigraph/backups/bin/offsite-postgres.sh", WorkDir: "/srv/aurigraph/backups/drill/postgres", Image: "postgres:15.10-alpine"})
	require.NoError(t, err)
	bin := t.TempDir()
	backup, drill := filepath.Join(bin, "backup.sh"), filepath.Join(bin, "postgres-drill.sh")
	require.NoError(t, os.WriteFile(backup, []byte(backupSh), 0o755))
	require.NoError(t, os.WriteFile(drill, []byte(drillSh), 0o755))
	backupDir := filepath.Join(t.TempDir(), "backups")
	env := s.env(backupDir)

	// The cost of the manifest: pg_dump alone, then backup.sh (pg_dump and
	// the manifest at once in one snapshot), with the writer committing
	// rows throughout.
	w := startWriter(s)
	defer func() {
		select {
		case <-w.done:
		default:
			w.halt()
		}
	}()
	started := time.Now()
	mustRun(t, nil, filepath.Join(s.bin, "pg_dump"), "-h", s.sock, "-p", strconv.Itoa(s.port), "-U", User,
		"--format=custom", "--compress=6", "-f", filepath.Join(t.TempDir(), "alone.dump"), Database)
	dumpAlone := time.Since(started)
	started = time.Now()
	out := mustRun(t, env, "bash", backup, "scheduled")
	withManifest := time.Since(started)
	w.halt()
	require.NoError(t, w.lastErr)
	require.Greater(t, w.rows, 0, "rows were committed during the backups")
	assert.Contains(t, out, "3 tables in its manifest")
	dumps, _ := filepath.Glob(filepath.Join(backupDir, "aurigraph-scheduled-*.dump"))
	require.Len(t, dumps, 1)
	manifest, err := os.ReadFile(dumps[0] + ".manifest")
	require.NoError(t, err)
	m := string(manifest)
	assert.Contains(t, m, "schema_version|1.10\n", "the newest successful migration, by installed_rank")
	assert.Regexp(t, `(?m)^table\|ledger\.accounts\|5000\|-?\d+$`, m)
	assert.Regexp(t, `(?m)^table\|public\.flyway_schema_history\|4\|-?\d+$`, m)
	assert.Regexp(t, `(?m)^checksum\|[0-9a-f]{32}$`, m)
	assert.Regexp(t, `(?m)^schema_fingerprint\|[0-9a-f]{32}$`, m)
	txRows := regexp.MustCompile(`(?m)^table\|ledger\.tx\|(\d+)\|`).FindStringSubmatch(m)
	require.NotNil(t, txRows, m)
	n, _ := strconv.Atoi(txRows[1])
	assert.GreaterOrEqual(t, n, 400000)
	// The manifest query alone, as backup.sh sends it.
	fn := backupSh[strings.Index(backupSh, "manifest_sql() {"):]
	fn = fn[:strings.Index(fn, "\n}\n")+3]
	started = time.Now()
	alone := mustRun(t, nil, "bash", "-c", fn+"manifest_sql | "+filepath.Join(s.bin, "psql")+
		fmt.Sprintf(" -X -q -A -t -v ON_ERROR_STOP=1 -h %s -p %d -U %s -d %s", s.sock, s.port, User, Database))
	manifestAlone := time.Since(started)
	assert.Contains(t, alone, "schema_version|1.10")
	t.Logf("MEASURED manifest cost (database %s, %d rows written during the dumps): pg_dump alone %.2fs, the manifest query alone %.2fs, backup.sh (both at once in one snapshot) %.2fs",
		size, w.rows, dumpAlone.Seconds(), manifestAlone.Seconds(), withManifest.Seconds())
	assert.Empty(t, partialsIn(t, backupDir), "no partial file left")

	// Rotation deletes a manifest with its dump.
	old := filepath.Join(backupDir, "aurigraph-scheduled-20200101T000000Z.dump")
	require.NoError(t, os.WriteFile(old, []byte("old"), 0o600))
	require.NoError(t, os.WriteFile(old+".manifest", []byte("old"), 0o600))
	mustRun(t, append(env, "KEEP_HOURLY=1", "KEEP_DAILY=1", "KEEP_WEEKLY=0", "KEEP_MONTHLY=0"), "bash", backup, "rotate")
	assert.NoFileExists(t, old)
	assert.NoFileExists(t, old+".manifest")
	assert.FileExists(t, dumps[0]+".manifest")

	// The copy off the host, into a real SFTP target.
	target := testhost.Start(t)
	state := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(state, "repository-password"), []byte("integration-only-repository-password\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(state, "ssh-key"), target.ClientKey, 0o600))
	ov := offsite.Values{
		Store: Store, Paths: []string{archive, backupDir}, Tag: "aurigraph-postgres", StateDir: state,
		SFTP:       offsite.SFTP{Host: target.Address, Port: target.Port, User: target.User, Path: "/home/" + target.User + "/restic", HostKey: target.HostKey},
		KeepHourly: 24, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12,
	}
	script, err := offsite.RenderScript(ov)
	require.NoError(t, err)
	off := filepath.Join(bin, "offsite-postgres.sh")
	require.NoError(t, os.WriteFile(off, []byte(script), 0o755))
	mustRun(t, nil, "bash", off, "copy")

	// The drill, from the copy, into a scratch server.
	work := t.TempDir()
	drillEnv := append(scratchServer(t, s), "OFFSITE="+off, "WORK_DIR="+work, "BACKUP_DIR="+backupDir, "WAIT_SECONDS=60")
	started = time.Now()
	out = mustRun(t, drillEnv, "bash", drill)
	took := time.Since(started)
	assert.Contains(t, out, "drill ok: "+filepath.Base(dumps[0])+" from the off-host copy, 3 tables")
	assert.Equal(t, 1.0, readRunMetrics(t, textfiles, KindDrill).run)
	dm := drillMetrics(t, textfiles)
	usable := dm[TimeToUsableMetric+`{store="postgres"}`]
	age := dm[BackupAgeMetric+`{store="postgres"}`]
	assert.Greater(t, usable, 0.0)
	assert.LessOrEqual(t, usable, took.Seconds()+1)
	assert.GreaterOrEqual(t, age, 0.0)
	assert.Less(t, age, 600.0, "the dump was taken minutes ago")
	report, err := os.ReadFile(filepath.Join(work, "drill-report.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(report), "dump "+filepath.Base(dumps[0])+"\n")
	assert.Contains(t, string(report), m, "the report holds the manifest it verified")
	assert.NoDirExists(t, filepath.Join(work, "fetch"), "the fetched copy is removed")
	t.Logf("MEASURED drill from the off-host copy (database %s, dump %s): time to usable %.0fs (metric), whole run %.1fs, backup age %.0fs",
		size, duSize(t, dumps[0]), usable, took.Seconds(), age)

	// A manifest that disagrees with its dump: one row fewer than at
	// backup time. Copied off the host, the drill fails and records it,
	// and the time-to-usable metrics keep the last success's.
	tampered := regexp.MustCompile(`(?m)^(table\|ledger\.accounts\|)5000\|`).ReplaceAllString(m, "${1}4999|")
	require.NotEqual(t, m, tampered)
	require.NoError(t, os.WriteFile(dumps[0]+".manifest", []byte(tampered), 0o600))
	mustRun(t, nil, "bash", off, "copy")
	cmd := exec.Command("bash", drill)
	cmd.Env = append(os.Environ(), drillEnv...)
	fail, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", fail)
	assert.Contains(t, string(fail), "< table|ledger.accounts|4999|")
	assert.Contains(t, string(fail), "> table|ledger.accounts|5000|")
	assert.Contains(t, string(fail), "differs from its manifest")
	assert.Equal(t, 0.0, readRunMetrics(t, textfiles, KindDrill).run, "the failed drill is recorded")
	assert.Equal(t, dm, drillMetrics(t, textfiles))
	assert.NoDirExists(t, filepath.Join(work, "fetch"), "a failed drill removes the fetched copy too")

	// A dump without a manifest proves nothing: the drill refuses it.
	require.NoError(t, os.Remove(dumps[0]+".manifest"))
	mustRun(t, nil, "bash", off, "copy")
	cmd = exec.Command("bash", drill)
	cmd.Env = append(os.Environ(), drillEnv...)
	fail, err = cmd.CombinedOutput()
	require.Error(t, err, "%s", fail)
	assert.Contains(t, string(fail), "has no manifest")
}

func partialsIn(t *testing.T, dir string) []string {
	t.Helper()
	p, err := filepath.Glob(filepath.Join(dir, "*.partial"))
	require.NoError(t, err)
	return p
}
