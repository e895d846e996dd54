package tests

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/redis"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// envWithSecrets is a container's environment, secret values unwrapped,
// and which of its names hold a secret.
func envWithSecrets(c mockrun.Resource) (env map[string]string, secret map[string]bool) {
	env, secret = map[string]string{}, map[string]bool{}
	envs := c.Inputs["envs"]
	for _, e := range harness.Elements(envs) {
		v := harness.Plain(e)
		if !v.IsString() {
			continue
		}
		if k, val, ok := strings.Cut(v.StringValue(), "="); ok {
			env[k] = val
			secret[k] = e.ContainsSecrets() || envs.IsSecret()
		}
	}
	return env, secret
}

// envFile is the secret file a container's variable names (…_FILE), by
// its name in the secrets mount.
func envFile(c mockrun.Resource, key string) string {
	env, _ := envWithSecrets(c)
	return strings.TrimPrefix(env[key], container.SecretsMount+"/")
}

// secretFileOf is the content of a container's secret file as the plan
// writes it on the container's host.
func secretFileOf(t *testing.T, res *mockrun.Result, c mockrun.Resource, name string) string {
	t.Helper()
	src, _ := secretsMount(c)
	require.NotEmpty(t, src, "%s mounts no secret files", c.Name)
	for _, f := range harness.HostFiles(res, harness.Host(res, c)) {
		if f.Path == path.Join(src, name) && !f.Dir {
			return f.Content
		}
	}
	t.Fatalf("%s: no secret file %s in %s", c.Name, name, src)
	return ""
}

