package plan

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

const repoRoot = "../.."

// built caches one plan per stack: a whole-stack run is the slow part.
var built = map[string]*Plan{}

func cachedPlan(t *testing.T, stack string) *Plan {
	t.Helper()
	if p, ok := built[stack]; ok {
		return p
	}
	p, err := Build(repoRoot, stack)
	require.NoError(t, err)
	built[stack] = p
	return p
}

func planJSON(t *testing.T, stack string) []byte {
	t.Helper()
	p := cachedPlan(t, stack)
	var buf bytes.Buffer
	require.NoError(t, p.WriteJSON(&buf))
	return buf.Bytes()
}

func planText(t *testing.T, stack string) string {
	t.Helper()
	p := cachedPlan(t, stack)
	var buf bytes.Buffer
	require.NoError(t, p.WriteText(&buf))
	return buf.String()
}

func TestPlanJSONHasTheContractFields(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			raw := planJSON(t, stack)
			var doc map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &doc), "plan is not valid JSON")
			for _, k := range []string{"stack", "resources", "missingSecrets", "policy"} {
				assert.Contains(t, doc, k)
			}
			var p struct {
				Stack     string           `json:"stack"`
				Resources []map[string]any `json:"resources"`
				Policy    struct {
					Violations []map[string]any `json:"violations"`
				} `json:"policy"`
			}
			require.NoError(t, json.Unmarshal(raw, &p))
			assert.Equal(t, stack, p.Stack)
			require.NotEmpty(t, p.Resources)
			assert.NotNil(t, p.Policy.Violations, "violations must be a list, not null")
			var urns []string
			for _, r := range p.Resources {
				for _, k := range []string{"urn", "type", "name", "parent", "provider", "dependsOn", "inputs"} {
					assert.Contains(t, r, k, "resource %v", r["urn"])
				}
				urns = append(urns, r["urn"].(string))
			}
			assert.True(t, sort.StringsAreSorted(urns), "resources are sorted by URN")
			assert.True(t, bytes.HasSuffix(raw, []byte("}\n")), "trailing newline")
			assert.Contains(t, string(raw), "\n  \"resources\": [", "2-space indentation")
		})
	}
}

func TestPlanIsByteIdenticalAcrossRuns(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		var js, text [2]bytes.Buffer
		for i := range js {
			p, err := Build(repoRoot, stack) // a fresh run each time
			require.NoError(t, err)
			require.NoError(t, p.WriteJSON(&js[i]))
			require.NoError(t, p.WriteText(&text[i]))
		}
		assert.Equal(t, js[0].String(), js[1].String(), stack+" JSON")
		assert.Equal(t, text[0].String(), text[1].String(), stack+" text")
	}
}

func TestPlanNeverShowsPlaceholderSecrets(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		s, err := stackfile.Load(repoRoot, stack)
		require.NoError(t, err)
		filled := s.WithPlaceholders()
		js, text := string(planJSON(t, stack)), planText(t, stack)
		assert.NotContains(t, js, "plan-placeholder-")
		assert.NotContains(t, text, "plan-placeholder-")
		for _, key := range s.MissingSecrets {
			assert.NotContains(t, js, filled.Config[key])
		}
		assert.Contains(t, js, `"`+Secret+`"`, "secrets show as the marker")
	}
}

func TestMissingSecretsListsEveryRequiredSecret(t *testing.T) {
	// The committed stack files hold no secrets (they are encrypted per backend).
	p := cachedPlan(t, "prod")
	var want []string
	for _, k := range stacks.RequiredSecrets {
		want = append(want, stacks.Namespace+":"+k)
	}
	sort.Strings(want)
	assert.Subset(t, p.MissingSecrets, want)
	assert.True(t, sort.StringsAreSorted(p.MissingSecrets))

	// A secret given in the stack file is no longer missing.
	s, err := stackfile.Load(repoRoot, "prod")
	require.NoError(t, err)
	const given = "Given-Secret-Value-4c1b9e"
	s = s.Set("postgresPassword", given)
	s.MissingSecrets = without(s.MissingSecrets, "aurigraph:postgresPassword")
	s.SecretKeys = append(s.SecretKeys, "aurigraph:postgresPassword")
	p2, err := BuildStack(s)
	require.NoError(t, err)
	assert.NotContains(t, p2.MissingSecrets, "aurigraph:postgresPassword")
	assert.Len(t, p2.MissingSecrets, len(p.MissingSecrets)-1)
	var buf bytes.Buffer
	require.NoError(t, p2.WriteJSON(&buf))
	assert.NotContains(t, buf.String(), given, "a given secret is never shown either")
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func TestInvalidConfigFailsWithTheValidationError(t *testing.T) {
	s, err := stackfile.Load(repoRoot, "prod")
	require.NoError(t, err)
	_, err = BuildStack(s.Set("environment", "bogus"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environment")
}

func TestTextListsEveryHostAndTheTotals(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		s, err := stackfile.Load(repoRoot, stack)
		require.NoError(t, err)
		var hosts []stacks.Host
		require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
		text := planText(t, stack)
		require.NotEmpty(t, hosts)
		last := -1
		for _, h := range hosts {
			i := strings.Index(text, "\n"+h.Name+"  "+h.Address)
			assert.Greater(t, i, last, "host %s listed in inventory order", h.Name)
			last = i
		}
		assert.Contains(t, text, "Plan for stack "+stack)
		assert.Contains(t, text, "\nTotals\n")
		assert.Contains(t, text, "resources by type:")
		assert.Contains(t, text, "aurigraph:host:Host")
		assert.Contains(t, text, "\nPolicy: ")
		for _, k := range s.MissingSecrets {
			assert.Contains(t, text, "\n  "+SetSecretCommand(stack, k)+"\n")
		}
	}
}
