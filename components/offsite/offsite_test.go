package offsite

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"
)

var (
	testSFTP = SFTP{Host: "192.0.2.51", Port: 22, User: "backup", Path: "/srv/restic/prod", HostKey: "ssh-ed25519 AAAA"}
	testS3   = S3{Endpoint: "https://s3.example.net", Bucket: "aurigraph-backups", Prefix: "prod", Region: "eu-central-1"}
)

func testArgs(sftp SFTP, s3 S3) Args {
	return Args{Source: backupjob.Source{Store: "redis", Paths: []string{"/srv/aurigraph/redis/backups"}},
		Target: sftp, S3: s3, Dir: "/srv/aurigraph/backups", Retention: Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}}
}

func TestJobsAreValidAndEachStoreHasItsOwnRepository(t *testing.T) {
	jobs := Jobs("redis", ScriptPath("/srv/aurigraph/backups", "redis"))
	require.Len(t, jobs, 3)
	for _, j := range jobs {
		assert.NoError(t, j.Validate())
		assert.Equal(t, "redis", j.Store)
	}
	assert.Equal(t, "/bin/bash /srv/aurigraph/backups/bin/offsite-redis.sh sftp copy", jobs[0].Command)
	assert.Equal(t, 20*time.Minute, MaxAge("offsite-copy"), "a copy every 5 minutes, alerting after 20")
	_, err := backupjob.RenderTimers(backupjob.TimerValues{Jobs: jobs})
	require.NoError(t, err)

	v := testArgs(testSFTP, S3{}).Values()
	assert.Equal(t, "sftp:backup@192.0.2.51:/srv/restic/prod/redis", v.Repository())
	assert.Equal(t, "/srv/aurigraph/backups/offsite/redis", v.StateDir)
	script, err := RenderScript(v)
	require.NoError(t, err)
	assert.Contains(t, script, "record_run 'redis' offsite-copy 1200")
	assert.NotContains(t, script, "s3-copy", "no bucket, no S3 records")
}

// Each target has its own kinds, timers and records: one failing alerts on
// its own, and MaxAge knows both.
func TestEachTargetHasItsOwnJobsAndRecords(t *testing.T) {
	jobs := Jobs("redis", "/srv/b/bin/offsite-redis.sh", TargetSFTP, TargetS3)
	var kinds []string
	for _, j := range jobs {
		require.NoError(t, j.Validate())
		kinds = append(kinds, j.Kind)
		assert.Equal(t, MaxAge(strings.Replace(j.Kind, "s3-", "offsite-", 1)), MaxAge(j.Kind))
	}
	assert.Equal(t, []string{"offsite-copy", "offsite-forget", "offsite-check", "s3-copy", "s3-forget", "s3-check"}, kinds)
	assert.Len(t, backupjob.Units(jobs), 12, "a service and a timer per job, none shared")
	assert.Equal(t, "/bin/bash /srv/b/bin/offsite-redis.sh s3 check", jobs[5].Command)
	assert.Equal(t, 8*24*time.Hour, MaxAge("s3-check"))
	assert.Zero(t, MaxAge("s3-restore"))

	v := testArgs(testSFTP, testS3).Values()
	assert.Equal(t, []Target{{TargetSFTP, "sftp:backup@192.0.2.51:/srv/restic/prod/redis"},
		{TargetS3, "s3:https://s3.example.net/aurigraph-backups/prod/redis"}}, v.Targets(), "SFTP is the default")
	script, err := RenderScript(v)
	require.NoError(t, err)
	for _, want := range []string{
		"s3-copy) record_run 'redis' s3-copy 1200",
		"s3-check) record_run 'redis' s3-check 691200",
		"offsite-forget) record_run 'redis' offsite-forget 180000",
		"repository='s3:https://s3.example.net/aurigraph-backups/prod/redis'",
		"s3) restic -o s3.region='eu-central-1' \"$@\"",
		`AWS_SECRET_ACCESS_KEY=$(<"$STATE_DIR/s3-secret-access-key")`,
		"targets=( sftp s3)",
	} {
		assert.Contains(t, script, want)
	}
	assert.NotContains(t, script, "AWS_SECRET_ACCESS_KEY=$AWS", "the key is read from its file only")

	// S3 alone: the bucket is the default, no SFTP leftovers; no prefix
	// puts the store at the bucket's top.
	only := testArgs(SFTP{}, S3{Endpoint: "http://127.0.0.1:9000", Bucket: "bkt"}).Values()
	assert.Equal(t, "s3:http://127.0.0.1:9000/bkt/redis", only.Targets()[0].Repository)
	script, err = RenderScript(only)
	require.NoError(t, err)
	assert.NotContains(t, script, "sftp.command")
	assert.NotContains(t, script, "known_hosts")
	assert.NotContains(t, script, "s3.region", "no region: restic asks the endpoint")
	sftpOnly, err := RenderScript(testArgs(testSFTP, S3{}).Values())
	require.NoError(t, err)
	assert.NotContains(t, sftpOnly, "AWS_")
}

func TestS3ValuesAreChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		s3   S3
		want string // "" is accepted
	}{
		{"https", S3{Endpoint: "https://s3.eu-central-1.amazonaws.com", Bucket: "a.b-c"}, ""},
		{"https port", S3{Endpoint: "https://minio.internal:9000/", Bucket: "abc", Prefix: "x/y_z"}, ""},
		{"http loopback", S3{Endpoint: "http://127.0.0.1:9000", Bucket: "abc"}, ""},
		{"http localhost", S3{Endpoint: "http://localhost:9000", Bucket: "abc"}, ""},
		{"http remote", S3{Endpoint: "http://192.0.2.9:9000", Bucket: "abc"}, "only loopback may use http"},
		{"ftp", S3{Endpoint: "ftp://s3.example.net", Bucket: "abc"}, "neither https nor http"},
		{"path", S3{Endpoint: "https://s3.example.net/bucket", Bucket: "abc"}, "scheme and a host only"},
		{"credentials", S3{Endpoint: "https://k:s@s3.example.net", Bucket: "abc"}, "scheme and a host only"},
		{"shell", S3{Endpoint: "https://s3.example.net;rm", Bucket: "abc"}, "https://host[:port]"},
		{"short bucket", S3{Endpoint: "https://s", Bucket: "ab"}, "3-63"},
		{"upper bucket", S3{Endpoint: "https://s", Bucket: "Backups"}, "3-63"},
		{"dots", S3{Endpoint: "https://s", Bucket: "a..b"}, "adjacent dots"},
		{"ip bucket", S3{Endpoint: "https://s", Bucket: "192.168.5.4"}, "IP address"},
		{"reserved", S3{Endpoint: "https://s", Bucket: "xn--abc"}, "reserves"},
		{"prefix slash", S3{Endpoint: "https://s", Bucket: "abc", Prefix: "/prod"}, "single slashes"},
		{"prefix dotdot", S3{Endpoint: "https://s", Bucket: "abc", Prefix: "a/../b"}, "single slashes"},
		{"region", S3{Endpoint: "https://s", Bucket: "abc", Region: "EU Central"}, "region name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := testArgs(SFTP{}, S3{}).Values()
			v.S3 = c.s3 // as given: Args.Values would clean the prefix
			_, err := RenderScript(v)
			if c.want == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.want)
			}
		})
	}
	_, err := RenderScript(testArgs(SFTP{}, S3{}).Values())
	assert.ErrorContains(t, err, "an SFTP host or an S3 endpoint is required")
}
