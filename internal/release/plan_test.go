package release

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func kinds(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Kind)
	}
	return out
}

// weightsOf is the new slot's weight at each weight step.
func weightsOf(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Kind == KindWeight {
			for _, c := range s.Changes {
				if c.Key == weightKey(p.New) {
					out = append(out, c.Value)
				}
			}
		}
	}
	return out
}

func TestCanaryPlanDefaults(t *testing.T) {
	p, err := NewPlan(blueLive, Spec{Strategy: Canary, Image: "aurigraph/v11:2.0.0"})
	require.NoError(t, err)
	assert.Equal(t, Blue, p.Old)
	assert.Equal(t, Green, p.New)
	assert.Equal(t, []string{KindBackup, KindDeploy, KindSmoke, KindWeight, KindWeight, KindWeight, KindWeight, KindWatch, KindDrain, KindScaleDown}, kinds(p))
	assert.Equal(t, []string{"5", "20", "50", "100"}, weightsOf(p))
	assert.Equal(t, []Change{{Key: "release.green.image", Value: "aurigraph/v11:2.0.0"}, {Key: "release.green.weight", Value: "0"}, {Key: "release.blue.weight", Value: "100"},
		{Key: "release.green.scale", Value: "100"}, {Key: "release.blue.scale", Value: "100"}}, p.Steps[1].Changes, "deploy: the whole new slot at weight 0, where the hosts hold both")
	for i, s := range p.Steps[3:6] {
		assert.Equal(t, DefaultPause, s.Wait, "pause after canary step %d", i+1)
	}
	assert.Zero(t, p.Steps[6].Wait, "the last step is followed by the watch window, not a pause")
	assert.Equal(t, DefaultWatch, p.Steps[7].Wait)
	assert.Equal(t, []Change{{Key: "release.blue.scale", Value: "0"}}, p.Steps[9].Changes, "blue's replicas go once drained")
	assert.Equal(t, []Change{{Key: "release.green.weight", Value: "0"}, {Key: "release.blue.weight", Value: "100"}}, p.Rollback())
	assert.Empty(t, p.Restore(), "blue never shrank before the end: nothing to restore after a rollback")
	for _, s := range p.Steps {
		for _, c := range s.Changes {
			assert.NotContains(t, c.Key, "tiers", "a weight release touches only aurigraph:release")
		}
	}
}

