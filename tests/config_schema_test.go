package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// Pulumi.yaml and the program agree on the keys: every key the program
// reads is declared with a type and a description (the CLI validates
// values against the type), and every declared key is read.
func TestEveryConfigKeyTheProgramReadsIsDeclared(t *testing.T) {
	p, err := stackfile.LoadProject(harness.RepoRoot(t))
	require.NoError(t, err)
	read := map[string]bool{}
	for _, key := range stacks.ConfigKeys() {
		full := stacks.Namespace + ":" + key
		read[full] = true
		k, ok := p.Config[full]
		if !assert.True(t, ok, "%s is read by the program but not declared in Pulumi.yaml", full) {
			continue
		}
		assert.NotEmpty(t, k.Type, "%s: declare its type", full)
		assert.NotEmpty(t, k.Description, "%s: describe it", full)
	}
	for full := range p.Config {
		assert.True(t, read[full], "%s is declared in Pulumi.yaml but the program never reads it", full)
	}
	assert.Greater(t, len(read), 20)
}

// Secrets the program requires are declared secret, so the CLI refuses
// them in plain text; optional ones carry a default instead (the program
// refuses them in plain text).
func TestRequiredSecretsAreDeclaredSecret(t *testing.T) {
	p, err := stackfile.LoadProject(harness.RepoRoot(t))
	require.NoError(t, err)
	for _, key := range stacks.RequiredSecrets {
		k := p.Config[stacks.Namespace+":"+key]
		assert.True(t, k.Secret, "%s: declare it secret: true", key)
		assert.Nil(t, k.Default, "%s: a secret key may have no plain-text default", key)
	}
	for _, key := range append(append([]string{}, stacks.OperatorCertificateSecrets...), stacks.AlertingSecrets...) {
		k := p.Config[stacks.Namespace+":"+key]
		assert.False(t, k.Secret, "%s is optional: as a secret key with a default the engine refuses every stack", key)
		assert.Equal(t, "", k.Default, key)
	}
}
