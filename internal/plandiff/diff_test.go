package plandiff

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/policy/check"
)

func res(name string, inputs map[string]any) plan.Resource {
	return plan.Resource{
		URN:  "urn:pulumi:prod::aurigraph::docker:index/container:Container::" + name,
		Type: "docker:index/container:Container", Name: name,
		Provider: "urn:pulumi:prod::aurigraph::pulumi:providers:docker::h1-docker", DependsOn: []string{},
		Inputs: inputs,
	}
}

func basePlan() *plan.Plan {
	return &plan.Plan{
		Stack: "prod",
		Resources: []plan.Resource{
			res("nginx", map[string]any{
				"image":  "nginx:1.27.2",
				"memory": 1024.0,
				"envs":   []any{"A=1", "B=2", plan.Secret},
				"ports":  []any{map[string]any{"internal": 443.0, "ip": "0.0.0.0"}},
				"source": map[string]any{"asset": map[string]any{"text": "a\nb\nc\nd\ne\nf\ng\n"}},
			}),
			res("old", map[string]any{"image": "x:1"}),
			res("same", map[string]any{"image": "y:1"}),
		},
		MissingSecrets: []string{"aurigraph:postgresPassword", "aurigraph:redisPassword"},
		Policy: plan.Policy{Violations: []check.Violation{
			{Policy: "no-latest", Level: "mandatory", URN: "u1", Message: "gone"},
		}},
	}
}

func headPlan() *plan.Plan {
	return &plan.Plan{
		Stack: "prod",
		Resources: []plan.Resource{
			res("nginx", map[string]any{
				"image":  "nginx:1.27.3",
				"memory": 1024.0,
				"envs":   []any{"A=1", "AA=0", "B=2", plan.Secret},
				"ports":  []any{map[string]any{"internal": 443.0, "ip": "127.0.0.1"}},
				"source": map[string]any{"asset": map[string]any{"text": "a\nb\nc\nD\ne\nf\ng\n"}},
			}),
			res("new", map[string]any{"image": "z:1", "conf": "line1\nline2\n"}),
			res("same", map[string]any{"image": "y:1"}),
		},
		MissingSecrets: []string{"aurigraph:postgresPassword", "aurigraph:vaultToken"},
		Policy: plan.Policy{Violations: []check.Violation{
			{Policy: "no-public-port", Level: "mandatory", URN: "u2", Message: "port 9090 open"},
		}},
	}
}

func TestCompareFindsAddedRemovedAndChangedPaths(t *testing.T) {
	d := Compare(basePlan(), headPlan())
	assert.Equal(t, 1, d.Added)
	assert.Equal(t, 1, d.Removed)
	assert.Equal(t, 1, d.Changed, "the unchanged resource is not listed")
	require.Len(t, d.Resources, 3)
	kinds := map[string]string{}
	for _, r := range d.Resources {
		kinds[r.Name] = r.Kind
	}
	assert.Equal(t, map[string]string{"new": "+", "old": "-", "nginx": "~"}, kinds)

	var nginx ResourceDiff
	for _, r := range d.Resources {
		if r.Name == "nginx" {
			nginx = r
		}
	}
	assert.ElementsMatch(t, []Change{
		{Path: "inputs.envs[1]", Kind: "+", New: "AA=0"}, // one insertion, not a shift
		{Path: "inputs.image", Kind: "~", Old: "nginx:1.27.2", New: "nginx:1.27.3"},
		{Path: "inputs.ports[0].ip", Kind: "~", Old: "0.0.0.0", New: "127.0.0.1"},
		{Path: "inputs.source.asset.text", Kind: "~", Old: "a\nb\nc\nd\ne\nf\ng\n", New: "a\nb\nc\nD\ne\nf\ng\n"},
	}, nginx.Changes)
	assert.Equal(t, []string{"aurigraph:vaultToken"}, d.SecretsAdded)
	assert.Equal(t, []string{"aurigraph:redisPassword"}, d.SecretsRemoved)
	require.Len(t, d.PolicyAdded, 1)
	assert.Equal(t, "no-public-port", d.PolicyAdded[0].Policy)
	require.Len(t, d.PolicyRemoved, 1)
}

func TestWriteIsReadable(t *testing.T) {
	d := Compare(basePlan(), headPlan())
	d.BaseDescription, d.HeadDescription = "main (abc)", "working tree"
	var buf bytes.Buffer
	require.NoError(t, d.Write(&buf))
	out := buf.String()
	assert.Contains(t, out, "Plan diff for stack prod: main (abc) → working tree")
	assert.Contains(t, out, "\n+ docker:index/container:Container new\n")
	assert.Contains(t, out, "  + inputs.image: \"z:1\"\n")
	assert.Contains(t, out, "  + inputs.conf: |\n      + line1\n      + line2\n")
	assert.Contains(t, out, "\n- docker:index/container:Container old\n")
	assert.Contains(t, out, "  ~ inputs.image: \"nginx:1.27.2\" → \"nginx:1.27.3\"\n")
	assert.Contains(t, out, "  + inputs.envs[1]: \"AA=0\"\n")
	// The config text as a line diff with two lines of context, the rest elided.
	assert.Contains(t, out, "  ~ inputs.source.asset.text:\n      ...\n        b\n        c\n      - d\n      + D\n        e\n        f\n      ...\n")
	assert.Contains(t, out, "missing secrets\n  + aurigraph:vaultToken\n  - aurigraph:redisPassword\n")
	assert.Contains(t, out, "  + [mandatory] no-public-port u2: port 9090 open\n")
	assert.Contains(t, out, "1 to add, 1 to change, 1 to delete (3 → 3 resources)")
	assert.NotContains(t, out, "same", "unchanged resources are not printed")
	assert.NotContains(t, out, "\\n", "text is never printed as an escaped JSON string")
}

func TestIdenticalPlansSayNoChanges(t *testing.T) {
	d := Compare(basePlan(), basePlan())
	assert.True(t, d.Empty())
	var buf bytes.Buffer
	require.NoError(t, d.Write(&buf))
	assert.True(t, strings.HasSuffix(buf.String(), "\nno changes\n"))
}

func TestLineDiffHandlesInsertionsAtTheEdges(t *testing.T) {
	var b strings.Builder
	writeLineDiff(&b, "b\nc\n", "a\nb\nc\nd\n")
	assert.Equal(t, "      + a\n        b\n        c\n      + d\n", b.String())
	b.Reset()
	writeLineDiff(&b, "a\nb\nc\n", "a\nc\n")
	assert.Equal(t, "        a\n      - b\n        c\n", b.String())
}

func TestPlanRoundTripCompares(t *testing.T) {
	// A plan read back from JSON equals the one written: no spurious changes
	// from number or null types between the base (JSON) and the head.
	p, err := plan.Build("../..", "staging")
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, p.WriteJSON(&buf))
	back, err := plan.Read(&buf)
	require.NoError(t, err)
	assert.True(t, Compare(back, p).Empty())
}
