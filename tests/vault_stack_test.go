package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

func TestStackVault(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)

			provider := res.Named("pulumi:providers:docker", dataHostOf(t, s)+"-docker")
			require.NotNil(t, provider)

			v := res.Named("docker:index/container:Container", "vault")
			require.NotNil(t, v)
			assert.Equal(t, provider.URN, v.Provider)
			assert.Contains(t, v.Parent, "aurigraph:vault:Vault")
			assert.Empty(t, propArray(v.Inputs["ports"]), "vault publishes no port")
			assert.Equal(t, []resource.PropertyValue{resource.NewProperty("server")}, propArray(v.Inputs["command"]), "server mode, not -dev")
			want := stacks.DefaultResources[stacks.Vault]
			assert.Equal(t, float64(want.MemoryMB), v.Inputs["memory"].NumberValue())

			// TLS files are written from secrets over stdin; the key is never in clear.
			written := res.Named("command:remote:Command", "vault-tls")
			require.NotNil(t, written)
			assert.True(t, written.Inputs["stdin"].IsSecret())
			files, err := configfile.SecretFiles(written.Inputs["create"].StringValue(), written.Inputs["stdin"].SecretValue().Element.StringValue())
			require.NoError(t, err)
			assert.Contains(t, files["/srv/aurigraph/vault/tls/vault.key"], "PRIVATE KEY")
			assert.Contains(t, files["/srv/aurigraph/vault/tls/vault.crt"], "CERTIFICATE")
			assert.Contains(t, written.Inputs["create"].StringValue(), "'100:1000'")
			assert.Contains(t, v.DependsOn, written.URN)

			// A rotated certificate reloads Vault (SIGHUP), not a new container,
			// and no secret is a trigger.
			assert.Contains(t, written.Inputs["update"].StringValue(), "docker kill --signal=HUP vault")
			assert.NotContains(t, written.Inputs, resource.PropertyKey("triggers"))
			for _, r := range res.Resources {
				if r.Type == "command:remote:CopyToRemote" && strings.Contains(r.Inputs["remotePath"].StringValue(), "/vault/") {
					assert.NotContains(t, r.Inputs["source"].AssetValue().Text, "PRIVATE KEY", r.Name)
				}
			}
		})
	}
}

func TestVaultCertRotationKeepsContainer(t *testing.T) {
	base := harness.Stack(t, "prod")
	before := harness.Run(t, base)
	after := harness.Run(t, base.Set("pki", `{"rotation": 1, "validityHours": 2160, "earlyRenewalHours": 720, "caValidityHours": 87600}`))
	c1 := before.Named("docker:index/container:Container", "vault")
	c2 := after.Named("docker:index/container:Container", "vault")
	require.NotNil(t, c1)
	require.NotNil(t, c2)
	assert.True(t, c1.Inputs.DeepEquals(c2.Inputs), "the container's inputs do not change with the certificate")
	r1 := before.Named("command:remote:Command", "vault-tls")
	r2 := after.Named("command:remote:Command", "vault-tls")
	assert.False(t, r1.Inputs["stdin"].DeepEquals(r2.Inputs["stdin"]), "the new certificate updates the step, which reloads Vault")
}
