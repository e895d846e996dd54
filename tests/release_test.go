package tests

// Blast radius of release operations on the prod stack: each operation is a
// stack-file change; two mocked runs are compared resource by resource and
// every touched resource must belong to what the operation is allowed to touch.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/internal/blast"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/tests/harness"
)

const (
	releaseCommandType = "command:remote:Command"
	releaseCopyType    = "command:remote:CopyToRemote"
	releaseImageType   = "docker:index/remoteImage:RemoteImage"
	releaseBlueImage   = "aurigraph/v11:11.4.2" // Pulumi.prod.yaml release.blue.image
	releaseGreenImage  = "aurigraph/v11:11.5.0"
)

// releaseObject returns s with an object config key changed in place.
func releaseObject(t *testing.T, s *stackfile.Stack, key string, change func(map[string]any)) *stackfile.Stack {
	t.Helper()
	obj := map[string]any{}
	raw, ok := s.Config["aurigraph:"+key]
	require.True(t, ok, "the stack sets %s", key)
	require.NoError(t, json.Unmarshal([]byte(raw), &obj))
	change(obj)
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	return s.Set(key, string(b))
}

// releaseWeights sets both slots, the green one with an image, both whole
// on app hosts with room for them (harness.RoomForBothSlots).
func releaseWeights(t *testing.T, s *stackfile.Stack, blue, green int) *stackfile.Stack {
	return releaseObject(t, harness.RoomForBothSlots(t, s), "release", func(m map[string]any) {
		m["blue"] = map[string]any{"image": releaseBlueImage, "weight": blue}
		m["green"] = map[string]any{"image": releaseGreenImage, "weight": green}
	})
}

// releaseTier changes one tier's settings.
func releaseTier(t *testing.T, s *stackfile.Stack, tier string, change func(map[string]any)) *stackfile.Stack {
	return releaseObject(t, s, "tiers", func(m map[string]any) {
		tm, ok := m[tier].(map[string]any)
		require.True(t, ok, "tiers.%s", tier)
		change(tm)
	})
}

// releaseOp is the two runs of an operation and their differences.
type releaseOp struct {
	before, after *mockrun.Result
	changes       blast.Changes
}

// releaseRuns memoises mocked runs by stack config: the recordings are read
// only, and several operations share a starting point.
var releaseRuns sync.Map

func releaseRun(t *testing.T, s *stackfile.Stack) *mockrun.Result {
	t.Helper()
	key, err := json.Marshal(struct {
		Name   string
		Config map[string]string
	}{s.Name, s.Config})
	require.NoError(t, err)
	if r, ok := releaseRuns.Load(string(key)); ok {
		return r.(*mockrun.Result)
	}
	r := harness.Run(t, s)
	releaseRuns.Store(string(key), r)
	return r
}

func releaseMeasure(t *testing.T, before, after *stackfile.Stack) releaseOp {
	t.Helper()
	op := releaseOp{before: releaseRun(t, before), after: releaseRun(t, after)}
	op.changes = blast.Diff(op.before, op.after)
	t.Logf("blast radius: %s", op.changes)
	return op
}

// resource finds a touched URN in the run that has it (after, else before).
func (op releaseOp) resource(urn string) mockrun.Resource {
	if r := op.after.ByURN(urn); r != nil {
		return *r
	}
	return *op.before.ByURN(urn)
}

// releaseAppContainer reports an application container and its tier and slot.
func releaseAppContainer(r mockrun.Resource) (tier, slot string, ok bool) {
	if r.Type != harness.ContainerType || harness.Label(r, "com.aurigraph.service") != app.Service {
		return "", "", false
	}
	return harness.Label(r, app.TierLabel), harness.Label(r, app.SlotLabel), true
}

// releaseConfigStep reports a config file copy or a reload step of a
// service, recognised by the service's name in its URN.
func releaseConfigStep(r mockrun.Resource, names ...string) bool {
	if r.Type != releaseCopyType && r.Type != releaseCommandType {
		return false
	}
	for _, n := range names {
		if strings.Contains(r.URN, n) {
			return true
		}
	}
	return false
}