func TestBlueGreenFromGreenGoesBackToBlueAndScalesGreenDown(t *testing.T) {
	cur := Current{Blue: SlotConfig{Image: "aurigraph/v11:1.0.0", Weight: 0}, Green: SlotConfig{Image: "aurigraph/v11:2.0.0", Weight: 100}}
	p, err := NewPlan(cur, Spec{Strategy: BlueGreen, Image: "aurigraph/v11:3.0.0", Watch: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, Green, p.Old)
	assert.Equal(t, Blue, p.New)
	assert.Equal(t, "aurigraph/v11:2.0.0", p.OldImage)
	assert.Equal(t, []string{"100"}, weightsOf(p), "blue-green: 0 -> 100 in one step")
	last := p.Steps[len(p.Steps)-1]
	assert.Equal(t, KindScaleDown, last.Kind)
	assert.Equal(t, []Change{{Key: "release.green.scale", Value: "0"}}, last.Changes, "green's replicas go once drained")
	assert.Equal(t, time.Minute, p.Steps[len(p.Steps)-3].Wait)
}

func TestRollingPlanPhasesInSpecOrderOneGroupAtATime(t *testing.T) {
	cur := blueLive
	cur.TierGroups = map[string]int{"slim": 1, "business": 2, "validator": 1}
	p, err := NewPlan(cur, Spec{Strategy: Rolling, Image: "aurigraph/v11:2.0.0"})
	require.NoError(t, err)
	assert.Equal(t, Blue, p.New, "rolling stays on the live slot")
	var phases []string
	for _, s := range p.Steps {
		if s.Kind == KindPhase {
			require.Len(t, s.Changes, 2)
			phases = append(phases, changeList(s.Changes))
			if s.Name != p.Steps[len(p.Steps)-3].Name {
				assert.Equal(t, DefaultPause, s.Wait, "120 s after %s", s.Name)
			}
		}
	}
	assert.Equal(t, []string{
		`tiers.slim.image="aurigraph/v11:2.0.0", tiers.slim.imageGroups (removed)`,
		`tiers.business.image="aurigraph/v11:2.0.0", tiers.business.imageGroups="1"`,
		`tiers.business.image="aurigraph/v11:2.0.0", tiers.business.imageGroups (removed)`,
		`tiers.validator.image="aurigraph/v11:2.0.0", tiers.validator.imageGroups (removed)`,
	}, phases, "slim, business group 1, business group 2, validators")
	assert.Zero(t, p.Steps[len(p.Steps)-3].Wait, "the last phase is followed by the watch window")
	fin := p.Steps[len(p.Steps)-1]
	assert.Equal(t, KindFinish, fin.Kind)
	assert.Equal(t, Change{Key: "release.blue.image", Value: "aurigraph/v11:2.0.0"}, fin.Changes[0])
	assert.Len(t, p.Rollback(), 6, "every tier's image and groups overrides go")

	green := Current{Blue: SlotConfig{Image: "a:1"}, Green: SlotConfig{Image: "a:2", Weight: 100, Scale: 100}}
	_, err = NewPlan(green, Spec{Strategy: Rolling, Image: "a:3"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the green slot is live")
}

func TestPlanRefusals(t *testing.T) {
	split := Current{Blue: SlotConfig{Image: "a:1", Weight: 80}, Green: SlotConfig{Image: "a:2", Weight: 20}}
	for name, c := range map[string]struct {
		cur  Current
		spec Spec
		want string
	}{
		"no image":             {blueLive, Spec{Strategy: Canary}, "--image is required"},
		"unknown strategy":     {blueLive, Spec{Strategy: "yolo", Image: "a:2"}, `strategy "yolo"`},
		"release in progress":  {split, Spec{Strategy: Canary, Image: "a:3"}, "splits the traffic (blue 80%, green 20%)"},
		"steps not increasing": {blueLive, Spec{Strategy: Canary, Image: "a:2", CanarySteps: []int{20, 5, 100}}, "above the previous one"},
		"steps not ending 100": {blueLive, Spec{Strategy: Canary, Image: "a:2", CanarySteps: []int{5, 50}}, "last step must be 100"},
		"rolling tier image": {Current{Blue: blueLive.Blue, TierImages: map[string]string{"slim": "a:0"}},
			Spec{Strategy: Rolling, Image: "a:2"}, "tiers slim have their own image"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewPlan(c.cur, c.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestDryRunPrintsEveryStepAndChange(t *testing.T) {
	p, err := NewPlan(blueLive, Spec{Strategy: Canary, Image: "aurigraph/v11:2.0.0", CanarySteps: []int{10, 100}})
	require.NoError(t, err)
	var b bytes.Buffer
	DryRun(&b, p)
	out := b.String()
	assert.Contains(t, out, "[1/8] pre-deployment backup")
	assert.Contains(t, out, `up: release.green.weight="10", release.blue.weight="90"`)
	assert.Contains(t, out, "wait 2m0s, analysing the green slot")
	assert.Contains(t, out, "[8/8] scale down the blue slot")
}

// oneSlotAndSpare models hosts that hold a full slot and spare percent of
// another (prod: 60), as stacks.Place counts them.
func oneSlotAndSpare(spare int) Fits {
	return func(blue, green int) bool { return blue+green <= 100+spare }
}

// scalesAt replays a plan's changes and reports, after each step, both
// slots' weight and scale.
type slotState struct{ weight, scale int }

func replay(t *testing.T, p *Plan, f func(st Step, s map[string]*slotState)) {
	t.Helper()
	s := map[string]*slotState{p.Old: {100, 100}, p.New: {0, 0}}
	for _, st := range p.Steps {
		for _, c := range st.Changes {
			parts := strings.Split(c.Key, ".")
			require.Len(t, parts, 3, c.Key)
			n, err := strconv.Atoi(c.Value)
			switch parts[2] {
			case "weight":
				require.NoError(t, err)
				s[parts[1]].weight = n
			case "scale":
				require.NoError(t, err)
				s[parts[1]].scale = n
			}
		}
		f(st, s)
	}
}

func TestReleaseByWeightOnHostsForOneSlotAndASpareTradesReplicas(t *testing.T) {
	for _, c := range []struct {
		strategy string
		steps    []int
		weights  []string
	}{
		{BlueGreen, nil, []string{"60", "100"}},
		{Canary, nil, []string{"5", "20", "50", "60", "100"}},
	} {
		t.Run(c.strategy, func(t *testing.T) {
			fits := oneSlotAndSpare(60)
			p, err := NewPlan(blueLive, Spec{Strategy: c.strategy, Image: "aurigraph/v11:2.0.0", CanarySteps: c.steps, Fits: fits})
			require.NoError(t, err)
			assert.Equal(t, c.weights, weightsOf(p), "the new slot takes no more traffic than it runs replicas")
			assert.Equal(t, "60", p.Steps[1].Changes[3].Value, "green deploys at the spare")
			replay(t, p, func(st Step, s map[string]*slotState) {
				assert.True(t, fits(s[Blue].scale, s[Green].scale), "%s: blue %d%% and green %d%% do not fit", st.Name, s[Blue].scale, s[Green].scale)
				for slot, x := range s {
					assert.LessOrEqual(t, x.weight, x.scale, "%s: the %s slot serves %d%% of the traffic on %d%% of its replicas", st.Name, slot, x.weight, x.scale)
				}
			})
			var kinds []string
			for _, st := range p.Steps {
				kinds = append(kinds, st.Kind)
			}
			i := slices.Index(kinds, KindScaleUp)
			require.Positive(t, i, "green grows once blue shrank")
			assert.Equal(t, []string{KindWeight, KindScaleDown}, kinds[i-2:i], "the traffic moves, then blue shrinks to its share, before green grows")
			assert.Equal(t, []Change{{Key: "release.blue.scale", Value: "40"}}, p.Steps[i-1].Changes)
			assert.Equal(t, []Change{{Key: "release.green.scale", Value: "100"}}, p.Steps[i].Changes)
			assert.Equal(t, []Change{{Key: "release.green.scale", Value: "0"}, {Key: "release.blue.scale", Value: "100"}}, p.Restore(),
				"after a rollback, blue runs all its replicas again and green's go")
		})
	}
}

func TestReleaseByWeightRefusesHostsWithNoRoomToTrade(t *testing.T) {
	_, err := NewPlan(blueLive, Spec{Strategy: BlueGreen, Image: "a:2", Fits: func(b, g int) bool { return g == 0 }})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no room for a single replica of the green slot")
	// Room for a few replicas but none freed by shrinking blue: stuck.
	_, err = NewPlan(blueLive, Spec{Strategy: BlueGreen, Image: "a:2", Fits: func(b, g int) bool { return g <= 10 }})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot grow past 10%")
}
