package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
)

// appHostsConfig is testConfig's services host plus n app hosts of the
// given capacity, with tiers of validators, business and slim nodes in
// rolling groups of at most 10 and 20.
func appHostsConfig(n, validators, business, slim int, capacity Capacity) *Config {
	c := testConfig()
	c.Hosts = c.Hosts[:1]
	c.Hosts[0].Capacity = Capacity{CPUs: 64, MemoryGB: 256, DiskGB: 2000}
	for i := 1; i <= n; i++ {
		c.Hosts = append(c.Hosts, Host{Name: fmt.Sprintf("app-%02d", i), Roles: []string{RoleApp}, Capacity: capacity})
	}
	c.Tiers = Tiers{
		Validator: Tier{Replicas: validators, Groups: groups(validators, 10)},
		Business:  Tier{Replicas: business, Groups: groups(business, 20)},
		Slim:      Tier{Replicas: slim, Groups: []int{slim}},
	}
	return c
}

func groups(n, size int) []int {
	var out []int
	for ; n > 0; n -= min(n, size) {
		out = append(out, min(n, size))
	}
	return out
}

var roomy = Capacity{CPUs: 256, MemoryGB: 1024, DiskGB: 1000}

func hostsOf(p Placement) map[string]string {
	out := map[string]string{}
	for _, r := range p.Replicas {
		out[r.Name] = r.Host
	}
	return out
}

// Adding a host moves exactly the replicas that land on it: the others
// keep running where they are.
func TestAddingAHostMovesOnlyWhatLandsOnIt(t *testing.T) {
	for _, shape := range []struct{ hosts, validators, business, slim int }{
		{10, 5, 15, 5}, {10, 30, 40, 30}, {5, 7, 11, 7}, {3, 20, 20, 20}, {25, 75, 100, 75},
	} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			c := appHostsConfig(shape.hosts, shape.validators, shape.business, shape.slim, roomy)
			before := hostsOf(Place(c))
			c.Hosts = append(c.Hosts, Host{Name: "app-new", Roles: []string{RoleApp}, Capacity: roomy})
			after := hostsOf(Place(c))
			landed := 0
			for name, h := range after {
				if h == "app-new" {
					landed++
					continue
				}
				assert.Equal(t, before[name], h, "%s moved without landing on the new host", name)
			}
			total := shape.validators + shape.business + shape.slim
			assert.GreaterOrEqual(t, landed, total/(shape.hosts+1)-3, "the new host takes its share")
		})
	}
}

// Every tier spreads over every app host: no host holds more than its even
// share of a tier plus 3 (the price of both stabilities: no replica's
// place depends on the replicas after it), no two validators of one rolling
// group share a host where hosts allow, and every app host runs replicas.
func TestPlacementSpreadsTiersAndRollingGroups(t *testing.T) {
	for _, shape := range []struct{ hosts, validators, business, slim, validatorExcess int }{
		{5, 5, 15, 5, 0}, {10, 30, 40, 30, 0}, {7, 11, 15, 11, 0}, {100, 300, 400, 300, 0}, {3, 20, 20, 20, 0},
	} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			c := appHostsConfig(shape.hosts, shape.validators, shape.business, shape.slim, roomy)
			p := Place(c)
			tier, group := map[string]int{}, map[string]int{}
			tierOn, groupOn := map[[2]string]int{}, map[[2]string]int{}
			for _, r := range p.Replicas {
				g := fmt.Sprintf("%s/%d", r.Tier, r.Group)
				tier[r.Tier]++
				group[g]++
				tierOn[[2]string{r.Tier, r.Host}]++
				groupOn[[2]string{g, r.Host}]++
			}
			ceil := func(n int) int { return (n + shape.hosts - 1) / shape.hosts }
			for k, n := range tierOn {
				assert.LessOrEqual(t, n, ceil(tier[k[0]])+3, "%s on %s", k[0], k[1])
			}
			excess := 0
			for k, n := range groupOn {
				if strings.HasPrefix(k[0], TierValidator+"/") {
					excess += max(n-ceil(group[k[0]]), 0)
				}
			}
			assert.LessOrEqual(t, excess, shape.validatorExcess, "validators of one rolling group sharing a host beyond the even share")
			for _, l := range p.Loads {
				if l.App {
					assert.Positive(t, l.Replicas, l.Host)
				}
			}
		})
	}
}

// Scaling a tier up adds its new replica and moves no other replica.
func TestScalingUpMovesNoReplica(t *testing.T) {
	for _, shape := range []struct{ hosts, validators, business, slim int }{{5, 5, 15, 5}, {10, 30, 40, 30}, {100, 300, 400, 300}} {
		c := appHostsConfig(shape.hosts, shape.validators, shape.business, shape.slim, roomy)
		before := hostsOf(Place(c))
		c.Tiers.Business.Replicas++
		c.Tiers.Business.Groups[len(c.Tiers.Business.Groups)-1]++
		after := hostsOf(Place(c))
		require.Len(t, after, len(before)+1)
		for name, h := range before {
			assert.Equal(t, h, after[name], "%s moved", name)
		}
	}
}

