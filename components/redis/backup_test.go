package redis

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackupScriptsRenderTheDeploymentsPaths(t *testing.T) {
	v := Backups("/srv/aurigraph/redis")
	backup, err := RenderBackup(v)
	require.NoError(t, err)
	for _, want := range []string{
		"DATA_DIR=${DATA_DIR:-'/srv/aurigraph/redis/data'}", "BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/redis/backups'}",
		"KEEP=${KEEP:-48}", `REDISCLI_AUTH="$(cat /run/secrets/redis-password)" exec redis-cli --no-auth-warning --user admin`,
		"record_run 'redis' 'snapshot' 7200",
	} {
		assert.Contains(t, backup, want)
	}
	restore, err := RenderRestore(v)
	require.NoError(t, err)
	assert.Contains(t, restore, "OWNER=${OWNER:-'999:1000'}")
	assert.Contains(t, restore, "RUNNING=${RUNNING:-\"docker inspect --format {{.State.Running}} $CONTAINER\"}")
	for _, s := range []string{backup, restore} {
		assert.NotContains(t, s, "<no value>")
		assert.False(t, strings.Contains(s, "REDISCLI_AUTH=") && strings.Contains(s, "--pass"), "no password on a command line")
	}
	assert.Equal(t, "/bin/bash /srv/aurigraph/redis/bin/backup.sh", v.Job.Command)
}

func TestBackupValuesAreRefusedWhenUnsafe(t *testing.T) {
	for name, mutate := range map[string]func(*BackupValues){
		"relative data dir":        func(v *BackupValues) { v.DataDir = "data" },
		"quote in backup dir":      func(v *BackupValues) { v.BackupDir = "/srv/x'y" },
		"backups in the data":      func(v *BackupValues) { v.BackupDir = v.DataDir },
		"shell in container name":  func(v *BackupValues) { v.Container = "redis;reboot" },
		"nothing kept":             func(v *BackupValues) { v.Keep = 0 },
		"space in the secret path": func(v *BackupValues) { v.SecretPath = "/run/secrets/a b" },
	} {
		v := Backups("/srv/aurigraph/redis")
		mutate(&v)
		_, err := RenderBackup(v)
		assert.Error(t, err, name)
		_, err = RenderRestore(v)
		assert.Error(t, err, name)
	}
}
