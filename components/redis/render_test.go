package redis

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"

	"github.com/aurigraph/infra/components/network"
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
	assert.Contains(t, out, "aclfile /usr/local/etc/redis/users.acl")
	assert.NotContains(t, out, "rename-command CONFIG", "the exporter needs CONFIG GET")
	again, _ := RenderConfig(Defaults(3072))
	assert.Equal(t, out, again)
	_, err = RenderConfig(ConfigValues{})
	assert.Error(t, err)
}

func TestRenderExporterPasswords(t *testing.T) {
	out, err := RenderExporterPasswords(`p"w`)
	require.NoError(t, err)
	assert.JSONEq(t, `{"redis://redis:6379":"p\"w"}`, out)
}

func TestSpecs(t *testing.T) {
	a := Args{Zones: network.NamedZones("aurigraph-network"), ServiceDir: "/srv/aurigraph/redis", Password: pulumi.String("admin-password"),
		Resources: container.Resources{CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048}}
	s := ServerSpec(a)
	assert.Empty(t, s.Ports)
	assert.Empty(t, s.CapAdd)
	assert.Equal(t, "999:1000", s.User)
	assert.Empty(t, s.SecretEnv)
	assert.Empty(t, s.Env)
	assert.Equal(t, "/srv/aurigraph/redis/secrets/redis", s.SecretsDir)
	assert.Equal(t, []string{"redis-server", "/usr/local/etc/redis/redis.conf"}, s.Command, "users and passwords come from the ACL file")
	assert.Contains(t, s.Health.Test[1], `REDISCLI_AUTH="$(cat /run/secrets/redis-password)" redis-cli --no-auth-warning --user admin`)
	assert.NotContains(t, s.Health.Test[1], " -a ", "no password on a command line")
	e := ExporterSpec(a)
	assert.Empty(t, e.Ports)
	assert.Empty(t, e.SecretEnv)
	if assert.Len(t, e.SecretFiles, 1) {
		assert.Equal(t, "REDIS_PASSWORD_FILE", e.SecretFiles[0].Env)
	}
	assert.Equal(t, ExporterUser, e.Env["REDIS_USER"], "the exporter's own read-only user")
	assert.Equal(t, "redis://redis:6379", e.Env["REDIS_ADDR"])
	for _, d := range Dirs("/srv/aurigraph/redis") {
		if d.Path == "/srv/aurigraph/redis/data" {
			assert.Equal(t, 999, d.UID)
			assert.Equal(t, "0700", d.Mode)
		}
	}
}

func TestRenderACL(t *testing.T) {
	out, err := RenderACL(Users("an-admin-password"))
	require.NoError(t, err)
	again, _ := RenderACL(Users("an-admin-password"))
	assert.Equal(t, out, again, "same password, same file")
	rotated, _ := RenderACL(Users("another-admin-password"))
	assert.NotEqual(t, out, rotated)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, "user default off resetpass resetkeys resetchannels -@all", lines[0])
	for _, u := range []string{AdminUser, AppUser, ExporterUser, GrafanaUser} {
		assert.NotContains(t, out, UserPassword("an-admin-password", u), "no password in clear")
		assert.Regexp(t, `(?m)^user `+u+` on #[0-9a-f]{64} `, out)
	}
	assert.Contains(t, out, "~aurigraph:* ~cache:*")
	assert.Regexp(t, `(?m)^user aurigraph .* -@admin -@dangerous$`, out, "dangerous commands removed last")

	_, err = RenderACL([]ACLUser{{Name: "default", Rules: "off"}, {Name: "x", Rules: "on >clear ~* +@all"}})
	assert.ErrorContains(t, err, "never in clear")
	_, err = RenderACL([]ACLUser{{Name: "x", Rules: "on #ab"}})
	assert.ErrorContains(t, err, "default user")
	_, err = RenderACL([]ACLUser{{Name: "default", Rules: "off\nuser evil on nopass +@all"}})
	assert.Error(t, err)
}