// A host with less room gets fewer replicas; what the services placed on an
// app host reserve counts against it; nothing exceeds a host's capacity
// while the hosts together have room.
func TestPlacementRespectsEachHostsCapacity(t *testing.T) {
	c := appHostsConfig(4, 6, 12, 6, Capacity{CPUs: 64, MemoryGB: 256, DiskGB: 1000})
	c.Hosts[1].Capacity = Capacity{CPUs: 32, MemoryGB: 256, DiskGB: 1000} // room for 4 replicas of 8 cores
	c.Hosts[2].Roles = append(c.Hosts[2].Roles, RoleMonitoring)           // Prometheus & co. reserve 2.1 cores
	c.Placement = map[string]string{Prometheus: "app-02", Alertmanager: "app-02", Grafana: "app-02", Jaeger: "app-02"}
	p := Place(c)
	byHost := map[string]HostLoad{}
	for _, l := range p.Loads {
		byHost[l.Host] = l
		assert.False(t, l.Over(), "%s: %+v", l.Host, l)
	}
	assert.InDelta(t, 2.1, byHost["app-02"].ServiceCores, 0.01, "1 + 0.1 + 0.5 + 0.5 cores")
	assert.LessOrEqual(t, byHost["app-01"].Replicas, 4, "32 cores hold 4 replicas of 8")
	assert.LessOrEqual(t, byHost["app-02"].Replicas, 7, "64 - 2.1 cores hold 7")
	assert.Less(t, byHost["app-01"].Replicas, byHost["app-03"].Replicas, "less room, fewer replicas")
	assert.Less(t, byHost["app-02"].Replicas, byHost["app-04"].Replicas, "less room, fewer replicas")
	assert.Equal(t, 24, byHost["app-01"].Replicas+byHost["app-02"].Replicas+byHost["app-03"].Replicas+byHost["app-04"].Replicas)
}

// Validation refuses replicas that do not fit, with the figures and the keys
// to change; the same stack with one more host passes.
func TestValidationRefusesReplicasBeyondCapacity(t *testing.T) {
	full := Capacity{CPUs: 64, MemoryGB: 256, DiskGB: 1000} // 8 replicas of 8 cores
	c := appHostsConfig(3, 10, 10, 10, full)
	var ps Problems
	validatePlacementCapacity(c, &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "tiers", ps[0].Key)
	assert.Contains(t, ps[0].Message, "30 replicas reserve 240 cores and 480 GB (8 cores, 16384 MB each), but the app hosts have room for 24: 192 cores")
	assert.Contains(t, ps[0].Fix, "hosts[1].capacity")
	assert.Contains(t, ps[0].Fix, "lower tiers.*.replicas")

	c.Hosts = append(c.Hosts, Host{Name: "app-04", Roles: []string{RoleApp}, Capacity: full})
	ps = nil
	validatePlacementCapacity(c, &ps)
	assert.Empty(t, ps)
	for _, l := range Place(c).Loads {
		assert.False(t, l.Over(), l.Host)
	}
}

// Prometheus's memory and disk are checked against the targets the
// placement gives it, naming the key to raise.
func TestValidationSizesPrometheusForItsTargets(t *testing.T) {
	c := appHostsConfig(100, 300, 400, 300, roomy)
	var ps Problems
	validatePlacementCapacity(c, &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "resources.prometheus.memoryMb", ps[0].Key)
	assert.Contains(t, ps[0].Message, "4096 MB is below the")
	assert.Contains(t, ps[0].Message, "1000 replicas, 101 hosts")

	c.Resources = ResourceOverrides{Prometheus: {CPUs: 4, CPUsReservation: 2, MemoryMB: 12288, MemoryReservationMB: 8192}}
	c.Retention.PrometheusDays = 365
	ps = nil
	validatePlacementCapacity(c, &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "retention.prometheusDays", ps[0].Key)
	assert.Contains(t, ps[0].Fix, "raise hosts[0].capacity.diskGb")

	c.Retention.PrometheusDays = 15
	ps = nil
	validatePlacementCapacity(c, &ps)
	assert.Empty(t, ps)
}

// The placement is a function of the config: the same answer every time.
func TestPlacementIsDeterministic(t *testing.T) {
	c := appHostsConfig(10, 30, 40, 30, roomy)
	first := Place(c)
	for i := 0; i < 3; i++ {
		assert.Equal(t, first, Place(c))
	}
}

func at(c *Config, blue, green int) *Config {
	s := *c
	s.Release.Blue.Scale, s.Release.Green.Scale = &blue, &green
	s.Release.Green.Image = "aurigraph/v11:2.0.0"
	return &s
}

