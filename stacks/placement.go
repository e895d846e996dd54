package stacks

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/aurigraph/infra/components/container"
)

// Replica is one application container: its tier, slot, rolling group and host.
type Replica struct {
	Name  string // container and DNS name, e.g. aurigraph-v11-blue-business-3
	Tier  string
	Slot  string // blue | green
	Group int    // rolling group within the tier, from 1
	Index int    // 1-based within tier and slot
	Host  string
	Image string
}

// Placement says where everything runs. It is plain data computed from the
// config alone, so tests, the plan, validation and the components share one
// answer.
type Placement struct {
	Services map[string]string // service → host name
	Replicas []Replica         // every application container, in rolling order
	// Loads are what every host of the inventory reserves, in inventory
	// order: the services placed on it and its replicas, as the policy
	// pack's host-capacity rule sums them.
	Loads []HostLoad
}

// HostLoad is what the containers placed on a host reserve against the
// capacity the operator states for it.
type HostLoad struct {
	Host     string
	Index    int // in the inventory (hosts[Index])
	App      bool
	Capacity Capacity
	// Services are the reservations of the services placed on the host.
	ServiceCores    float64
	ServiceMemoryMB int
	Replicas        int
	// Cores and MemoryMB are the host's whole reservation.
	Cores    float64
	MemoryMB int
}

// Over reports whether the reservations exceed the stated capacity (a host
// that states none is never over: validation asks for one).
func (l HostLoad) Over() bool {
	if l.Capacity.CPUs < 1 || l.Capacity.MemoryGB < 1 {
		return false
	}
	return l.Cores > float64(l.Capacity.CPUs)+1e-9 || l.MemoryMB > l.Capacity.MemoryGB*1024
}

// placedHost is the host a service runs on: its placement override, else
// the first host holding its role ("" when none).
func placedHost(c *Config, svc string) string {
	if h := c.Placement[svc]; h != "" {
		return h
	}
	for _, h := range c.Hosts {
		if h.HasRole(ServiceRole[svc]) {
			return h.Name
		}
	}
	return ""
}

// ServiceContainers are the reservations of the containers a service runs:
// the service's own and, for the data services, their metrics exporter.
// Placement and validation count a host's load from them; the test
// TestPlacementLoadsAreThePolicysSums holds them to what the program deploys.
func ServiceContainers(c *Config, svc string) []container.Resources {
	out := []container.Resources{c.ResourcesFor(svc)}
	if svc == Postgres || svc == Redis {
		out = append(out, c.ResourcesFor(Exporter))
	}
	return out
}

// Place computes the placement: each service on its override or the first
// host holding its role; the replicas spread over the app hosts (spread).
func Place(c *Config) Placement {
	p := Placement{Services: placeServices(c)}
	for _, slot := range []string{"blue", "green"} {
		if slot == "green" && c.Release.Green.Image == "" {
			continue
		}
		for _, tier := range TierOrder {
			image := c.Release.Green.Image
			if slot == "blue" {
				image = c.TierImage(tier)
			}
			index := 0
			for g, size := range c.Tiers.ByName(tier).Groups {
				for k := 0; k < size; k++ {
					index++
					p.Replicas = append(p.Replicas, Replica{
						Name:  fmt.Sprintf("%s-%s-%s-%d", App, slot, tier, index),
						Tier:  tier,
						Slot:  slot,
						Group: g + 1,
						Index: index,
						Image: image,
					})
				}
			}
		}
	}
	p.Loads = serviceLoads(c, p.Services)
	spread(c, p.Replicas, p.Loads)
	return p
}

// placeServices is the services' part of the placement: service → host.
func placeServices(c *Config) map[string]string {
	out := map[string]string{}
	for _, svc := range Services {
		if h := placedHost(c, svc); h != "" {
			out[svc] = h
		}
	}
	return out
}

// serviceLoads is every host's load from the services placed on it.
func serviceLoads(c *Config, services map[string]string) []HostLoad {
	loads := make([]HostLoad, len(c.Hosts))
	byName := map[string]int{}
	for i, h := range c.Hosts {
		loads[i] = HostLoad{Host: h.Name, Index: i, App: h.HasRole(RoleApp), Capacity: h.Capacity}
		byName[h.Name] = i
	}
	for _, svc := range Services {
		i, ok := byName[services[svc]]
		if !ok {
			continue
		}
		for _, r := range ServiceContainers(c, svc) {
			loads[i].ServiceCores += r.ReservedCores()
			loads[i].ServiceMemoryMB += r.MemoryReservationMB
		}
	}
	for i := range loads {
		loads[i].Cores, loads[i].MemoryMB = loads[i].ServiceCores, loads[i].ServiceMemoryMB
	}
	return loads
}

