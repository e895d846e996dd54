package tests

// Rolling order as the engine would follow it: each rolling step's
// containers depend on the previous step's barrier, which depends on every
// container of that step (each waits for health), so an update goes slim →
// business group 1 → business group 2 → validators, with one edge per
// container rather than one per pair.

import (
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// rollingBarrierType is the type of a rolling step's barrier (app.newBarrier).
const rollingBarrierType = "command:local:Command"

// rollingStep is one rolling step of a slot: a tier's group.
type rollingStep struct {
	slot, tier string
	group      int
}

// rollingTierRank is the SPEC's tier order.
var rollingTierRank = map[string]int{"slim": 0, "business": 1, "validator": 2}

// rollingSteps groups the application containers of a run by step, and
// lists each slot's steps in rolling order.
func rollingSteps(t *testing.T, res *mockrun.Result) (map[rollingStep][]string, map[string][]rollingStep) {
	t.Helper()
	members := map[rollingStep][]string{}
	for _, r := range res.OfType(harness.ContainerType) {
		tier, slot, ok := releaseAppContainer(r)
		if !ok {
			continue
		}
		g, err := strconv.Atoi(harness.Label(r, app.GroupLabel))
		require.NoError(t, err, "%s group label", r.URN)
		s := rollingStep{slot, tier, g}
		members[s] = append(members[s], r.URN)
	}
	order := map[string][]rollingStep{}
	for s := range members {
		sort.Strings(members[s])
		order[s.slot] = append(order[s.slot], s)
	}
	for _, steps := range order {
		sort.Slice(steps, func(i, j int) bool {
			a, b := steps[i], steps[j]
			if rollingTierRank[a.tier] != rollingTierRank[b.tier] {
				return rollingTierRank[a.tier] < rollingTierRank[b.tier]
			}
			return a.group < b.group
		})
	}
	return members, order
}

// appDeps is the application containers a container waits for, directly
// or through any chain of dependencies (the rolling barriers).
func appDeps(res *mockrun.Result, r mockrun.Resource) []string {
	var out []string
	for urn := range res.Closure(r.URN) {
		if d := res.ByURN(urn); d != nil {
			if _, _, ok := releaseAppContainer(*d); ok {
				out = append(out, urn)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestRollingOrderOnProd(t *testing.T) {
	base := harness.Stack(t, "prod")
	stacks := []struct {
		name  string
		slots []string
		run   *mockrun.Result
	}{
		{"blue only", []string{"blue"}, releaseRun(t, base)},
		{"blue and green", []string{"blue", "green"}, releaseRun(t, releaseWeights(t, base, 95, 5))},
	}
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			res := st.run
			members, order := rollingSteps(t, res)
			for _, slot := range st.slots {
				steps := order[slot]
				// The prod shape: slim, business groups 1 and 2 (8 + 7), validators.
				require.Equal(t, []rollingStep{
					{slot, "slim", 1}, {slot, "business", 1}, {slot, "business", 2}, {slot, "validator", 1},
				}, steps, "rolling steps of %s", slot)
				require.Len(t, members[steps[1]], 8)
				require.Len(t, members[steps[2]], 7)
				assert.Empty(t, appDepsOfStep(res, members[steps[0]]), "slim goes first")
				var before []string
				for i := 1; i < len(steps); i++ {
					before = append(before, members[steps[i-1]]...)
					sort.Strings(before)
					for _, urn := range members[steps[i]] {
						assert.Equal(t, before, appDeps(res, *res.ByURN(urn)),
							"%s waits for exactly every container of the steps before it, through %s group %d", releaseName(urn), steps[i-1].tier, steps[i-1].group)
					}
				}
			}
			for _, urn := range allMembers(members) {
				assert.True(t, res.ByURN(urn).Inputs["wait"].BoolValue(), "%s: the provider waits for health before the next step", urn)
			}
		})
	}
}

func appDepsOfStep(res *mockrun.Result, urns []string) []string {
	var out []string
	for _, urn := range urns {
		out = append(out, appDeps(res, *res.ByURN(urn))...)
	}
	return out
}

func allMembers(members map[rollingStep][]string) []string {
	var out []string
	for _, urns := range members {
		out = append(out, urns...)
	}
	sort.Strings(out)
	return out
}

// Every application container waits for the pre-deployment backup.
func TestRollingWaitsForThePreDeployBackup(t *testing.T) {
	res := releaseRun(t, releaseWeights(t, harness.Stack(t, "prod"), 95, 5))
	var backups []string
	for _, r := range res.OfType(releaseCommandType) {
		if releasePreDeployBackup(r) {
			backups = append(backups, r.URN)
		}
	}
	require.Len(t, backups, 1, "prod takes one pre-deployment backup (SPEC: backup before every production deployment)")
	members, _ := rollingSteps(t, res)
	all := allMembers(members)
	require.Len(t, all, 50)
	for _, urn := range all {
		assert.Contains(t, res.ByURN(urn).DependsOn, backups[0], fmt.Sprintf("%s waits for the backup", releaseName(urn)))
	}
}

// The rolling order costs edges in proportion to the application, not to
// the square of a step: at 25 and at 100 nodes every container still waits,
// transitively, for exactly every container of the earlier steps of its
// slot, the order's own edges stay within two per container (one to the
// previous barrier, one from its own) whatever the steps' sizes, and the
// whole plan's edges grow no faster than its application nodes (the
// gateway, for one, waits for every container: one edge per node).
func TestRollingEdgesGrowLinearly(t *testing.T) {
	edgesAt := map[int]int{}
	sizes := []harness.Scale{{Nodes: 25, AppHosts: 5}, {Nodes: 100, AppHosts: 10}}
	for _, sc := range sizes {
		res := harness.Run(t, harness.ScaleStack(t, sc))
		members, order := rollingSteps(t, res)
		containers := len(allMembers(members))
		require.Equal(t, sc.Nodes, containers, "%d nodes", sc.Nodes)

		isOrder := func(urn string) bool { // an application container or a rolling barrier
			r := res.ByURN(urn)
			if r == nil {
				return false
			}
			_, _, ok := releaseAppContainer(*r)
			return ok || r.Type == rollingBarrierType
		}
		orderEdges, edges := 0, 0
		for _, r := range res.Resources {
			edges += len(r.DependsOn)
			if !isOrder(r.URN) {
				continue
			}
			for _, d := range r.DependsOn {
				if isOrder(d) {
					orderEdges++
				}
			}
		}
		assert.LessOrEqual(t, orderEdges, 2*containers, "%d nodes: rolling-order edges", sc.Nodes)
		edgesAt[sc.Nodes] = edges

		for _, steps := range order {
			var before []string
			for i, s := range steps {
				if i > 0 {
					before = append(before, members[steps[i-1]]...)
					sort.Strings(before)
				}
				for _, urn := range members[s] {
					assert.Equal(t, before, appDeps(res, *res.ByURN(urn)), "%d nodes: %s", sc.Nodes, releaseName(urn))
				}
			}
		}
	}
	small, large := sizes[0].Nodes, sizes[1].Nodes
	assert.LessOrEqual(t, float64(edgesAt[large])/float64(large), float64(edgesAt[small])/float64(small),
		"dependency edges per node: %d at %d nodes, %d at %d", edgesAt[small], small, edgesAt[large], large)
}