// replicasPerHost counts the replicas placed on each host.
func replicasPerHost(p Placement) map[string]int {
	out := map[string]int{}
	for _, r := range p.Replicas {
		out[r.Host]++
	}
	return out
}

// The slots' scales pick which replicas run and never where: a replica
// runs on the same host at every pair of scales, so a release that grows
// one slot and shrinks the other moves nothing.
func TestSlotScalesMoveNoReplica(t *testing.T) {
	for _, shape := range [][4]int{{5, 5, 15, 5}, {7, 9, 31, 12}, {20, 60, 80, 60}} {
		c := appHostsConfig(shape[0], shape[1], shape[2], shape[3], Capacity{CPUs: 512, MemoryGB: 2048, DiskGB: 1000})
		where := map[string]string{}
		for b := 0; b <= 100; b += 5 {
			for g := 0; g <= 100; g += 5 {
				p := Place(at(c, b, g))
				for _, r := range p.Replicas {
					if h, seen := where[r.Name]; seen {
						require.Equal(t, h, r.Host, "%v: %s moves at blue %d%%, green %d%%", shape, r.Name, b, g)
					}
					where[r.Name] = r.Host
				}
				for _, tier := range TierOrder {
					n := c.Tiers.ByName(tier).Replicas
					var blue, green int
					for _, r := range p.Replicas {
						if r.Tier == tier && r.Slot == "blue" {
							blue++
						} else if r.Tier == tier {
							green++
						}
					}
					assert.Equal(t, ScaledReplicas(n, b), blue, "%v blue %s at %d%%", shape, tier, b)
					assert.Equal(t, ScaledReplicas(n, g), green, "%v green %s at %d%%", shape, tier, g)
				}
			}
		}
	}
}

// While the two slots' replicas of each tier number at most the tier (the
// scales sum to at most 100, give or take rounding up), the slots run on
// disjoint positions: no host holds more replicas than a full blue slot
// puts on it, which is what lets hosts sized for one slot and a spare run
// a release.
func TestSlotsOfAtMostOneTierEachHoldNoMoreThanOneSlot(t *testing.T) {
	for _, shape := range [][4]int{{5, 5, 15, 5}, {7, 9, 31, 12}, {20, 60, 80, 60}} {
		c := appHostsConfig(shape[0], shape[1], shape[2], shape[3], Capacity{CPUs: 512, MemoryGB: 2048, DiskGB: 1000})
		one := replicasPerHost(Place(at(c, 100, 0)))
		checked := 0
		for b := 0; b <= 100; b += 5 {
			for g := 0; g <= 100-b; g++ {
				disjoint := true
				for _, tier := range TierOrder {
					n := c.Tiers.ByName(tier).Replicas
					disjoint = disjoint && ScaledReplicas(n, b)+ScaledReplicas(n, g) <= n
				}
				if !disjoint {
					continue
				}
				checked++
				for h, n := range replicasPerHost(Place(at(c, b, g))) {
					assert.LessOrEqual(t, n, one[h], "%v: %s at blue %d%%, green %d%%", shape, h, b, g)
				}
			}
		}
		assert.Greater(t, checked, 100, "%v", shape)
	}
}

// Prod's five app hosts hold 40 replicas of 8 cores: one slot of 25 and 15
// more. The placement gives a release all of that spare: green runs 60%
// beside a full blue, and all of itself beside 40% of blue. Without the
// scale order, every tier's first replicas shared hosts and green stopped
// at 30%.
func TestProdHoldsOneSlotAndItsSpare(t *testing.T) {
	s, err := stackfile.Load("..", "prod")
	require.NoError(t, err)
	c, _ := prodConfig(t, s)
	rooms, n := 0, 0
	for _, l := range Place(c).Loads {
		if l.App {
			rooms += room(l, c.ResourcesFor(App))
			n += l.Replicas
		}
	}
	require.Equal(t, 40, rooms)
	spare := 100 * (rooms - n) / n
	require.Equal(t, 25, n)
	fits := SlotScalesFit(c, "aurigraph/v11:2.0.0")
	assert.True(t, fits(100, spare), "green at the spare %d%% beside a full blue", spare)
	assert.False(t, fits(100, spare+5), "the hosts hold no more")
	assert.True(t, fits(100-spare, 100), "a full green beside blue at %d%%", 100-spare)
	assert.False(t, fits(100, 100), "not both slots whole")

	var ps Problems
	validatePlacementCapacity(at(c, 100, 100), &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "release", ps[0].Key)
	assert.Contains(t, ps[0].Message, "50 replicas of both slots (blue at scale 100%, green at 100%)")
	assert.Contains(t, ps[0].Fix, "release.green.scale")
	ps = nil
	validatePlacementCapacity(at(c, 100, spare), &ps)
	assert.Empty(t, ps)
}