// No service logs in as a data store's superuser: each logs in as its own
// account, with its derived password, a secret; the superuser's password
// reaches only the PostgreSQL container (initdb) and the roles bootstrap,
// Redis's admin password only the Redis container.
func TestStackServiceAccounts(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			containers := harness.Containers(res)
			pgPw := s.Config[stacks.Namespace+":"+stacks.SecretPostgresPassword]
			redisPw := s.Config[stacks.Namespace+":"+stacks.SecretRedisPassword]
			require.NotEmpty(t, pgPw)
			require.NotEmpty(t, redisPw)

			// Which containers hold which store secret, in their environment
			// or their secret files.
			for name, c := range containers {
				if src, _ := secretsMount(c); src != "" {
					for _, f := range harness.HostFiles(res, harness.Host(res, c)) {
						if path.Dir(f.Path) != src || f.Dir {
							continue
						}
						if strings.Contains(f.Content, pgPw) {
							assert.Equal(t, postgres.ContainerName, name, "%s holds the PostgreSQL superuser's password in %s", name, f.Path)
						}
						if strings.Contains(f.Content, redisPw) {
							assert.Equal(t, redis.ContainerName, name, "%s holds Redis's admin password in %s", name, f.Path)
						}
					}
				}
				env, _ := envWithSecrets(c)
				for k, v := range env {
					if v == pgPw {
						assert.Equal(t, postgres.ContainerName, name, "%s holds the PostgreSQL superuser's password in %s", name, k)
					}
					if v == redisPw {
						assert.Equal(t, redis.ContainerName, name, "%s holds Redis's admin password in %s", name, k)
					}
				}
			}

			want := func(c mockrun.Resource, key, value string, isSecret bool) {
				t.Helper()
				env, secret := envWithSecrets(c)
				assert.Equal(t, value, env[key], "%s %s", c.Name, key)
				assert.Equal(t, isSecret, secret[key], "%s %s secret", c.Name, key)
			}
			replicas := 0
			for _, c := range containers {
				if harness.Label(c, "com.aurigraph.service") != stacks.App {
					continue
				}
				replicas++
				want(c, "QUARKUS_DATASOURCE_USERNAME", postgres.AppUser, false)
				want(c, "QUARKUS_REDIS_USERNAME", redis.AppUser, false)
				assert.Equal(t, app.RenderSecrets(postgres.RolePassword(pgPw, postgres.AppUser), redis.UserPassword(redisPw, redis.AppUser)),
					secretFileOf(t, res, c, app.SecretsFile), "%s logs in with its roles' passwords, from its secret properties file", c.Name)
			}
			require.NotZero(t, replicas)
			want(containers[postgres.ExporterName], "DATA_SOURCE_USER", postgres.ExporterUser, false)
			assert.Equal(t, postgres.RolePassword(pgPw, postgres.ExporterUser), secretFileOf(t, res, containers[postgres.ExporterName], envFile(containers[postgres.ExporterName], "DATA_SOURCE_PASS_FILE")))
			want(containers[redis.ExporterName], "REDIS_USER", redis.ExporterUser, false)
			exporterPasswords, err := redis.RenderExporterPasswords(redis.UserPassword(redisPw, redis.ExporterUser))
			require.NoError(t, err)
			assert.Equal(t, exporterPasswords, secretFileOf(t, res, containers[redis.ExporterName], envFile(containers[redis.ExporterName], "REDIS_PASSWORD_FILE")))
			assert.Equal(t, redis.UserPassword(redisPw, redis.GrafanaUser), secretFileOf(t, res, containers[grafana.ContainerName], grafana.RedisPasswordFile))
			for _, role := range []string{postgres.AppUser, postgres.ReportingUser, postgres.ExporterUser, postgres.VaultUser} {
				assert.Empty(t, harness.PlaintextContaining(res, postgres.RolePassword(pgPw, role)), "%s's password in clear", role)
			}
			for _, u := range []string{redis.AppUser, redis.ExporterUser, redis.GrafanaUser} {
				assert.Empty(t, harness.PlaintextContaining(res, redis.UserPassword(redisPw, u)), "%s's password in clear", u)
			}

			// The roles bootstrap: psql in the container, the script a secret
			// on stdin, after the database and before whatever logs in.
			var roles *mockrun.Resource
			for _, r := range res.OfType("command:remote:Command") {
				if r.Name == stacks.Postgres+"-roles" {
					roles = &r
				}
			}
			require.NotNil(t, roles, "the roles bootstrap step")
			assert.Equal(t, postgres.RolesCommand(), harness.Str(roles.Inputs, "create"))
			assert.True(t, roles.Inputs["stdin"].ContainsSecrets(), "roles.sql travels as a secret")
			sql, err := postgres.RenderRoles(postgres.Roles(pgPw))
			require.NoError(t, err)
			assert.Equal(t, sql, harness.Plain(roles.Inputs["stdin"]).StringValue())
			assert.True(t, harness.Closure(res, roles.URN)[containers[postgres.ContainerName].URN], "the bootstrap waits for the database")
			for _, name := range []string{postgres.ExporterName, pgbouncer.ContainerName} {
				assert.True(t, harness.Closure(res, containers[name].URN)[roles.URN], "%s waits for its role", name)
			}

			// Redis's users: the generated ACL file, a secret file the
			// container waits for; Vault's engine logs in as its own role.
			cfg := harness.Config(t, s)
			aclPath := fmt.Sprintf("%s/%s/conf/%s", cfg.Preflight.DataPath, stacks.Redis, redis.ACLFileName)
			acl, err := redis.RenderACL(redis.Users(redisPw))
			require.NoError(t, err)
			var written []harness.Write
			for _, w := range harness.Writes(res) {
				if w.Path == aclPath {
					written = append(written, w)
				}
			}
			require.Len(t, written, 1, "one step writes users.acl")
			assert.Equal(t, acl, written[0].Content)
			assert.True(t, harness.Closure(res, containers[redis.ContainerName].URN)[written[0].URN], "Redis starts with its users")
			postInit := ""
			for _, w := range harness.InstalledFiles(res) {
				if strings.Contains(w, "vault write database/config/") {
					postInit = w
				}
			}
			require.NotEmpty(t, postInit, "Vault's post-init script")
			assert.Contains(t, postInit, fmt.Sprintf(`username="%s" password=-`, postgres.VaultUser))
		})
	}
}
