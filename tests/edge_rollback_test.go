package tests

// Automatic rollback when readiness fails after a switch: the gateway's
// release guard on the prod stack, as the program records it. Its behaviour
// against the real nginx is in components/gateway/guard_integration_test.go.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
)

const (
	rollbackGuard  = "nginx-release-guard"
	rollbackRecord = "nginx-conf-known-good"
	rollbackGreen  = "aurigraph/v11:11.5.0"
)

func rollbackStep(t *testing.T, res *mockrun.Result, name string) *mockrun.Resource {
	t.Helper()
	r := res.Named(edgeCommandType, name)
	require.NotNil(t, r, "%s is recorded", name)
	return r
}

// rollbackChecked is the list of replicas the guard script probes.
func rollbackChecked(t *testing.T, res *mockrun.Result) []string {
	t.Helper()
	script := edgeText(t, rollbackStep(t, res, rollbackGuard).Inputs["create"])
	m := regexp.MustCompile(`(?s)\nREPLICAS='\n(.*?)\n'\n`).FindStringSubmatch(script)
	require.NotNil(t, m, "the guard lists the replicas it checks")
	out := strings.Split(m[1], "\n")
	sort.Strings(out)
	return out
}

func TestRollbackGuardRunsAfterTheInstallAndNeverGatesAContainer(t *testing.T) {
	res := edgeRun(t, edgeRelease(t, edgeStack(t, "prod"), 95, 5, rollbackGreen))
	guard := rollbackStep(t, res, rollbackGuard)
	record := rollbackStep(t, res, rollbackRecord)
	install := rollbackStep(t, res, "nginx-conf-install")
	nginx := res.Named(edgeContainerType, "nginx")
	require.NotNil(t, nginx)

	assert.Equal(t, install.Parent, guard.Parent, "a step of the gateway component")
	assert.Contains(t, guard.DependsOn, install.URN, "checks after the new nginx.conf is installed and reloaded")
	assert.Contains(t, guard.DependsOn, nginx.URN, "probes from inside the running nginx")
	assert.Contains(t, record.DependsOn, guard.URN)
	apps := 0
	for _, c := range res.OfType(edgeContainerType) {
		assert.NotContains(t, c.DependsOn, guard.URN, "%s never waits on the guard", c.Name)
		assert.NotContains(t, c.DependsOn, record.URN, "%s never waits on the record step", c.Name)
		if strings.HasPrefix(c.Name, "aurigraph-v11-") {
			apps++
			assert.Contains(t, guard.DependsOn, c.URN, "a replaced replica is checked once it runs")
		}
	}
	assert.Equal(t, 50, apps, "25 blue and 25 green replicas")

	// 95/5: every replica of both slots, on the REST port that serves readiness.
	checked := rollbackChecked(t, res)
	assert.Len(t, checked, 50)
	for _, c := range checked {
		assert.Regexp(t, `^app_(blue|green)=aurigraph-v11-(blue|green)-(slim|business|validator)-[0-9]+:9003$`, c)
		slot := strings.TrimPrefix(c[:strings.Index(c, "=")], "app_")
		assert.Contains(t, c, "aurigraph-v11-"+slot+"-", "each replica under its own slot")
	}
	script := edgeText(t, guard.Inputs["create"])
	assert.Contains(t, script, "DOCKER_EXEC='docker exec nginx'\n")
	assert.Contains(t, script, "CONF='/srv/aurigraph/nginx/conf/nginx.conf'\n")
	assert.Contains(t, script, "GOOD='/srv/aurigraph/nginx/conf/nginx.conf.good'\n")
	stagedCopy := res.Named(edgeCopyType, "nginx-conf-nginx-conf")
	require.NotNil(t, stagedCopy)
	assert.Contains(t, script, "STAGED='"+edgeText(t, stagedCopy.Inputs["remotePath"])+"'\n",
		"a retried deployment re-applies the file the install step staged")
}

