package tests

// Rolling order as the engine would follow it: each rolling step's
// containers depend on every container of the previous step of their slot
// (and wait for health), so an update goes slim → business group 1 →
// business group 2 → validators.

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

// appDeps is the application containers a container depends on.
func appDeps(res *mockrun.Result, r mockrun.Resource) []string {
	var out []string
	for _, urn := range r.DependsOn {
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
				for i := 1; i < len(steps); i++ {
					prev := members[steps[i-1]]
					for _, urn := range members[steps[i]] {
						assert.Equal(t, prev, appDeps(res, *res.ByURN(urn)),
							"%s waits for exactly every container of %s group %d", releaseName(urn), steps[i-1].tier, steps[i-1].group)
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
