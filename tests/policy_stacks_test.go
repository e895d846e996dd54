package tests

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/policy/rules"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// The committed stacks pass every mandatory rule over everything a mocked
// run of the real program records; this is what makes `make test` fail on a
// mandatory violation.
func TestPolicyCommittedStacksPassMandatoryRules(t *testing.T) {
	for _, name := range []string{"prod", "staging"} {
		t.Run(name, func(t *testing.T) {
			s := harness.Stack(t, name)
			res := harness.Run(t, s)
			rep, err := check.Evaluate(s, res)
			require.NoError(t, err)
			var mandatory []string
			for _, v := range rep.Violations {
				if v.Level == config.Mandatory {
					mandatory = append(mandatory, v.Policy+": "+v.Message)
				}
			}
			assert.Empty(t, mandatory, "mandatory policy violations in stack %s", name)
			// Every rule ran, and the resource rules saw the resources they are about.
			require.Len(t, rep.Rules, len(rules.All()))
			for _, r := range rep.Rules {
				if strings.HasPrefix(r.Policy, "container-") {
					assert.Positive(t, r.Checked, "%s checked no container", r.Policy)
				}
			}
			assert.Equal(t, name, rep.Environment)
		})
	}
}

// The report's JSON is the contract the offline plan embeds.
func TestPolicyReportJSONShape(t *testing.T) {
	rep := &check.Report{Violations: []check.Violation{{Policy: "p", Level: "mandatory", URN: "u", Message: "m"}}}
	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.JSONEq(t, `{"violations":[{"policy":"p","level":"mandatory","urn":"u","message":"m"}]}`, string(raw))
}

func loadFixtures(t *testing.T, dir string) map[string]check.Fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "policy", "testdata", dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]check.Fixture{}
	for _, p := range paths {
		f, err := check.LoadFixture(p)
		require.NoError(t, err)
		require.Contains(t, rules.Names(), f.Rule, "%s names no rule", p)
		out[strings.TrimSuffix(filepath.Base(p), ".yaml")] = f
	}
	return out
}

func applyFixture(t *testing.T, f check.Fixture) *stackfile.Stack {
	t.Helper()
	s, err := f.Apply(harness.Stack(t, f.Stack))
	require.NoError(t, err)
	return s
}

func TestPolicyBrokenFixturesFailTheirRule(t *testing.T) {
	for name, f := range loadFixtures(t, "broken") {
		t.Run(name, func(t *testing.T) {
			s := applyFixture(t, f)
			res, err := mockrun.RunStack(stacks.Run, s)
			require.NoError(t, err, "a broken fixture must get past validation")
			rep, err := check.Evaluate(s, res)
			require.NoError(t, err)
			got := rep.Of(f.Rule)
			require.NotEmpty(t, got, "fixture %s must fail %s; violations: %v", name, f.Rule, rep.Violations)
			for _, v := range got {
				assert.Equal(t, config.Mandatory, v.Level, "prod makes %s mandatory", f.Rule)
			}
			for _, v := range rep.Violations {
				assert.Equal(t, f.Rule, v.Policy, "fixture %s should break only %s", name, f.Rule)
			}
		})
	}
}

// Configurations that break a rule but never reach the pack: validation
// refuses them first (the rules' unit tests build the violating resource).
func TestPolicyBlockedFixturesAreRefusedByValidation(t *testing.T) {
	for name, f := range loadFixtures(t, "blocked") {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, f.Error, "a blocked fixture names the validation error")
			_, err := mockrun.RunStack(stacks.Run, applyFixture(t, f))
			require.Error(t, err)
			assert.Contains(t, err.Error(), f.Error)
		})
	}
}