func TestRollbackGuardChecksOnlySlotsWithTraffic(t *testing.T) {
	base := edgeStack(t, "prod")
	for _, c := range []struct {
		blue, green int
		slots       []string
	}{{100, 0, []string{"app_blue"}}, {0, 100, []string{"app_green"}}, {50, 50, []string{"app_blue", "app_green"}}} {
		seen := map[string]int{}
		for _, r := range rollbackChecked(t, edgeRun(t, edgeRelease(t, base, c.blue, c.green, rollbackGreen))) {
			seen[r[:strings.Index(r, "=")]]++
		}
		var slots []string
		for s, n := range seen {
			slots = append(slots, s)
			assert.Equal(t, 25, n, "%d/%d: every replica of %s", c.blue, c.green, s)
		}
		sort.Strings(slots)
		assert.Equal(t, c.slots, slots, "%d/%d", c.blue, c.green)
	}
}

// The guard runs again exactly when traffic moves: a weight step or a new
// image in a slot. Other changes leave it alone; a change to nginx.conf that
// moves no traffic is recorded as known-good instead.
func TestRollbackGuardTriggers(t *testing.T) {
	base := edgeStack(t, "prod")
	canary := edgeRelease(t, base, 95, 5, rollbackGreen)
	from := edgeRun(t, canary)
	moved := func(name string, a, b *mockrun.Result) bool {
		return !rollbackStep(t, a, name).Inputs.DeepEquals(rollbackStep(t, b, name).Inputs)
	}

	cases := []struct {
		name           string
		to             *mockrun.Result
		guard, record  bool
		nginxConfMoves bool
	}{
		{"canary 95/5 to 80/20", edgeRun(t, edgeRelease(t, base, 80, 20, rollbackGreen)), true, true, true},
		{"rollback 95/5 to 100/0", edgeRun(t, edgeRelease(t, base, 100, 0, rollbackGreen)), true, true, true},
		{"new green image", edgeRun(t, edgeRelease(t, base, 95, 5, "aurigraph/v11:11.5.1")), true, false, false},
		{"rate limit", edgeRun(t, edgeWithObject(t, canary, "edge", func(m map[string]any) { m["rateLimitPerSecond"] = 800 })), false, true, true},
		{"prometheus retention", edgeRun(t, edgeWithObject(t, canary, "retention", func(m map[string]any) { m["prometheusDays"] = 30 })), false, false, false},
		{"certificate rotation", edgeRun(t, edgeWithObject(t, canary, "pki", func(m map[string]any) { m["rotation"] = 1 })), false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.guard, moved(rollbackGuard, from, c.to), "guard re-runs")
			assert.Equal(t, c.record, moved(rollbackRecord, from, c.to), "known-good recorded")
			assert.Equal(t, c.nginxConfMoves, edgeConf(t, from) != edgeConf(t, c.to), "nginx.conf changes")
			d := edgeCompare(from, c.to)
			assert.NotContains(t, edgeNames(d.changed), "nginx", "the nginx container is never changed")
			assert.NotContains(t, edgeNames(d.added), "nginx")
		})
	}
}

// Every image that serves traffic re-arms the guard: a slot's image, a
// tier's own image (which overrides the blue slot's for that tier), and the
// nginx image (a new gateway container).
func TestRollbackGuardRearmsOnEveryImageChange(t *testing.T) {
	canary := edgeRelease(t, edgeStack(t, "prod"), 95, 5, rollbackGreen)
	from := edgeRun(t, canary)
	triggers := func(r *mockrun.Result) string {
		return fmt.Sprint(mockrun.Unwrap(rollbackStep(t, r, rollbackGuard).Inputs["triggers"]))
	}
	for name, s := range map[string]*stackfile.Stack{
		"tier image in the blue slot": edgeWithObject(t, canary, "tiers", func(m map[string]any) {
			m["slim"] = map[string]any{"replicas": 5, "image": "aurigraph/v11:11.4.3"}
		}),
		"nginx image": edgeWithObject(t, canary, "images", func(m map[string]any) { m["nginx"] = "nginx:1.27.4-alpine" }),
	} {
		t.Run(name, func(t *testing.T) {
			assert.NotEqual(t, triggers(from), triggers(edgeRun(t, s)), "the guard re-runs")
		})
	}
}
