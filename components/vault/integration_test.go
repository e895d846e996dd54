//go:build integration

package vault

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func attr(t *testing.T, b *hclsyntax.Body, name string) cty.Value {
	t.Helper()
	a, ok := b.Attributes[name]
	require.True(t, ok, "attribute %s", name)
	v, diags := a.Expr.Value(&hcl.EvalContext{})
	require.False(t, diags.HasErrors(), diags.Error())
	return v
}

func blocks(b *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			out = append(out, blk)
		}
	}
	return out
}

// TestIntegrationVaultHCL parses vault.hcl with HashiCorp's own HCL parser
// (the one Vault uses) and checks server mode with TLS.
func TestIntegrationVaultHCL(t *testing.T) {
	out, err := RenderConfig(Config())
	require.NoError(t, err)
	f, diags := hclparse.NewParser().ParseHCL([]byte(out), "vault.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	body := f.Body.(*hclsyntax.Body)

	for name := range body.Attributes {
		assert.NotContains(t, []string{"dev", "dev_mode"}, name, "no dev mode")
	}
	assert.Equal(t, cty.False, attr(t, body, "disable_mlock"))
	assert.Equal(t, cty.True, attr(t, body, "ui"))
	assert.Equal(t, "https://vault:8200", attr(t, body, "api_addr").AsString())
	assert.Equal(t, "https://vault:8201", attr(t, body, "cluster_addr").AsString())

	storage := blocks(body, "storage")
	require.Len(t, storage, 1)
	assert.Equal(t, []string{"file"}, storage[0].Labels)
	assert.Equal(t, "/vault/file", attr(t, storage[0].Body, "path").AsString())

	listeners := blocks(body, "listener")
	require.Len(t, listeners, 1)
	l := listeners[0]
	assert.Equal(t, []string{"tcp"}, l.Labels)
	assert.Equal(t, cty.False, attr(t, l.Body, "tls_disable"))
	assert.Equal(t, "/vault/tls/vault.crt", attr(t, l.Body, "tls_cert_file").AsString())
	assert.Equal(t, "/vault/tls/vault.key", attr(t, l.Body, "tls_key_file").AsString())
	assert.Equal(t, "0.0.0.0:8200", attr(t, l.Body, "address").AsString())
	lt := blocks(l.Body, "telemetry")
	require.Len(t, lt, 1)
	assert.Equal(t, cty.True, attr(t, lt[0].Body, "unauthenticated_metrics_access"))

	tel := blocks(body, "telemetry")
	require.Len(t, tel, 1)
	assert.Equal(t, "24h", attr(t, tel[0].Body, "prometheus_retention_time").AsString())
}

func TestIntegrationVaultPostInitShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck not found: apt-get install shellcheck")
	}
	script, err := RenderPostInit(PostInit("/srv/aurigraph/vault/bin/post-init.sh", "prod",
		[]string{"postgres", "redis", "aurigraph-v11"}, testDB))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "post-init.sh")
	require.NoError(t, os.WriteFile(p, []byte(script), 0o644))
	// The vault image has busybox sh, not bash: POSIX sh dialect.
	out, err := exec.Command("shellcheck", "--shell=sh", "--severity=style", p).CombinedOutput()
	assert.NoError(t, err, "%s", out)
	// And it parses as POSIX sh.
	out, err = exec.Command("sh", "-n", p).CombinedOutput()
	assert.NoError(t, err, "%s", out)
}
