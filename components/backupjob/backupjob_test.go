package backupjob

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var dumpJob = Job{Store: "postgres", Kind: "dump", Description: "PostgreSQL dump", Command: "/bin/bash /srv/pg/bin/backup.sh scheduled",
	Every: "hourly", Persistent: true, MaxAge: 90 * time.Minute, Docker: true}

// runRecord runs RecordRun's functions with bash against dir.
func runRecord(t *testing.T, dir, calls string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", RecordRun+"\n"+calls)
	cmd.Env = append(os.Environ(), "TEXTFILE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

func metric(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+"{") {
			assert.Contains(t, l, `{store="postgres",kind="dump"}`)
			return strings.Fields(l)[1]
		}
	}
	return ""
}

func TestRecordRunKeepsTheLastSuccessThroughFailures(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aurigraph-backup-postgres-dump.prom")

	// A failure before any success: last success 0, so the too-old alert fires.
	runRecord(t, dir, `record_run postgres dump 5400 "$(($(date +%s) - 7))" 1`)
	assert.Equal(t, "0", metric(t, file, SuccessMetric))
	assert.Equal(t, "0", metric(t, file, RunMetric))
	assert.Equal(t, "5400", metric(t, file, MaxAgeMetric))
	assert.Contains(t, []string{"7", "8"}, metric(t, file, DurationMetric))

	runRecord(t, dir, `record_run postgres dump 5400 "$(date +%s)" 0`)
	success := metric(t, file, SuccessMetric)
	assert.NotEqual(t, "0", success)
	assert.Equal(t, "1", metric(t, file, RunMetric))

	runRecord(t, dir, `record_run postgres dump 5400 "$(date +%s)" 3`)
	assert.Equal(t, success, metric(t, file, SuccessMetric), "a failure keeps the last success")
	assert.Equal(t, "0", metric(t, file, RunMetric))

	info, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "node exporter reads it as its own user")
	left, _ := filepath.Glob(filepath.Join(dir, ".aurigraph-*"))
	assert.Empty(t, left, "no temporary file is left behind")
}

func TestSeedCountsANeverRunJobFromItsInstallation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aurigraph-backup-postgres-dump.prom")
	before := time.Now().Unix()
	runRecord(t, dir, `seed_run postgres dump 5400`)
	seeded := metric(t, file, SuccessMetric)
	assert.GreaterOrEqual(t, seeded, "1", seeded)
	assert.Empty(t, metric(t, file, RunMetric), "no run is invented")
	assert.LessOrEqual(t, before, mustInt(t, seeded))

	// A job with a record keeps it; a new allowance is taken.
	runRecord(t, dir, `record_run postgres dump 5400 "$(date +%s)" 1`)
	runRecord(t, dir, `seed_run postgres dump 9000`)
	assert.Equal(t, seeded, metric(t, file, SuccessMetric), "the seed does not reset the last success")
	assert.Equal(t, "0", metric(t, file, RunMetric), "nor the last run's outcome")
	assert.Equal(t, "9000", metric(t, file, MaxAgeMetric))
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', s)
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestTimersInstallEveryJobAndSeedItsMetrics(t *testing.T) {
	copyJob := Job{Store: "postgres", Kind: "offsite-copy", Description: "PostgreSQL off-host copy", Command: "/bin/bash /srv/pg/bin/offsite.sh copy",
		Every: "*:0/5", MaxAge: 20 * time.Minute}
	script, err := RenderTimers(TimerValues{Jobs: []Job{dumpJob, copyJob}, Packages: []string{"restic"}})
	require.NoError(t, err)
	for _, want := range []string{
		"install_unit aurigraph-backup-postgres-dump.service", "ExecStart=/bin/bash /srv/pg/bin/backup.sh scheduled",
		"OnCalendar=hourly\nPersistent=true", "OnCalendar=*:0/5\nPersistent=false", "Requires=docker.service",
		"systemctl enable --now aurigraph-backup-postgres-dump.timer aurigraph-backup-postgres-offsite-copy.timer",
		"seed_run 'postgres' 'dump' 5400", "seed_run 'postgres' 'offsite-copy' 1200", "packages=( restic)",
	} {
		assert.Contains(t, script, want)
	}
	assert.Equal(t, 1, strings.Count(script, "Requires=docker.service"), "only the job that uses Docker needs it")
	assert.Equal(t, []string{
		"/etc/systemd/system/aurigraph-backup-postgres-dump.service", "/etc/systemd/system/aurigraph-backup-postgres-dump.timer",
		"/etc/systemd/system/aurigraph-backup-postgres-offsite-copy.service", "/etc/systemd/system/aurigraph-backup-postgres-offsite-copy.timer",
	}, Units([]Job{dumpJob, copyJob}))
}

func TestTimersRefuseWhatWouldBreakTheUnitsOrBlindTheAlerts(t *testing.T) {
	bad := map[string]Job{
		"relative command":    {Store: "x", Kind: "y", Description: "d", Command: "backup.sh", Every: "daily", MaxAge: time.Hour},
		"shell in command":    {Store: "x", Kind: "y", Description: "d", Command: "/bin/sh -c 'a;b'", Every: "daily", MaxAge: time.Hour},
		"no allowance":        {Store: "x", Kind: "y", Description: "d", Command: "/bin/true", Every: "daily"},
		"newline in calendar": {Store: "x", Kind: "y", Description: "d", Command: "/bin/true", Every: "daily\nExecStart=/bin/evil", MaxAge: time.Hour},
		"upper-case store":    {Store: "X", Kind: "y", Description: "d", Command: "/bin/true", Every: "daily", MaxAge: time.Hour},
	}
	for name, j := range bad {
		_, err := RenderTimers(TimerValues{Jobs: []Job{j}})
		assert.Error(t, err, name)
	}
	_, err := RenderTimers(TimerValues{Jobs: []Job{dumpJob, dumpJob}})
	assert.ErrorContains(t, err, "twice")
	_, err = RenderTimers(TimerValues{Jobs: []Job{dumpJob}, Packages: []string{"restic; rm -rf /"}})
	assert.Error(t, err)
}
