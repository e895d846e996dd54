package stackfile

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func project() *Project {
	return &Project{Name: "aurigraph", Config: map[string]Key{
		"aurigraph:hosts":            {Type: "array", Items: &workspace.ProjectConfigItemsType{Type: "object"}},
		"aurigraph:ssh":              {Type: "object", Default: map[string]any{}},
		"aurigraph:postgresPassword": {Type: "string", Secret: true},
		"aurigraph:redisPassword":    {Type: "string", Secret: true},
		"aurigraph:edgeCertificate":  {Type: "string", Default: ""},
	}}
}

func TestEncryptedAndUnsetSecretsAreMissingAndDefaultsApply(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]Value{
		"aurigraph:hosts":            {Text: `[{"name":"a"}]`, Object: true},
		"aurigraph:postgresPassword": {Text: "v1:AAAA", Secure: true},
	})
	require.NoError(t, err)
	assert.Equal(t, `[{"name":"a"}]`, s.Config["aurigraph:hosts"], "structured values stay JSON")
	assert.Equal(t, `{}`, s.Config["aurigraph:ssh"], "the engine applies Pulumi.yaml defaults")
	assert.Equal(t, "", s.Config["aurigraph:edgeCertificate"])
	assert.Equal(t, []string{"aurigraph:postgresPassword", "aurigraph:redisPassword"}, s.MissingSecrets,
		"ciphertext cannot be read here")
	assert.NotContains(t, s.Config, "aurigraph:postgresPassword")
}

// The engine stops before the program runs on each of these; so does Load.
func TestEngineRulesRefuseWhatTheCLIRefuses(t *testing.T) {
	cases := []struct {
		name   string
		key    Key
		values map[string]Value
		want   string
	}{
		{"secret key with a plain-text default", Key{Type: "string", Secret: true, Default: ""}, nil,
			"'aurigraph:k' must be encrypted as it's secret"},
		{"secret key set in plain text", Key{Type: "string", Secret: true},
			map[string]Value{"aurigraph:k": {Text: "hunter2"}}, "'aurigraph:k' must be encrypted as it's secret"},
		{"required key unset", Key{Type: "object"}, nil, "missing configuration 'aurigraph:k'"},
		{"value of the wrong type", Key{Type: "object"},
			map[string]Value{"aurigraph:k": {Text: "[1]", Object: true}}, "'aurigraph:k' must be of type 'object'"},
		{"integer as text", Key{Type: "integer"}, map[string]Value{"aurigraph:k": {Text: "many"}}, "must be of type 'integer'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Project{Name: "aurigraph", Config: map[string]Key{"aurigraph:k": tc.key}}
			_, err := FromValues(p, "prod", tc.values)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEngineRulesReportEveryProblemAtOnce(t *testing.T) {
	p := &Project{Name: "aurigraph", Config: map[string]Key{
		"aurigraph:a": {Type: "string", Secret: true, Default: ""},
		"aurigraph:b": {Type: "object"},
	}}
	_, err := FromValues(p, "prod", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aurigraph:a")
	assert.Contains(t, err.Error(), "aurigraph:b")
}

func TestPlaceholdersAreSecretDeterministicAndNotWeak(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]Value{"aurigraph:hosts": {Text: "[]", Object: true}})
	require.NoError(t, err)
	a, b := s.WithPlaceholders(), s.WithPlaceholders()
	assert.Equal(t, a.Config, b.Config)
	v := a.Config["aurigraph:postgresPassword"]
	assert.True(t, strings.HasPrefix(v, "plan-placeholder-"))
	assert.Greater(t, len(v), 20)
	assert.Contains(t, a.SecretKeys, "aurigraph:postgresPassword")
	assert.NotContains(t, s.Config, "aurigraph:postgresPassword", "the original is not modified")
}

func TestSetAndDeleteDeriveCopies(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]Value{"aurigraph:hosts": {Text: "[]", Object: true}})
	require.NoError(t, err)
	c := s.Set("tiers", `{"slim":{"replicas":2}}`).Delete("hosts")
	assert.Equal(t, `{"slim":{"replicas":2}}`, c.Config["aurigraph:tiers"])
	assert.NotContains(t, c.Config, "aurigraph:hosts")
	assert.Contains(t, s.Config, "aurigraph:hosts")
}

// The committed files pass the CLI's own loaders and the engine's rules.
func TestCommittedStackFilesPassTheEnginesRules(t *testing.T) {
	p, err := LoadProject("../..")
	require.NoError(t, err)
	for key, k := range p.Config {
		if k.Secret {
			assert.Nil(t, k.Default, "%s: a secret key may have no plain-text default", key)
		}
	}
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

// An optional secret (default "", not declared secret) set with
// `pulumi config set --secret` is ciphertext here: it is set, so the
// program must not see it as unset; it is planned with a placeholder.
func TestEncryptedOptionalSecretIsPlannedWithAPlaceholder(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]Value{
		"aurigraph:hosts":           {Text: `[]`, Object: true},
		"aurigraph:edgeCertificate": {Text: "v1:BBBB", Secure: true},
	})
	require.NoError(t, err)
	assert.Contains(t, s.MissingSecrets, "aurigraph:edgeCertificate")
	planned := s.WithPlaceholders()
	assert.True(t, strings.HasPrefix(planned.Config["aurigraph:edgeCertificate"], "plan-placeholder-"))
	assert.Contains(t, planned.SecretKeys, "aurigraph:edgeCertificate")
}

func TestSetSecretMarksTheKeySecret(t *testing.T) {
	s, err := FromValues(project(), "prod", map[string]Value{"aurigraph:hosts": {Text: `[]`, Object: true}})
	require.NoError(t, err)
	c := s.SetSecret("edgeCertificate", "PEM")
	assert.Equal(t, "PEM", c.Config["aurigraph:edgeCertificate"])
	assert.Contains(t, c.SecretKeys, "aurigraph:edgeCertificate")
	assert.NotContains(t, s.SecretKeys, "aurigraph:edgeCertificate", "a copy: the original is unchanged")
	assert.Len(t, c.SetSecret("edgeCertificate", "PEM2").SecretKeys, len(c.SecretKeys), "listed once")
}
