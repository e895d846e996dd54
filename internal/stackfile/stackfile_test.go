package stackfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func project() *Project {
	return &Project{Name: "aurigraph", Config: map[string]Key{
		"aurigraph:hosts":            {Type: "array"},
		"aurigraph:postgresPassword": {Type: "string", Secret: true},
		"aurigraph:redisPassword":    {Type: "string", Secret: true},
		"aurigraph:edgeCertificate":  {Type: "string", Secret: true, Default: ""},
	}}
}

func TestEncryptedAndUnsetSecretsAreMissing(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]any{
		"aurigraph:hosts":            []any{map[string]any{"name": "a"}},
		"aurigraph:postgresPassword": map[string]any{"secure": "v1:AAAA"},
	})
	require.NoError(t, err)
	assert.Equal(t, `[{"name":"a"}]`, s.Config["aurigraph:hosts"], "structured values become JSON")
	assert.Equal(t, []string{"aurigraph:postgresPassword", "aurigraph:redisPassword"}, s.MissingSecrets,
		"ciphertext cannot be read here; an optional secret with a default is not missing")
	assert.NotContains(t, s.Config, "aurigraph:postgresPassword")
}

func TestPlaceholdersAreSecretDeterministicAndNotWeak(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]any{})
	require.NoError(t, err)
	a, b := s.WithPlaceholders(), s.WithPlaceholders()
	assert.Equal(t, a.Config, b.Config)
	v := a.Config["aurigraph:postgresPassword"]
	assert.True(t, strings.HasPrefix(v, "plan-placeholder-"))
	assert.Greater(t, len(v), 20)
	assert.Contains(t, a.SecretKeys, "aurigraph:postgresPassword")
	assert.Empty(t, s.Config, "the original is not modified")
}

func TestSetAndDeleteDeriveCopies(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]any{"aurigraph:hosts": []any{}})
	require.NoError(t, err)
	c := s.Set("tiers", `{"slim":{"replicas":2}}`).Delete("hosts")
	assert.Equal(t, `{"slim":{"replicas":2}}`, c.Config["aurigraph:tiers"])
	assert.NotContains(t, c.Config, "aurigraph:hosts")
	assert.Contains(t, s.Config, "aurigraph:hosts")
}

func TestCommittedStackFilesLoad(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		s, err := Load("../..", stack)
		require.NoError(t, err, stack)
		assert.Equal(t, "aurigraph", s.Project)
		assert.Contains(t, s.Config, "aurigraph:hosts")
		assert.Contains(t, s.MissingSecrets, "aurigraph:sshPrivateKey", "no secret is committed")
		for key := range s.Config {
			assert.NotContains(t, s.SecretKeys, key, "%s: committed stack files hold no secret values", key)
		}
	}
}
