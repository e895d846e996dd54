package tests

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// What a real engine does that Pulumi's mocks do not (shared/notes/real-engine.md),
// checked for both stacks on the harness that models it (internal/mockrun).

var engineStacks = []string{"staging", "prod"}

// A first `pulumi preview`: every provider output unknown, inputs
// marshalled as the engine marshals them. It failed on a secret that is
// unknown during preview inside `triggers`.
func TestFirstPreviewRunsOnBothStacks(t *testing.T) {
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			res := harness.Preview(t, harness.Stack(t, stack))
			var unknown int
			for _, r := range res.Resources {
				if resource.NewProperty(r.Inputs).ContainsUnknowns() {
					unknown++
				}
			}
			assert.Greater(t, unknown, 20, "the preview really has unknowns: %d resources", unknown)
		})
	}
}

// Replacements are driven by values the engine compares in the clear:
// no secret (known or not) is ever inside `triggers`, and in a first
// preview every trigger is already known, so a replacement is never
// shown (or made) because a value was merely unknown.
func TestTriggersHoldNoSecretAndAreKnownInPreview(t *testing.T) {
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			var checked int
			for mode, res := range map[string]*mockrun.Result{"up": harness.Run(t, s), "preview": harness.Preview(t, s)} {
				for _, r := range res.Resources {
					trig, ok := r.Inputs["triggers"]
					if !ok {
						continue
					}
					checked++
					assert.False(t, trig.ContainsSecrets(), "%s: %s has a secret in triggers", mode, r.URN)
					assert.False(t, trig.ContainsUnknowns(), "%s: %s has a trigger unknown until apply", mode, r.URN)
				}
			}
			assert.Greater(t, checked, 10)
		})
	}
}

// Idempotence: the same config gives the same inputs, run after run, and
// the preview and the update agree on every input known in both, so a
// second `up` has nothing to change.
func TestPreviewAndUpAgreeAndRepeat(t *testing.T) {
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			up, again, preview := harness.Run(t, s), harness.Run(t, s), harness.Preview(t, s)
			require.Equal(t, urns(up), urns(again))
			for i, r := range up.Resources {
				assert.True(t, r.Inputs.DeepEquals(again.Resources[i].Inputs), "%s: inputs differ between two runs", r.URN)
				assert.Equal(t, r.DependsOn, again.Resources[i].DependsOn, r.URN)
			}
			require.Equal(t, urns(up), urns(preview), "preview registers the same resources")
			var compared int
			for i, r := range up.Resources {
				p := preview.Resources[i]
				for k, v := range r.Inputs {
					pv, ok := p.Inputs[k]
					if !ok || pv.ContainsUnknowns() {
						continue
					}
					compared++
					assert.True(t, v.DeepEquals(pv), "%s: input %s differs between preview and up", r.URN, k)
				}
				for k := range p.Inputs {
					_, ok := r.Inputs[k]
					assert.True(t, ok, "%s: input %s only in preview", r.URN, k)
				}
			}
			assert.Greater(t, compared, 500)
		})
	}
}

func urns(res *mockrun.Result) []string {
	out := make([]string, len(res.Resources))
	for i, r := range res.Resources {
		out[i] = r.URN
	}
	return out
}
