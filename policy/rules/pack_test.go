package rules

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/policy/config"
)

type recorder struct{ msgs, urns []string }

func (r *recorder) ReportViolation(message, urn string) {
	r.msgs = append(r.msgs, message)
	r.urns = append(r.urns, urn)
}

// Every environment file lists exactly the pack's rules, prod makes them all
// mandatory but the opt-in ones (advisory until the stack is ready for them),
// and each rule has a name and a description.
func TestSettingsCoverEveryRule(t *testing.T) {
	envs := config.Environments()
	assert.Equal(t, []string{"prod", "staging"}, envs)
	for _, env := range envs {
		s, err := config.Load(env)
		require.NoError(t, err)
		var listed []string
		for name := range s.Rules {
			listed = append(listed, name)
		}
		assert.ElementsMatch(t, Names(), listed, "%s.json must list every rule and only rules", env)
		for _, r := range All() {
			assert.NotEmpty(t, r.Description, r.Name)
			if env == "prod" && r.OptIn == "" {
				assert.Equal(t, config.Mandatory, s.Level(r.Name), "prod: %s", r.Name)
			}
		}
	}
	unknown, err := config.Load("dev")
	require.NoError(t, err)
	assert.Equal(t, config.Strictest, unknown.Environment, "an unknown environment gets the strictest settings")
}

func TestPoliciesCarryLevelsAndConfig(t *testing.T) {
	staging, err := config.Load("staging")
	require.NoError(t, err)
	pack, err := NewPack(staging, Facts{})
	require.NoError(t, err)
	assert.Len(t, pack.Policies(), len(All()))
	levels := map[string]policyx.EnforcementLevel{}
	for _, p := range pack.Policies() {
		levels[p.Name()] = p.EnforcementLevel()
	}
	assert.Equal(t, policyx.EnforcementLevelAdvisory, levels["host-capacity"])
	assert.Equal(t, policyx.EnforcementLevelMandatory, levels["container-not-privileged"])

	var validity policyx.ResourceValidationPolicy
	for _, p := range pack.Policies() {
		if p.Name() == "tls-certificate-validity" {
			validity = p.(policyx.ResourceValidationPolicy)
		}
	}
	cert := resourceOf(LocallySignedType, "c", M{"validityPeriodHours": n(2160)})
	rec := &recorder{}
	require.NoError(t, validity.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: rec, Resource: cert}))
	assert.Empty(t, rec.msgs, "2160 h is within staging's bounds")
	// The CLI's --policy-pack-config wins over the embedded settings.
	require.NoError(t, validity.Validate(context.Background(), policyx.ResourceValidationArgs{
		Manager: rec, Resource: cert, Config: map[string]any{"maxValidityHours": 720.0},
	}))
	require.Len(t, rec.msgs, 1)
	assert.Equal(t, "", rec.urns[0], "a violation of the resource itself leaves the URN to the engine")
}

func TestParseCLIFormat(t *testing.T) {
	s, err := config.Parse([]byte(`{"a": "advisory", "b": {"enforcementLevel": "disabled", "x": 1}, "c": {"x": 2}}`))
	require.NoError(t, err)
	assert.Equal(t, config.Advisory, s.Level("a"))
	assert.Equal(t, config.Disabled, s.Level("b"))
	assert.Equal(t, config.Mandatory, s.Level("c"))
	assert.Equal(t, config.Mandatory, s.Level("unlisted"))
	assert.Equal(t, 1.0, s.Props("b")["x"])
	_, err = config.Parse([]byte(`{"a": "sometimes"}`))
	assert.Error(t, err)
}