// unlimited is the room of a host that states no capacity (validation
// refuses such a stack; the placement still answers).
const unlimited = math.MaxInt32

// room is how many replicas of size app fit in what the services leave.
func room(l HostLoad, app container.Resources) int {
	if l.Capacity.CPUs < 1 || l.Capacity.MemoryGB < 1 {
		return unlimited
	}
	n := unlimited
	if cores := app.ReservedCores(); cores > 0 {
		n = min(n, int(math.Floor((float64(l.Capacity.CPUs)-l.ServiceCores)/cores+1e-9)))
	}
	if mem := app.MemoryReservationMB; mem > 0 {
		n = min(n, (l.Capacity.MemoryGB*1024-l.ServiceMemoryMB)/mem)
	}
	return max(n, 0)
}

// spread sets every replica's host and adds the replicas to the loads.
//
// The app hosts join one after the other in inventory order, starting with
// every replica on the first. Each host that joins takes replicas from the
// others, and only that way does anything move, so appending a host to the
// inventory moves exactly the replicas that land on it (stable placement);
// the replicas elsewhere stay where they run.
//
// A joining host takes, tier by tier and slot by slot, from the host whose
// share of the tier is largest for its room (replicas of the tier over the
// replicas it has room for) while that share stays above the joining host's
// after the move, so every tier spreads over the hosts in proportion to
// their room; it also takes a replica whose rolling group has another member
// on the same host when the tier stays as even, so a group's members land on
// different hosts where there are enough. Among equals it takes the replica
// whose name ranks the joining host highest (rendezvous hashing), then by
// name: the result is a function of the config alone. Room shapes the
// shares but does not stop a move, or the first hosts, which hold
// everything while few have joined, would decide the spread. Replicas over
// a host's room once every host has joined move to the hosts with room left (only when capacity is short:
// that is the one case in which a host's arrival can move replicas that do
// not land on it); whatever still does not fit, validation refuses
// (validatePlacementCapacity).
func spread(c *Config, replicas []Replica, loads []HostLoad) {
	app := c.ResourcesFor(App)
	var hosts []int // indexes into loads
	for i, l := range loads {
		if l.App {
			hosts = append(hosts, i)
		}
	}
	if len(hosts) == 0 {
		return
	}
	roomOf := make([]int, len(loads))
	for _, i := range hosts {
		roomOf[i] = room(loads[i], app)
	}
	on := make([]int, len(replicas)) // replica → loads index
	count := make([]int, len(loads)) // replicas per host
	for r := range replicas {
		on[r] = hosts[0]
	}
	count[hosts[0]] = len(replicas)
	// cohorts: the replicas of one slot and tier, which spread together.
	var cohorts [][]int
	for r := range replicas {
		if r == 0 || replicas[r].Slot != replicas[r-1].Slot || replicas[r].Tier != replicas[r-1].Tier {
			cohorts = append(cohorts, nil)
		}
		cohorts[len(cohorts)-1] = append(cohorts[len(cohorts)-1], r)
	}
	for _, joining := range hosts[1:] {
		for _, cohort := range cohorts {
			join(replicas, cohort, on, count, roomOf, loads, joining)
		}
	}
	relieve(replicas, on, count, roomOf, hosts, loads)
	for r := range replicas {
		replicas[r].Host = loads[on[r]].Host
	}
	for i := range loads {
		loads[i].Replicas = count[i]
		loads[i].Cores = loads[i].ServiceCores + float64(count[i])*app.ReservedCores()
		loads[i].MemoryMB = loads[i].ServiceMemoryMB + count[i]*app.MemoryReservationMB
	}
}

