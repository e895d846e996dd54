package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/tests/harness"
)

// Both stacks snapshot Redis hourly on its own host: the rendered scripts,
// a root-only backups directory, the timer (with redis-tools for the
// check), and no password in any of it; a first preview plans the same.
func TestRedisSnapshotsOnTheCacheHost(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			srv := res.Named(harness.ContainerType, "redis")
			require.NotNil(t, srv)
			on := harness.Host(res, *srv)

			files := map[string]harness.HostFile{}
			for _, f := range harness.HostFiles(res, on) {
				files[f.Path] = f
			}
			for _, script := range []string{"/srv/aurigraph/redis/bin/backup.sh", "/srv/aurigraph/redis/bin/restore.sh"} {
				f, ok := files[script]
				require.True(t, ok, "%s is installed on the Redis host %s", script, on)
				assert.Equal(t, "0750", f.Mode, script)
				assert.Contains(t, f.Content, "rendered by components/redis")
			}
			dir, ok := files["/srv/aurigraph/redis/backups"]
			require.True(t, ok, "the backups directory is prepared")
			assert.Equal(t, "0700", dir.Mode)
			assert.Equal(t, "0:0", dir.Owner)

			timers := res.Named("command:remote:Command", "redis-backup-timers")
			require.NotNil(t, timers)
			assert.Equal(t, on, harness.Host(res, *timers), "the timer runs where the data is")
			stdin := harness.Str(timers.Inputs, "stdin")
			assert.Contains(t, stdin, "ExecStart=/bin/bash /srv/aurigraph/redis/bin/backup.sh")
			assert.Contains(t, stdin, "packages=( redis-tools)")
			assert.Contains(t, stdin, "seed_run 'redis' 'snapshot' 7200")

			password := s.Config["aurigraph:redisPassword"]
			require.NotEmpty(t, password)
			assert.Empty(t, harness.PlaintextContaining(res, password), "the admin password stays secret")
			harness.Preview(t, s)
		})
	}
}
