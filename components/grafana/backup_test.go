package grafana

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
)

const testServiceDir = "/srv/aurigraph/grafana"

func TestBackupScriptsCarryTheDeploymentsValuesQuoted(t *testing.T) {
	v := Backup(testServiceDir)
	for name, render := range map[string]func(BackupValues) (string, error){"backup.sh": RenderBackup, "restore.sh": RenderRestore} {
		out, err := render(v)
		require.NoError(t, err, name)
		for _, want := range []string{
			"CONTAINER=${CONTAINER:-'grafana'}",
			"DB=${DB:-'/srv/aurigraph/grafana/data/grafana.db'}",
			"BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/grafana/backups'}",
			"OWNER=${OWNER:-'472:0'}",
			"BUSY_MS=${BUSY_MS:-30000}",
			"STATE_FORMAT='{{.State.Status}}'",
			"PRAGMA integrity_check;",
		} {
			assert.Contains(t, out, want, name)
		}
	}
	backup, err := RenderBackup(v)
	require.NoError(t, err)
	assert.Contains(t, backup, "KEEP=${KEEP:-48}")
	assert.Contains(t, backup, "ATTEMPTS=${ATTEMPTS:-3}")
	assert.Contains(t, backup, "record_run 'grafana' 'snapshot' 7200 ")
	assert.Contains(t, backup, "record_run() {")
	// One read transaction around the backup API: no restart livelock.
	assert.Regexp(t, `'BEGIN;' .* "\.backup '\$tmp'" 'COMMIT;'`, backup)
	restore, err := RenderRestore(v)
	require.NoError(t, err)
	assert.Contains(t, restore, "RESTORE_CONFIRM")
}

func TestBackupValuesRefused(t *testing.T) {
	for name, change := range map[string]func(*BackupValues){
		"relative database":        func(v *BackupValues) { v.Database = "grafana.db" },
		"quote in a path (sqlite)": func(v *BackupValues) { v.BackupDir = "/srv/it's" },
		"space in a path":          func(v *BackupValues) { v.Database = "/srv/a b/grafana.db" },
		"dotdot":                   func(v *BackupValues) { v.BackupDir = "/srv/../etc" },
		"copies beside the db":     func(v *BackupValues) { v.BackupDir = "/srv/aurigraph/grafana/data" },
		"container with a space":   func(v *BackupValues) { v.Container = "grafana; reboot" },
		"prefix with a glob":       func(v *BackupValues) { v.Prefix = "g*" },
		"nothing kept":             func(v *BackupValues) { v.Keep = 0 },
		"owner by name":            func(v *BackupValues) { v.Owner = "grafana:root" },
		"no busy timeout":          func(v *BackupValues) { v.BusyTimeoutMs = 0 },
		"no attempt":               func(v *BackupValues) { v.Attempts = 0 },
		"no job":                   func(v *BackupValues) { v.Job.Command = "backup.sh" },
	} {
		t.Run(name, func(t *testing.T) {
			v := Backup(testServiceDir)
			change(&v)
			_, err := RenderBackup(v)
			assert.Error(t, err)
			_, err = RenderRestore(v)
			assert.Error(t, err)
		})
	}
}

func TestCopyJobIsHourlyWithTwoHoursAllowance(t *testing.T) {
	jobs := Jobs(testServiceDir + "/bin")
	require.Len(t, jobs, 1)
	j := jobs[0]
	assert.Equal(t, "aurigraph-backup-grafana-snapshot", j.Unit())
	assert.Equal(t, "hourly", j.Every)
	assert.Equal(t, 2*time.Hour, j.MaxAge)
	assert.Equal(t, "/bin/bash /srv/aurigraph/grafana/bin/backup.sh", j.Command)
	require.NoError(t, j.Validate())
	assert.Equal(t, []string{"sqlite3"}, BackupPackages)
}

func TestCopiesAreRootsAlone(t *testing.T) {
	dirs := map[string]host.Dir{}
	for _, d := range Dirs(testServiceDir) {
		dirs[d.Path] = d
	}
	for _, p := range append(BackupPaths(testServiceDir), testServiceDir+"/bin") {
		d, ok := dirs[p]
		require.True(t, ok, "%s is created by host preparation", p)
		assert.Equal(t, 0, d.UID)
	}
	assert.Equal(t, "0700", dirs[testServiceDir+"/backups"].Mode)
}
