package redis

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScriptsRenderForTheDeployment(t *testing.T) {
	v := Scripts("/srv/aurigraph/redis")
	backup, err := RenderBackup(v)
	require.NoError(t, err)
	restore, err := RenderRestore(v)
	require.NoError(t, err)
	if dir := os.Getenv("RENDER_OUT"); dir != "" { // for a look with shellcheck by hand
		_ = os.WriteFile(dir+"/backup.sh", []byte(backup), 0o644)
		_ = os.WriteFile(dir+"/restore.sh", []byte(restore), 0o644)
	}
	for name, s := range map[string]string{"backup.sh": backup, "restore.sh": restore} {
		has(t, s, "DATA_DIR=${DATA_DIR:-'/srv/aurigraph/redis/data'}", name)
		has(t, s, "BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/redis/backups'}", name)
		has(t, s, "PASSWORD_FILE=${PASSWORD_FILE:-'/run/secrets/redis-password'}", name)
		has(t, s, "CONTAINER=${CONTAINER:-'redis'}", name)
		// Docker's own format, not Go template leftovers.
		has(t, s, "docker inspect -f '{{.Image}}'", name)
		assert.NotContains(t, s, "<no value>", name)
	}
	// The run's outcome, with the job's own allowance.
	has(t, backup, "record_run redis snapshot 7200 ")
	has(t, backup, "KEEP=${KEEP:-12}")
	has(t, restore, "server_cmd=('redis-server' '/usr/local/etc/redis/redis.conf' )")
	has(t, restore, "OWNER=${OWNER:-'999:1000'}")
	assert.Equal(t, serverCommand, ServerSpec(Args{}).Command, "restore.sh's loader runs the container's own command")
}

func TestScriptValuesRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		mod  func(*ScriptValues)
		want string
	}{
		"relative data dir":       {func(v *ScriptValues) { v.DataDir = "data" }, "data dir"},
		"quote in backup dir":     {func(v *ScriptValues) { v.BackupDir = "/srv/x'; rm -rf /" }, "backup dir"},
		"dot-dot in aside dir":    {func(v *ScriptValues) { v.AsideDir = "/srv/../etc" }, "aside dir"},
		"backups inside the data": {func(v *ScriptValues) { v.BackupDir = v.DataDir + "/backups" }, "outside the data dir"},
		"aside is the data":       {func(v *ScriptValues) { v.AsideDir = v.DataDir }, "outside the data dir"},
		"container with a space":  {func(v *ScriptValues) { v.Container = "redis x" }, "plain names"},
		"admin user with $":       {func(v *ScriptValues) { v.AdminUser = "$(id)" }, "plain names"},
		"command word with ;":     {func(v *ScriptValues) { v.ServerCommand = []string{"redis-server", "x;id"} }, "server command word"},
		"no command":              {func(v *ScriptValues) { v.ServerCommand = nil }, "server command is required"},
		"owner by name":           {func(v *ScriptValues) { v.Owner = "redis:redis" }, "numeric uid:gid"},
		"keep nothing":            {func(v *ScriptValues) { v.Keep = 0 }, "at least one snapshot"},
		"no wait":                 {func(v *ScriptValues) { v.WaitSeconds = 0 }, "at least 1 s"},
	} {
		t.Run(name, func(t *testing.T) {
			v := Scripts("/srv/aurigraph/redis")
			tc.mod(&v)
			for _, render := range []func(ScriptValues) (string, error){RenderBackup, RenderRestore} {
				_, err := render(v)
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

// Values reach the scripts quoted: a path with a space stays one word.
func TestScriptValuesQuoted(t *testing.T) {
	v := Scripts("/srv/aurigraph/redis")
	v.BackupDir = "/srv/aurigraph/redis backups"
	_, err := RenderBackup(v)
	require.Error(t, err, "a space is not a plain path")
	v = Scripts("/srv/aurigraph/redis")
	v.ServerCommand = []string{"redis-server", "/usr/local/etc/redis/redis.conf", "--port", "6379"}
	s, err := RenderRestore(v)
	require.NoError(t, err)
	has(t, s, "server_cmd=('redis-server' '/usr/local/etc/redis/redis.conf' '--port' '6379' )")
	assert.NotContains(t, strings.ReplaceAll(s, "{{.Image}}", ""), "{{", "no template action left unexecuted")
}

func TestSnapshotJob(t *testing.T) {
	jobs := Jobs("/srv/aurigraph/redis/bin")
	require.Len(t, jobs, 1)
	j := jobs[0]
	require.NoError(t, j.Validate())
	assert.Equal(t, "aurigraph-backup-redis-snapshot", j.Unit())
	assert.Equal(t, "/bin/bash /srv/aurigraph/redis/bin/backup.sh", j.Command)
	assert.True(t, j.Docker, "BGSAVE runs through docker exec")
	assert.Greater(t, j.MaxAge.Hours(), 1.0, "an hourly job's allowance is more than its period")
	assert.Equal(t, []string{"/srv/aurigraph/redis/backups"}, BackupPaths("/srv/aurigraph/redis"))
	var dirs []string
	for _, d := range Dirs("/srv/aurigraph/redis") {
		dirs = append(dirs, d.Path+" "+d.Mode)
	}
	assert.Contains(t, dirs, "/srv/aurigraph/redis/backups 0700")
	assert.Contains(t, dirs, "/srv/aurigraph/redis/bin 0750")
}

// has asserts that script contains want, naming only want when it does not.
func has(t *testing.T, script, want string, msg ...any) {
	t.Helper()
	assert.True(t, strings.Contains(script, want), "script lacks %q %v", want, msg)
}
