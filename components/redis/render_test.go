package redis

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
)

func TestMaxMemoryLeavesHeadroom(t *testing.T) {
	assert.Equal(t, 3072, MaxMemoryFor(4096))
	assert.Less(t, MaxMemoryFor(4096), 4096)
}

func TestRenderConfig(t *testing.T) {
	out, err := RenderConfig(Defaults(3072))
	require.NoError(t, err)
	for _, want := range []string{
		"maxmemory 3072mb", "maxmemory-policy allkeys-lru", "appendonly yes", "appendfsync everysec",
		"save 3600 1 300 100 60 10000", "protected-mode yes", "dir /data", "port 6379",
		`rename-command FLUSHALL ""`, `rename-command FLUSHDB ""`, `rename-command DEBUG ""`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NotRegexp(t, `(?m)^\s*requirepass`, out, "the password never is in the file")
	assert.NotContains(t, out, "rename-command CONFIG", "the exporter needs CONFIG GET")
	again, _ := RenderConfig(Defaults(3072))
	assert.Equal(t, out, again)
	_, err = RenderConfig(ConfigValues{})
	assert.Error(t, err)
}

func TestRenderAuthConfig(t *testing.T) {
	assert.Equal(t, "requirepass \"\\x61\\x22\\x20\\x0a\"\n", RenderAuthConfig("a\" \n"))
	out, err := RenderExporterPasswords(`p"w`)
	require.NoError(t, err)
	assert.JSONEq(t, `{"redis://redis:6379":"p\"w"}`, out)
}

func TestSpecs(t *testing.T) {
	a := Args{Network: pulumi.String("aurigraph-network"), ServiceDir: "/srv/aurigraph/redis",
		Resources: container.Resources{CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048}}
	s := ServerSpec(a)
	assert.Empty(t, s.Ports)
	assert.Empty(t, s.CapAdd)
	assert.Equal(t, "999:1000", s.User)
	assert.Empty(t, s.SecretEnv)
	assert.Empty(t, s.Env)
	assert.Equal(t, "/srv/aurigraph/redis/secrets/redis", s.SecretsDir)
	assert.Equal(t, []string{"redis-server", "/usr/local/etc/redis/redis.conf", "--include", "/run/secrets/redis-auth.conf"}, s.Command)
	assert.Contains(t, s.Health.Test[1], `REDISCLI_AUTH="$(cat /run/secrets/redis-password)" redis-cli`)
	assert.NotContains(t, s.Health.Test[1], " -a ", "no password on a command line")
	e := ExporterSpec(a)
	assert.Empty(t, e.Ports)
	assert.Empty(t, e.SecretEnv)
	if assert.Len(t, e.SecretFiles, 1) {
		assert.Equal(t, "REDIS_PASSWORD_FILE", e.SecretFiles[0].Env)
	}
	assert.Equal(t, "redis://redis:6379", e.Env["REDIS_ADDR"])
	for _, d := range Dirs("/srv/aurigraph/redis") {
		if d.Path == "/srv/aurigraph/redis/data" {
			assert.Equal(t, 999, d.UID)
			assert.Equal(t, "0700", d.Mode)
		}
	}
}
