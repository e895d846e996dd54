package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/redis"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// Both stacks install Redis's backup and restore scripts and its hourly
// snapshot timer on the host that runs Redis, after the server and the
// scripts, with the password in clear nowhere; a first preview plans the
// same.
func TestRedisBackupsOnTheDataHost(t *testing.T) {
	const password = "Distinct-Redis-Admin-Password-5e2a"
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack).SetSecret(stacks.SecretRedisPassword, password)
			res := harness.Run(t, s)
			assertRedisBackups(t, res)
			assert.Empty(t, harness.PlaintextContaining(res, password), "the admin password stays secret")
			assertNoPlaceholderInClear(t, s, res)

			preview := harness.Preview(t, s)
			require.NotNil(t, redisTimers(preview), "a preview plans the timer")
			assert.Empty(t, harness.PlaintextContaining(preview, password))
		})
	}
}

func redisTimers(res *mockrun.Result) *mockrun.Resource {
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "::redis-backup-timers") {
			r := r
			return &r
		}
	}
	return nil
}

func assertRedisBackups(t *testing.T, res *mockrun.Result) {
	t.Helper()
	srv := res.Named(harness.ContainerType, "redis")
	require.NotNil(t, srv)
	host := harness.Host(res, *srv)
	require.NotEmpty(t, host)

	files := map[string]harness.HostFile{}
	for _, f := range harness.HostFiles(res, host) {
		files[f.Path] = f
	}
	dir := "/srv/aurigraph/redis"
	backups, ok := files[dir+"/backups"]
	require.True(t, ok, "the backups directory is prepared on the Redis host")
	assert.Equal(t, "0700", backups.Mode)
	assert.Equal(t, "0:0", backups.Owner)
	for name, marker := range map[string]string{"backup.sh": "BGSAVE SCHEDULE", "restore.sh": "RESTORE_CONFIRM"} {
		f, ok := files[dir+"/bin/"+name]
		require.True(t, ok, "%s is installed on the Redis host", name)
		assert.Equal(t, "0750", f.Mode, name)
		assert.Contains(t, f.Content, marker, name)
		assert.Contains(t, f.Content, "DATA_DIR=${DATA_DIR:-'"+dir+"/data'}", name)
	}

	timers := redisTimers(res)
	require.NotNil(t, timers, "the snapshot timer is installed")
	assert.Equal(t, host, harness.Host(res, *timers), "on the Redis host")
	units := harness.Str(timers.Inputs, "stdin")
	assert.Contains(t, units, "install_unit aurigraph-backup-redis-snapshot.timer")
	assert.Contains(t, units, "ExecStart=/bin/bash "+dir+"/bin/backup.sh")
	assert.Contains(t, units, "OnCalendar="+redis.BackupEvery)
	assert.Contains(t, units, "seed_run 'redis' 'snapshot' 7200", "a snapshot older than 2 h alerts")
	waits := harness.Closure(res, timers.URN)
	assert.True(t, waits[srv.URN], "the timer waits for the Redis container (BGSAVE)")
	var scripts int
	for u := range waits {
		if strings.Contains(u, "redis-scripts") {
			scripts++
		}
	}
	assert.Positive(t, scripts, "the timer waits for the scripts")
}
