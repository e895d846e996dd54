package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

func TestStackGrafana(t *testing.T) {
	for _, tc := range []struct{ stack, rootURL string }{
		{"prod", "https://grafana.ops.aurigraph.example.com/"},
		{"staging", "https://grafana.staging.aurigraph.example.com/"},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, tc.stack))
			c := res.Named("docker:index/container:Container", grafana.ContainerName)
			require.NotNil(t, c)
			assert.Contains(t, c.Parent, "aurigraph:grafana:Grafana")
			if p, ok := c.Inputs["ports"]; ok && !p.IsNull() {
				assert.Empty(t, p.ArrayValue(), "no published port")
			}
			plain := map[string]string{}
			secret := map[string]bool{}
			for _, e := range c.Inputs["envs"].ArrayValue() {
				if e.IsSecret() {
					k, _, _ := strings.Cut(e.SecretValue().Element.StringValue(), "=")
					secret[k] = true
					continue
				}
				k, v, _ := strings.Cut(e.StringValue(), "=")
				plain[k] = v
			}
			assert.Empty(t, secret, "the passwords are secret files")
			for _, k := range []string{"GF_SECURITY_ADMIN_PASSWORD", "ES_PASSWORD", "REDIS_PASSWORD"} {
				assert.NotContains(t, plain, k, "%s in plain text", k)
			}
			assert.Equal(t, "/run/secrets/"+grafana.AdminPasswordFile, plain["GF_SECURITY_ADMIN_PASSWORD__FILE"])
			assert.Equal(t, "false", plain["GF_AUTH_ANONYMOUS_ENABLED"])
			assert.Equal(t, "false", plain["GF_USERS_ALLOW_SIGN_UP"])
			assert.Equal(t, tc.rootURL, plain["GF_SERVER_ROOT_URL"])
			assert.Equal(t, grafana.RedisPlugin, plain["GF_INSTALL_PLUGINS"])
			assert.Regexp(t, `^redis-datasource \d+\.\d+\.\d+$`, plain["GF_INSTALL_PLUGINS"], "plugin pinned")
			assert.Equal(t, "472:0", c.Inputs["user"].StringValue())

			ca := res.Named("command:remote:Command", "grafana-ca")
			require.NotNil(t, ca)
			assert.True(t, ca.Inputs["stdin"].IsSecret())
			assert.Contains(t, ca.Inputs["create"].StringValue(), "/srv/aurigraph/grafana/certs/ca.pem")

			// Every dashboard reaches the host; no file carries a secret value.
			var dashboards int
			for p, content := range harness.InstalledFiles(res) {
				if !strings.HasPrefix(p, "/srv/aurigraph/grafana/") {
					continue
				}
				assert.NotContains(t, content, "plan-placeholder-", "a secret in a file")
				if strings.HasSuffix(p, ".json") {
					dashboards++
				}
			}
			assert.Equal(t, 5, dashboards)
			grafanaAssertNoSecretInPlainText(t, res)
		})
	}
}

// grafanaAssertNoSecretInPlainText: no placeholder secret value appears unwrapped
// in any input of the Grafana component's resources.
func grafanaAssertNoSecretInPlainText(t *testing.T, res *mockrun.Result) {
	t.Helper()
	for _, r := range res.Resources {
		if !strings.Contains(r.URN, "aurigraph:grafana:Grafana") {
			continue
		}
		for _, v := range harness.PlainStrings(resource.NewObjectProperty(r.Inputs)) {
			assert.NotContains(t, v, "plan-placeholder-", "%s: secret in plain text", r.Name)
		}
	}
}