func releaseGatewayStep(r mockrun.Resource) bool    { return releaseConfigStep(r, "nginx", "gateway") }
func releasePrometheusStep(r mockrun.Resource) bool { return releaseConfigStep(r, "prometheus") }

// releasePreDeployBackup reports the pre-deployment backup step.
func releasePreDeployBackup(r mockrun.Resource) bool {
	return r.Type == releaseCommandType && regexp.MustCompile(`pre-?deploy`).MatchString(r.URN[strings.LastIndex(r.URN, "::"):])
}

// releaseImageRef is the image a RemoteImage pulls.
func releaseImageRef(r mockrun.Resource) string { return harness.Str(r.Inputs, "name") }

// releaseImagesInUse is, per Docker provider (host), the images its containers run.
func releaseImagesInUse(res *mockrun.Result) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, c := range res.OfType(harness.ContainerType) {
		if out[c.Provider] == nil {
			out[c.Provider] = map[string]bool{}
		}
		out[c.Provider][harness.Str(c.Inputs, "image")] = true
	}
	return out
}

func releaseName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

// (1) A tier image bump recreates that tier's containers only.
func TestReleaseTierImageBumpTouchesOnlyThatTier(t *testing.T) {
	const newImage = "aurigraph/v11:11.4.3"
	base := harness.Stack(t, "prod")
	op := releaseMeasure(t, base, releaseTier(t, base, "slim", func(m map[string]any) { m["image"] = newImage }))
	c := op.changes

	slim := map[string]bool{}
	slimHosts := map[string]bool{}
	for _, r := range op.before.OfType(harness.ContainerType) {
		if tier, slot, ok := releaseAppContainer(r); ok && tier == "slim" && slot == "blue" {
			slim[r.URN] = true
			slimHosts[r.Provider] = true
		}
	}
	require.Len(t, slim, 5, "prod runs 5 slim replicas")

	changedSlim := 0
	for _, urn := range c.Changed {
		r := op.resource(urn)
		switch {
		case slim[urn]:
			changedSlim++
			assert.Equal(t, []string{"image"}, c.Why[urn], "%s: only the image changes", urn)
			assert.Equal(t, newImage, harness.Str(r.Inputs, "image"))
		case releasePreDeployBackup(r):
			// The release takes a fresh dump first.
		case r.Name == "nginx-release-guard":
			// The new replicas serve traffic: the release guard checks them.
			assert.Equal(t, []string{"triggers"}, c.Why[urn])
		default:
			assert.Fail(t, "a slim image bump changes "+urn, "inputs %v", c.Why[urn])
		}
	}
	assert.Equal(t, len(slim), changedSlim, "every slim container gets the new image:\n%s", c)

	addedHosts := map[string]bool{}
	for _, urn := range c.Added {
		r := op.resource(urn)
		if assert.Equal(t, releaseImageType, r.Type, "a slim image bump adds only image pulls, got %s", urn) {
			assert.Equal(t, newImage, releaseImageRef(r), urn)
			addedHosts[r.Provider] = true
		}
	}
	assert.Equal(t, slimHosts, addedHosts, "the new image is pulled exactly on the hosts running slim replicas")

	inUse := releaseImagesInUse(op.after)
	for _, urn := range c.Removed {
		r := op.resource(urn)
		if assert.Equal(t, releaseImageType, r.Type, "a slim image bump removes only image pulls, got %s", urn) {
			assert.False(t, inUse[r.Provider][releaseImageRef(r)], "%s is removed while a container on its host still runs it", urn)
		}
	}
}

