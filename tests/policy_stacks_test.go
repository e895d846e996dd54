package tests

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/policy/rules"
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
	optIn := map[string]bool{}
	for _, r := range rules.All() {
		optIn[r.Name] = r.OptIn != ""
	}
	for name, f := range loadFixtures(t, "broken") {
		t.Run(name, func(t *testing.T) {
			s := applyFixture(t, f)
			res, err := harness.Try(s)
			require.NoError(t, err, "a broken fixture must get past validation")
			rep, err := check.EvaluateLevels(s, res, f.Levels)
			require.NoError(t, err)
			got := rep.Of(f.Rule)
			require.NotEmpty(t, got, "fixture %s must fail %s; violations: %v", name, f.Rule, rep.Violations)
			for _, v := range got {
				assert.Equal(t, config.Mandatory, v.Level, "prod makes %s mandatory", f.Rule)
			}
			for _, v := range rep.Violations {
				if v.Level == config.Advisory && optIn[v.Policy] {
					continue // prod is not pinned yet: image-digest warns on every fixture
				}
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
			err := harness.RunErr(applyFixture(t, f))
			require.Error(t, err)
			assert.Contains(t, err.Error(), f.Error)
		})
	}
}

// image-digest is advisory until a stack is pinned: it warns on every image
// of a stack that has none, and once every image of a committed stack carries
// a digest (`make pin`), that stack's policy config must make it mandatory
// (docs/images.md).
func TestPolicyImageDigestFollowsPinning(t *testing.T) {
	for _, name := range []string{"prod", "staging"} {
		t.Run(name, func(t *testing.T) {
			s := harness.Stack(t, name)
			res := harness.Run(t, s)
			rep, err := check.Evaluate(s, res)
			require.NoError(t, err)
			var refs []string
			for _, r := range res.Resources {
				if r.Type == rules.RemoteImageType {
					refs = append(refs, r.Inputs["name"].StringValue())
				}
			}
			require.NotEmpty(t, refs)
			unpinned := 0
			for _, ref := range refs {
				if !imageref.HasDigest(ref) {
					unpinned++
				}
			}
			settings, err := config.Load(check.Environment(s))
			require.NoError(t, err)
			level := settings.Level("image-digest")
			if unpinned == 0 {
				assert.Equal(t, config.Mandatory, level, "every image of %s is pinned: make image-digest mandatory in policy/config/%s.json", name, settings.Environment)
				return
			}
			assert.Equal(t, config.Advisory, level)
			got := rep.Of("image-digest")
			assert.GreaterOrEqual(t, len(got), unpinned, "every pulled image without a digest is reported")
			for _, v := range got {
				assert.Equal(t, config.Advisory, v.Level)
				assert.Contains(t, v.Message, "make pin")
			}
		})
	}
}

// Pinning with the levels of the fixture makes the rule pass: the one
// unpinned image was the only reason it failed.
func TestPolicyImageDigestPassesOncePinned(t *testing.T) {
	f := loadFixtures(t, "broken")["image-without-digest"]
	s := applyFixture(t, f)
	images := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:images"]), &images))
	images["postgres"] += "@sha256:" + strings.Repeat("e", 64)
	raw, err := json.Marshal(images)
	require.NoError(t, err)
	s = s.Set("aurigraph:images", string(raw))
	res := harness.Run(t, s)
	rep, err := check.EvaluateLevels(s, res, f.Levels)
	require.NoError(t, err)
	assert.Empty(t, rep.Violations)
}
