package vault

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
)

const testServiceDir = "/srv/aurigraph/vault"

func TestBackupScriptsCarryTheDeploymentsValuesQuoted(t *testing.T) {
	v := Backup(testServiceDir)
	for name, render := range map[string]func(BackupValues) (string, error){"backup.sh": RenderBackup, "restore.sh": RenderRestore} {
		out, err := render(v)
		require.NoError(t, err, name)
		for _, want := range []string{
			"CONTAINER=${CONTAINER:-'vault'}",
			"DATA_DIR=${DATA_DIR:-'/srv/aurigraph/vault/data'}",
			"BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/vault/backups'}",
			"OWNER=${OWNER:-'100:1000'}",
			// docker's own template reaches docker untouched, single-quoted.
			"STATE_FORMAT='{{.State.Status}}'",
		} {
			assert.Contains(t, out, want, name)
		}
	}
	backup, err := RenderBackup(v)
	require.NoError(t, err)
	assert.Contains(t, backup, "KEEP=${KEEP:-48}")
	assert.Contains(t, backup, "record_run 'vault' 'snapshot' 7200 ")
	assert.Contains(t, backup, "record_run() {", "the shared recorder is included")
	assert.Contains(t, backup, "trap on_exit EXIT")
	assert.Regexp(t, `(?s)on_exit\(\) \{.*resume \|\| rc=1.*record_run`, backup, "the exit trap unpauses before it records")
	restore, err := RenderRestore(v)
	require.NoError(t, err)
	assert.Contains(t, restore, "RESTORE_CONFIRM")
}

func TestBackupValuesRefused(t *testing.T) {
	for name, change := range map[string]func(*BackupValues){
		"relative data dir":      func(v *BackupValues) { v.DataDir = "data" },
		"data dir with a quote":  func(v *BackupValues) { v.DataDir = "/srv/x'; rm -rf /" },
		"data dir with a space":  func(v *BackupValues) { v.DataDir = "/srv/a b" },
		"data dir is /":          func(v *BackupValues) { v.DataDir = "/" },
		"dotdot":                 func(v *BackupValues) { v.BackupDir = "/srv/aurigraph/vault/../etc" },
		"backups inside data":    func(v *BackupValues) { v.BackupDir = v.DataDir + "/backups" },
		"backups are the data":   func(v *BackupValues) { v.BackupDir = v.DataDir },
		"container with a space": func(v *BackupValues) { v.Container = "vault; reboot" },
		"prefix with a glob":     func(v *BackupValues) { v.Prefix = "vault*" },
		"nothing kept":           func(v *BackupValues) { v.Keep = 0 },
		"owner not numeric":      func(v *BackupValues) { v.Owner = "vault:vault" },
		"no pause limit":         func(v *BackupValues) { v.PauseLimitSeconds = 0 },
		"no attempt":             func(v *BackupValues) { v.Attempts = 0 },
		"no job":                 func(v *BackupValues) { v.Job.MaxAge = 0 },
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

func TestSnapshotJobIsHourlyWithTwoHoursAllowance(t *testing.T) {
	jobs := Jobs(testServiceDir + "/bin")
	require.Len(t, jobs, 1)
	j := jobs[0]
	assert.Equal(t, "aurigraph-backup-vault-snapshot", j.Unit())
	assert.Equal(t, "hourly", j.Every)
	assert.Equal(t, 2*time.Hour, j.MaxAge)
	assert.True(t, j.Docker, "the run pauses the container: after docker.service")
	assert.Equal(t, "/bin/bash /srv/aurigraph/vault/bin/backup.sh", j.Command)
	require.NoError(t, j.Validate())
}

func TestSnapshotsAreRootsAloneAndOutsideTheData(t *testing.T) {
	dirs := map[string]host.Dir{}
	for _, d := range Dirs(testServiceDir) {
		dirs[d.Path] = d
	}
	for _, p := range BackupPaths(testServiceDir) {
		d, ok := dirs[p]
		require.True(t, ok, "%s is created by host preparation", p)
		assert.Equal(t, host.Dir{Path: p, UID: 0, GID: 0, Mode: "0700"}, d)
		assert.False(t, strings.HasPrefix(p+"/", testServiceDir+"/data/"))
	}
}
