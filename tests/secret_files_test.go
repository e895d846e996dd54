package tests

import (
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/policy/rules"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// secretFileVars are the variables that name a secret file instead of
// holding the secret.
func secretFileVar(name string) bool {
	return strings.HasSuffix(name, "_FILE") || name == "PGPASSFILE" || name == "QUARKUS_CONFIG_LOCATIONS"
}

// Secrets reach containers as files: no container but the policy pack's
// exceptions has a credential in its environment, secret or not; every
// secret file sits in the container's own directory, owned by its user with
// mode 0400 (the directory 0500), mounted read-only at /run/secrets; each
// variable that names a file names one of them; and the contents are the
// stack's secrets, which appear in plain text nowhere.
func TestSecretsReachContainersAsFiles(t *testing.T) {
	require.Equal(t, container.SecretsMount, rules.SecretsMount, "the policy pack checks the mount the containers get")
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			files := map[string]map[string]harness.HostFile{} // host → path → file
			var withFiles, exempt int
			seenContent := map[string]bool{}
			for _, c := range res.OfType(harness.ContainerType) {
				name := harness.Str(c.Inputs, "name")
				kind := harness.Label(c, container.ServiceLabel)
				env := containerEnv(c)
				_, excepted := rules.SecretEnvExceptions[kind]
				for k := range env {
					if rules.IsCredentialName(k) {
						assert.True(t, excepted, "%s (%s) has %s in its environment", name, kind, k)
						exempt++
					}
				}
				src, ro := secretsMount(c)
				if src == "" {
					for k := range env {
						assert.False(t, secretFileVar(k), "%s names a secret file (%s) but mounts none", name, k)
					}
					continue
				}
				withFiles++
				assert.True(t, ro, "%s mounts its secret files writable", name)
				host := harness.Host(res, c)
				if files[host] == nil {
					files[host] = map[string]harness.HostFile{}
					for _, f := range harness.HostFiles(res, host) {
						files[host][f.Path] = f
					}
				}
				owner := ownerOf(t, harness.Str(c.Inputs, "user"))
				dir, ok := files[host][src]
				if assert.True(t, ok && dir.Dir, "%s mounts %s, which nothing creates", name, src) {
					assert.Equal(t, owner, dir.Owner, "%s's secret directory", name)
					assert.Equal(t, "0500", dir.Mode, "%s's secret directory", name)
				}
				var inDir int
				for p, f := range files[host] {
					if !f.Dir && path.Dir(p) == src {
						inDir++
						assert.Equal(t, owner, f.Owner, "%s: %s", name, p)
						assert.Equal(t, "0400", f.Mode, "%s: %s", name, p)
						assert.NotEmpty(t, f.Content, "%s: %s", name, p)
						seenContent[f.Content] = true
					}
				}
				assert.Positive(t, inDir, "%s mounts an empty secret directory", name)
				for k, v := range env {
					if secretFileVar(k) {
						f, ok := files[host][path.Join(src, strings.TrimPrefix(v, container.SecretsMount+"/"))]
						assert.True(t, ok && strings.HasPrefix(v, container.SecretsMount+"/"), "%s: %s=%s is not one of its secret files", name, k, v)
						assert.False(t, f.Dir)
					}
				}
			}
			// Not vacuous: the databases, their exporters, Grafana,
			// Elasticsearch and every application replica read files.
			assert.GreaterOrEqual(t, withFiles, 10, "containers with secret files")
			assert.Positive(t, exempt, "the exceptions (Kibana, Logstash) are still examined")
			for _, key := range []string{stacks.SecretPostgresPassword, stacks.SecretRedisPassword, stacks.SecretGrafanaAdminPassword, stacks.SecretElasticPassword} {
				v := s.Config[stacks.Namespace+":"+key]
				require.NotEmpty(t, v, key)
				assert.True(t, seenContent[v], "no container reads %s from a file", key)
			}
			assertNoPlaceholderInClear(t, s, res)
		})
	}
}

// In a preview the contents are unknown, and still no container takes a
// credential from its environment or mounts its secrets writable.
func TestSecretsReachContainersAsFilesInPreview(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Preview(t, harness.Stack(t, stack))
			var mounted int
			for _, c := range res.OfType(harness.ContainerType) {
				_, excepted := rules.SecretEnvExceptions[harness.Label(c, container.ServiceLabel)]
				for k := range containerEnv(c) {
					assert.False(t, rules.IsCredentialName(k) && !excepted, "%s has %s in its environment", c.Name, k)
				}
				if src, ro := secretsMount(c); src != "" {
					mounted++
					assert.True(t, ro, "%s", c.Name)
				}
			}
			assert.GreaterOrEqual(t, mounted, 10)
		})
	}
}

// containerEnv is a container's environment by name (values of secret
// elements included).
func containerEnv(c mockrun.Resource) map[string]string {
	out := map[string]string{}
	for _, e := range harness.Elements(c.Inputs["envs"]) {
		e = harness.Plain(e)
		if e.IsString() {
			k, v, _ := strings.Cut(e.StringValue(), "=")
			out[k] = v
		}
	}
	return out
}

// secretsMount is the host directory mounted at container.SecretsMount and
// whether read-only; "" when none.
func secretsMount(c mockrun.Resource) (string, bool) {
	for _, m := range harness.Elements(c.Inputs["mounts"]) {
		if v := harness.Field(m, "target"); v.IsString() && path.Clean(v.StringValue()) == container.SecretsMount {
			src, ro := harness.Field(m, "source"), harness.Field(m, "readOnly")
			return src.StringValue(), ro.IsBool() && ro.BoolValue()
		}
	}
	return "", false
}

// ownerOf is the uid:gid a container user owns files as ("uid" alone: gid = uid).
func ownerOf(t *testing.T, user string) string {
	t.Helper()
	require.NotEmpty(t, user)
	if !strings.Contains(user, ":") {
		return user + ":" + user
	}
	return user
}