// (2) Scaling a tier up adds the new replica and updates who routes to it
// and who scrapes it; no existing container is touched.
func TestReleaseScaleUpAddsOnlyTheNewReplica(t *testing.T) {
	base := harness.Stack(t, "prod")
	after := releaseTier(t, base, "business", func(m map[string]any) {
		m["replicas"] = 16
		m["groups"] = []int{8, 8}
	})
	op := releaseMeasure(t, base, after)
	c := op.changes
	const newReplica = "aurigraph-v11-blue-business-16"

	var addedContainers []string
	for _, urn := range c.Added {
		r := op.resource(urn)
		switch {
		case r.Type == harness.ContainerType:
			addedContainers = append(addedContainers, releaseName(urn))
		case r.Type == releaseCommandType && releaseName(urn) == newReplica+"-dirs":
			// The new replica's own data/logs directories step.
		case r.Type == releaseCommandType && releaseName(urn) == newReplica+"-secrets":
			// The new replica's own secret files.
		case r.Type == releaseImageType:
			// A pull on a host that had no replica of this image yet.
		default:
			assert.Fail(t, "scale-up adds "+urn)
		}
	}
	assert.Equal(t, []string{newReplica}, addedContainers, "exactly the new container is added")
	assert.Empty(t, c.Removed, "scale-up removes nothing")

	gateway, prometheus := 0, 0
	for _, urn := range c.Changed {
		r := op.resource(urn)
		switch {
		case r.Type == harness.ContainerType:
			assert.Fail(t, "scale-up changes existing container "+urn, "inputs %v", c.Why[urn])
		case releaseGatewayStep(r):
			gateway++
		case releasePrometheusStep(r):
			prometheus++
		default:
			assert.Fail(t, "scale-up changes "+urn, "inputs %v", c.Why[urn])
		}
	}
	assert.Positive(t, gateway, "the gateway config and reload pick up the new replica")
	assert.Positive(t, prometheus, "the Prometheus config and reload pick up the new replica")
}

// (3, 4) Blue-green switch, rollback and canary steps are weight changes:
// only the gateway's config copy and its reload change, never a container.
func TestReleaseWeightChangesTouchOnlyTheGatewayConfig(t *testing.T) {
	base := harness.Stack(t, "prod")
	for _, step := range []struct{ name, from, to string }{
		{"switch 100/0 to 0/100", "100/0", "0/100"},
		{"rollback 0/100 to 100/0", "0/100", "100/0"},
		{"canary 95/5 to 80/20", "95/5", "80/20"},
		{"canary 80/20 to 50/50", "80/20", "50/50"},
	} {
		t.Run(step.name, func(t *testing.T) {
			var fb, fg, tb, tg int
			_, err := fmt.Sscanf(step.from+" "+step.to, "%d/%d %d/%d", &fb, &fg, &tb, &tg)
			require.NoError(t, err)
			op := releaseMeasure(t, releaseWeights(t, base, fb, fg), releaseWeights(t, base, tb, tg))
			c := op.changes
			assert.Empty(t, c.Added, "a weight change creates nothing")
			assert.Empty(t, c.Removed, "a weight change deletes nothing")
			kinds := map[string]bool{}
			for _, urn := range c.Changed {
				r := op.resource(urn)
				if assert.True(t, releaseGatewayStep(r), "a weight change touches %s (inputs %v)", urn, c.Why[urn]) {
					kinds[r.Type] = true
				}
			}
			assert.True(t, kinds[releaseCopyType], "the gateway config file carries the new weights:\n%s", c)
			assert.True(t, kinds[releaseCommandType], "the gateway reloads the new weights:\n%s", c)
		})
	}
}

// The recorded green slot mirrors the blue one and weights never reach a container.
func TestReleaseGreenSlotMirrorsBlue(t *testing.T) {
	res := releaseRun(t, releaseWeights(t, harness.Stack(t, "prod"), 95, 5))
	count := map[string]int{}
	for _, r := range res.OfType(harness.ContainerType) {
		tier, slot, ok := releaseAppContainer(r)
		if !ok {
			continue
		}
		count[slot+"/"+tier]++
		want := releaseBlueImage
		if slot == "green" {
			want = releaseGreenImage
		}
		assert.Equal(t, want, harness.Str(r.Inputs, "image"), r.URN)
	}
	assert.Equal(t, map[string]int{
		"blue/slim": 5, "blue/business": 15, "blue/validator": 5,
		"green/slim": 5, "green/business": 15, "green/validator": 5,
	}, count)
}