// join moves replicas of one cohort to the joining host (spread).
func join(replicas []Replica, cohort, on, count, roomOf []int, loads []HostLoad, joining int) {
	hosts := len(loads)
	groups := 0
	for _, r := range cohort {
		groups = max(groups, replicas[r].Group)
	}
	tierOn := make([]int, hosts)         // host → replicas of the cohort
	groupOn := make([]int, groups*hosts) // (group-1)*hosts + host → replicas
	for _, r := range cohort {
		tierOn[on[r]]++
		groupOn[(replicas[r].Group-1)*hosts+on[r]]++
	}
	// A host's share of a load is the load over its room; a/ra against
	// b/rb is a*rb against b*ra (exact; unlimited room still fits int64).
	above := func(a, ha, b, hb int) int {
		return cmpInt64(int64(a)*int64(max(roomOf[hb], 1)), int64(b)*int64(max(roomOf[ha], 1)))
	}
	score := scores(replicas, cohort, loads[joining].Host)
	type candidate struct {
		k          int
		cohortGain bool // the cohort gets more even
		fromTotal  int  // the giving host's replicas (its share decides)
		fromCohort int
		from       int
		collisions int // change in group members sharing a host
	}
	better := func(a, b candidate) bool {
		if a.collisions != b.collisions {
			return a.collisions < b.collisions
		}
		if a.cohortGain != b.cohortGain {
			return a.cohortGain
		}
		if c := above(a.fromTotal, a.from, b.fromTotal, b.from); c != 0 {
			return c > 0
		}
		if c := above(a.fromCohort, a.from, b.fromCohort, b.from); c != 0 {
			return c > 0
		}
		if score[a.k] != score[b.k] {
			return score[a.k] > score[b.k]
		}
		return replicas[cohort[a.k]].Name < replicas[cohort[b.k]].Name
	}
	for {
		var best *candidate
		for k, r := range cohort {
			from := on[r]
			if from == joining {
				continue
			}
			g := replicas[r].Group
			c := candidate{k: k, from: from, fromTotal: count[from], fromCohort: tierOn[from]}
			// The change in the sum of squares of the group's members per
			// host, halved: below 0 the group gets more even.
			c.collisions = groupOn[(g-1)*hosts+joining] + 1 - groupOn[(g-1)*hosts+from]
			// The giving host must keep at least the joining host's share
			// of the cohort after the move: strictly more spreads the
			// tier; as much is worth it only if the host loads get more
			// even or a rolling group's members get separated.
			cohortCmp := above(tierOn[from], from, tierOn[joining]+1, joining)
			totalCmp := above(count[from], from, count[joining]+1, joining)
			c.cohortGain = cohortCmp > 0
			if cohortCmp < 0 || cohortCmp == 0 && !(totalCmp > 0 && c.collisions <= 0 || totalCmp >= 0 && c.collisions < 0) {
				continue
			}
			if best == nil || better(c, *best) {
				c := c
				best = &c
			}
		}
		if best == nil {
			return
		}
		r := cohort[best.k]
		from := on[r]
		tierOn[from]--
		tierOn[joining]++
		groupOn[(replicas[r].Group-1)*hosts+from]--
		groupOn[(replicas[r].Group-1)*hosts+joining]++
		count[from]--
		count[joining]++
		on[r] = joining
	}
}

// relieve moves replicas off hosts over their room to the hosts with room
// left, most room first, the replicas that rank the receiving host highest.
func relieve(replicas []Replica, on, count, roomOf, hosts []int, loads []HostLoad) {
	for _, from := range hosts {
		for count[from] > roomOf[from] {
			to := -1
			for _, h := range hosts {
				if count[h] < roomOf[h] && (to < 0 || roomOf[h]-count[h] > roomOf[to]-count[to]) {
					to = h
				}
			}
			if to < 0 {
				return // nothing has room: validation refuses the stack
			}
			best, bestScore := -1, uint64(0)
			for r := range replicas {
				if on[r] != from {
					continue
				}
				if s := rendezvous(replicas[r].Name, loads[to].Host); best < 0 || s > bestScore {
					best, bestScore = r, s
				}
			}
			on[best] = to
			count[from]--
			count[to]++
		}
	}
}

// scores are the cohort's rendezvous weights for a host.
func scores(replicas []Replica, cohort []int, host string) []uint64 {
	out := make([]uint64, len(cohort))
	for k, r := range cohort {
		out[k] = rendezvous(replicas[r].Name, host)
	}
	return out
}

// rendezvous is the weight of a (replica, host) pair in rendezvous hashing:
// FNV-1a of both names, finished with a 64-bit mixer so that names differing
// in one character still rank hosts independently.
func rendezvous(replica, host string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(replica))
	h.Write([]byte{0})
	h.Write([]byte(host))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReplicasOn lists the replicas placed on a host.
func (p Placement) ReplicasOn(host string) []Replica {
	var out []Replica
	for _, r := range p.Replicas {
		if r.Host == host {
			out = append(out, r)
		}
	}
	return out
}

// ServicesOn lists the services placed on a host, in deployment order.
func (p Placement) ServicesOn(host string) []string {
	var out []string
	for _, svc := range Services {
		if p.Services[svc] == host {
			out = append(out, svc)
		}
	}
	return out
}

// HasReplicas reports whether any replica runs on host.
func (p Placement) HasReplicas(host string) bool {
	for _, l := range p.Loads {
		if l.Host == host {
			return l.Replicas > 0
		}
	}
	return false
}
