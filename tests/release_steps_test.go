package tests

// The release controller's steps (internal/release) applied to the prod
// stack file one by one, as its Automation API runner sets them: each
// step's mocked run is compared with the previous one, so each step kind
// is shown to touch only what it should.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// applyReleaseChanges sets each change by path inside its object key, as
// `pulumi config set --path` does (a value that reads as an integer is
// stored as one).
func applyReleaseChanges(t *testing.T, s *stackfile.Stack, changes []release.Change) *stackfile.Stack {
	t.Helper()
	for _, ch := range changes {
		parts := strings.Split(ch.Key, ".")
		require.GreaterOrEqual(t, len(parts), 2, ch.Key)
		obj := map[string]any{}
		raw, ok := s.Config["aurigraph:"+parts[0]]
		require.True(t, ok, "the stack sets %s", parts[0])
		require.NoError(t, json.Unmarshal([]byte(raw), &obj))
		m := obj
		for _, p := range parts[1 : len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		leaf := parts[len(parts)-1]
		switch n, err := strconv.Atoi(ch.Value); {
		case ch.Remove:
			delete(m, leaf)
		case err == nil:
			m[leaf] = n
		default:
			m[leaf] = ch.Value
		}
		b, err := json.Marshal(obj)
		require.NoError(t, err)
		s = s.Set(parts[0], string(b))
	}
	return s
}

func currentRelease(t *testing.T, s *stackfile.Stack) release.Current {
	return stacks.ReleaseCurrent(harness.Config(t, s))
}

// releaseTouched summarises a blast radius by resource type.
func releaseTouched(op releaseOp) string {
	count := map[string]int{}
	for _, l := range []struct {
		verb string
		urns []string
	}{{"added", op.changes.Added}, {"removed", op.changes.Removed}, {"changed", op.changes.Changed}} {
		for _, urn := range l.urns {
			count[l.verb+" "+op.resource(urn).Type]++
		}
	}
	var out []string
	for k, n := range count {
		out = append(out, strconv.Itoa(n)+" "+k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func TestReleaseControllerStepsTouchOnlyWhatTheyShould(t *testing.T) {
	base := harness.Stack(t, "prod")
	p, err := release.NewPlan(currentRelease(t, base), release.Spec{Strategy: release.Canary, Image: releaseGreenImage,
		Fits: stacks.SlotScalesFit(harness.Config(t, base), releaseGreenImage)})
	require.NoError(t, err)
	// The rollback is measured from the first canary step (5%).
	var steps []release.Step
	for i, st := range p.Steps {
		steps = append(steps, st)
		if st.Kind == release.KindWeight && (i == 0 || p.Steps[i-1].Kind != release.KindWeight) {
			steps = append(steps, release.Step{Kind: "rollback", Name: "rollback", Changes: p.Rollback()})
		}
	}
	s := base
	for _, st := range steps {
		if len(st.Changes) == 0 {
			continue // no up
		}
		next := applyReleaseChanges(t, s, st.Changes)
		op := releaseMeasure(t, s, next)
		t.Logf("step %s (%s): %s", st.Kind, st.Name, releaseTouched(op))
		switch st.Kind {
		case release.KindDeploy:
			var green int
			for _, urn := range op.changes.Added {
				if _, slot, ok := releaseAppContainer(op.resource(urn)); ok {
					assert.Equal(t, "green", slot, urn)
					green++
				}
			}
			assert.Positive(t, green, "the deploy step creates the green replicas")
			assert.Empty(t, op.changes.Removed, "nothing of blue goes")
			backup := false
			for _, urn := range op.changes.Changed {
				r := op.resource(urn)
				_, _, app := releaseAppContainer(r)
				assert.False(t, app, "no running replica is touched: %s", urn)
				backup = backup || releasePreDeployBackup(r)
			}
			assert.True(t, backup, "a new image re-runs the pre-deployment backup before the replicas")
		case release.KindWeight, "rollback":
			assert.Empty(t, op.changes.Added, st.Name)
			assert.Empty(t, op.changes.Removed, st.Name)
			require.NotEmpty(t, op.changes.Changed, st.Name)
			for _, urn := range op.changes.Changed {
				assert.True(t, releaseGatewayStep(op.resource(urn)), "%s touches %s (%v): only the gateway's upstream config may change", st.Name, urn, op.changes.Why[urn])
			}
		case release.KindScaleUp, release.KindScaleDown:
			slot, verb := "green", op.changes.Added
			if st.Kind == release.KindScaleDown {
				slot, verb = "blue", op.changes.Removed
			}
			var n int
			for _, urn := range verb {
				if _, s, ok := releaseAppContainer(op.resource(urn)); ok {
					assert.Equal(t, slot, s, "%s: %s", st.Name, urn)
					n++
				}
			}
			assert.Positive(t, n, "%s adds or removes %s replicas", st.Name, slot)
			for _, urn := range op.changes.Changed {
				_, _, app := releaseAppContainer(op.resource(urn))
				assert.False(t, app, "%s: no running replica is touched: %s (%v)", st.Name, urn, op.changes.Why[urn])
			}
		default:
			t.Errorf("step kind %s changes config in a canary from blue: add its expectation here", st.Kind)
		}
		if st.Kind != "rollback" {
			s = next
		}
	}
}

// Rolling: slim, then business group 1, business group 2, then validators:
// each phase replaces exactly the replicas of one rolling group, and the
// pause after it is analysed before the next group.
func TestReleaseControllerRollingPhasesTouchOneGroupEach(t *testing.T) {
	base := harness.Stack(t, "prod")
	p, err := release.NewPlan(currentRelease(t, base), release.Spec{Strategy: release.Rolling, Image: releaseGreenImage})
	require.NoError(t, err)
	var phases []string
	s := base
	for _, st := range p.Steps {
		if len(st.Changes) == 0 {
			continue
		}
		next := applyReleaseChanges(t, s, st.Changes)
		op := releaseMeasure(t, s, next)
		t.Logf("step %s (%s): %s", st.Kind, st.Name, releaseTouched(op))
		groups := map[string]int{}
		for _, urn := range append(append(op.changes.Changed, op.changes.Added...), op.changes.Removed...) {
			r := op.resource(urn)
			if tier, slot, ok := releaseAppContainer(r); ok {
				assert.Equal(t, "blue", slot, urn)
				groups[tier+" group "+harness.Label(r, app.GroupLabel)]++
			}
		}
		switch st.Kind {
		case release.KindPhase:
			require.Len(t, groups, 1, "%s replaces one rolling group: %v", st.Name, groups)
			for g, n := range groups {
				phases = append(phases, fmt.Sprintf("%s: %d", g, n))
			}
		case release.KindFinish:
			assert.Empty(t, groups, "recording the image the tiers already run replaces no replica")
		default:
			t.Errorf("step kind %s changes config in a rolling release: add its expectation here", st.Kind)
		}
		s = next
	}
	assert.Equal(t, []string{"slim group 1: 5", "business group 1: 8", "business group 2: 7", "validator group 1: 5"}, phases)
}

// Prod's app hosts hold one slot and a spare, not two slots: a blue-green
// release there trades replicas between the slots as the traffic moves.
// Every step's config, and the rollback's and the restore's after it, is a
// stack that validation accepts and that passes every mandatory policy,
// the host-capacity rule among them; no running replica is recreated or
// moves host; and each slot serves its share of the traffic on at least
// that share of its replicas (a rollback aside, until its restore).
func TestReleaseBlueGreenInProdPassesEveryMandatoryRuleAtEveryStep(t *testing.T) {
	base := harness.Stack(t, "prod")
	p, err := release.NewPlan(currentRelease(t, base), release.Spec{Strategy: release.BlueGreen, Image: releaseGreenImage,
		Fits: stacks.SlotScalesFit(harness.Config(t, base), releaseGreenImage)})
	require.NoError(t, err)
	step := func(name string, before, after *stackfile.Stack, shares bool) releaseOp {
		t.Helper()
		op := releaseMeasure(t, before, after)
		t.Logf("%s: %s", name, releaseTouched(op))
		rep, err := check.Evaluate(after, op.after)
		require.NoError(t, err)
		for _, v := range rep.Violations {
			assert.NotEqual(t, config.Mandatory, v.Level, "%s: %s: %s", name, v.Policy, v.Message)
		}
		c := harness.Config(t, after)
		for slot, sl := range map[string]stacks.Slot{"blue": c.Release.Blue, "green": c.Release.Green} {
			if shares {
				assert.LessOrEqual(t, sl.Weight, sl.ScalePercent(), "%s: the %s slot serves %d%% of the traffic on %d%% of its replicas", name, slot, sl.Weight, sl.ScalePercent())
			}
		}
		for _, urn := range op.changes.Changed {
			_, _, app := releaseAppContainer(op.resource(urn))
			assert.False(t, app, "%s recreates or moves the running replica %s (%v)", name, urn, op.changes.Why[urn])
		}
		return op
	}
	var kinds []string
	s := base
	for _, st := range p.Steps {
		if len(st.Changes) == 0 {
			continue
		}
		kinds = append(kinds, st.Kind)
		next := applyReleaseChanges(t, s, st.Changes)
		op := step(st.Kind+" ("+st.Name+")", s, next, true)
		switch st.Kind {
		case release.KindDeploy, release.KindScaleUp:
			assert.Empty(t, op.changes.Removed, "%s removes nothing", st.Name)
		case release.KindScaleDown:
			assert.Empty(t, op.changes.Added, "%s adds nothing", st.Name)
		}
		if st.Kind == release.KindScaleUp {
			// The riskiest point to roll back from: blue shrank, green
			// grew, green has not taken all the traffic.
			back := applyReleaseChanges(t, next, p.Rollback())
			op := step("rollback", next, back, false)
			assert.Empty(t, op.changes.Added, "the rollback creates nothing")
			assert.Empty(t, op.changes.Removed, "the rollback removes nothing")
			step("restore", back, applyReleaseChanges(t, back, p.Restore()), true)
		}
		s = next
	}
	assert.Equal(t, []string{release.KindDeploy, release.KindWeight, release.KindScaleDown, release.KindScaleUp, release.KindWeight, release.KindScaleDown}, kinds,
		"green deploys at the spare, takes its share, blue shrinks to the rest, green grows, takes it all, blue goes")
}
