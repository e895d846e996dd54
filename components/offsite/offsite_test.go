package offsite

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"
)

func TestJobsAreValidAndEachStoreHasItsOwnRepository(t *testing.T) {
	jobs := Jobs("redis", ScriptPath("/srv/aurigraph/backups", "redis"))
	require.Len(t, jobs, 3)
	for _, j := range jobs {
		assert.NoError(t, j.Validate())
		assert.Equal(t, "redis", j.Store)
	}
	assert.Equal(t, "/bin/bash /srv/aurigraph/backups/bin/offsite-redis.sh copy", jobs[0].Command)
	assert.Equal(t, 20*time.Minute, MaxAge("offsite-copy"), "a copy every 5 minutes, alerting after 20")
	_, err := backupjob.RenderTimers(backupjob.TimerValues{Jobs: jobs})
	require.NoError(t, err)

	a := Args{Source: backupjob.Source{Store: "redis", Paths: []string{"/srv/aurigraph/redis/backups"}},
		Target: SFTP{Host: "192.0.2.51", Port: 22, User: "backup", Path: "/srv/restic/prod", HostKey: "ssh-ed25519 AAAA"},
		Dir:    "/srv/aurigraph/backups", Retention: Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}}
	v := a.Values()
	assert.Equal(t, "sftp:backup@192.0.2.51:/srv/restic/prod/redis", v.Repository())
	assert.Equal(t, "/srv/aurigraph/backups/offsite/redis", v.StateDir)
	script, err := RenderScript(v)
	require.NoError(t, err)
	assert.Contains(t, script, "record_run 'redis' offsite-copy 1200")
}
