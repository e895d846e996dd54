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

// serviceContainers are the reservations of the containers a service runs:
// the service's own and, for the data services, their metrics exporter;
// PostgreSQL's host also runs the pooler and its exporter.
// Placement and validation count a host's load from them; the test
// tests/scale_test.go (checkScaleStack) holds them to what the program
// deploys, as the policy pack sums it.
func serviceContainers(c *Config, svc string) []container.Resources {
	out := []container.Resources{c.ResourcesFor(svc)}
	if svc == Postgres || svc == Redis {
		out = append(out, c.ResourcesFor(Exporter))
	}
	if svc == Postgres {
		out = append(out, c.ResourcesFor(Pooler), c.ResourcesFor(Exporter))
	}
	return out
}

// Place computes the placement: each service on its override or the first
// host holding its role; the replicas spread over the app hosts.
//
// The blue slot is spread at full scale (spread), and green replica k of a
// tier runs on the host of blue replica k: so where a replica runs depends
// on neither slot's scale. A slot's scale (Slot.ScalePercent) picks which
// replicas run along each tier's scale order (scaleOrder): blue keeps the
// first ones, green the last. Hence a release, which grows one slot while
// the other shrinks, adds and removes only replicas at those ends and
// moves none; and while the two slots' counts of each tier sum to at most
// the tier (scales summing to 100, give or take rounding up), they run on
// disjoint positions, so no host reserves more than one full slot puts on
// it (what hosts sized for one slot and a spare need). Whether both slots
// fit together is validation's question (validatePlacementCapacity), as it
// is the policy pack's.
func Place(c *Config) Placement {
	p := Placement{Services: placeServices(c)}
	p.Loads = serviceLoads(c, p.Services)
	blue := slotReplicas(c, "blue", c.Release.Blue.Image)
	spread(c, blue, p.Loads)
	rank, size := scaleOrder(blue)
	for i, r := range blue {
		if rank[i] < ScaledReplicas(size[i], c.Release.Blue.ScalePercent()) {
			p.Replicas = append(p.Replicas, r)
		}
	}
	if g := c.Release.Green; g.Image != "" {
		for i, r := range slotReplicas(c, "green", g.Image) {
			if rank[i] >= size[i]-ScaledReplicas(size[i], g.ScalePercent()) {
				r.Host = blue[i].Host // the same tier, group and index
				p.Replicas = append(p.Replicas, r)
			}
		}
	}
	addReplicaLoads(c, p.Replicas, p.Loads)
	return p
}

// slotReplicas are every replica a slot has at full scale, in rolling order.
// The blue slot's tiers may override its image.
func slotReplicas(c *Config, slot, image string) []Replica {
	var out []Replica
	for _, tier := range TierOrder {
		index := 0
		for g, size := range c.Tiers.ByName(tier).Groups {
			img := image
			if slot == "blue" {
				img = c.TierImage(tier, g+1)
			}
			for k := 0; k < size; k++ {
				index++
				out = append(out, Replica{
					Name:  fmt.Sprintf("%s-%s-%s-%d", App, slot, tier, index),
					Tier:  tier,
					Slot:  slot,
					Group: g + 1,
					Index: index,
					Image: img,
				})
			}
		}
	}
	return out
}

// scaleOrder ranks the replicas of each tier (placed, at full scale) in the
// order a slot's scale takes them: rank[i] is replica i's place in its
// tier's order and size[i] its tier's size. The tiers take turns in
// proportion to their sizes, and each turn takes the tier's replica on the
// host that holds the fewest taken so far (the lowest index on a tie): so
// any scale's replicas, and the rest, spread over the hosts as evenly as
// the placement allows, across the tiers together. In rolling order
// instead, every tier's first replicas sit on the same few hosts (spread
// starts each tier alike), and a partial slot would pile up there.
func scaleOrder(replicas []Replica) (rank, size []int) {
	rank, size = make([]int, len(replicas)), make([]int, len(replicas))
	type tierQueue struct {
		n, taken int
		onHost   map[string][]int // host → its replicas of the tier, by index
	}
	queues := map[string]*tierQueue{}
	var tiers []string
	for i, r := range replicas {
		q := queues[r.Tier]
		if q == nil {
			q = &tierQueue{onHost: map[string][]int{}}
			queues[r.Tier] = q
			tiers = append(tiers, r.Tier)
		}
		q.n++
		q.onHost[r.Host] = append(q.onHost[r.Host], i)
	}
	for i, r := range replicas {
		size[i] = queues[r.Tier].n
	}
	taken := map[string]int{} // host → replicas taken, all tiers
	for range replicas {
		// The tier furthest behind its share: the lowest (taken+1)/n.
		var q *tierQueue
		for _, t := range tiers {
			c := queues[t]
			if c.taken < c.n && (q == nil || (c.taken+1)*q.n < (q.taken+1)*c.n) {
				q = c
			}
		}
		best, bestHost := -1, ""
		for h, idx := range q.onHost {
			if len(idx) == 0 {
				continue
			}
			if best < 0 || taken[h] < taken[bestHost] || (taken[h] == taken[bestHost] && idx[0] < best) {
				best, bestHost = idx[0], h
			}
		}
		rank[best] = q.taken
		q.taken++
		q.onHost[bestHost] = q.onHost[bestHost][1:]
		taken[bestHost]++
	}
	return rank, size
}

// addReplicaLoads adds the replicas that run to their hosts' loads.
func addReplicaLoads(c *Config, replicas []Replica, loads []HostLoad) {
	app := c.ResourcesFor(App)
	byName := map[string]int{}
	for i, l := range loads {
		byName[l.Host] = i
	}
	for _, r := range replicas {
		if i, ok := byName[r.Host]; ok {
			loads[i].Replicas++
		}
	}
	for i := range loads {
		loads[i].Cores = loads[i].ServiceCores + float64(loads[i].Replicas)*app.ReservedCores()
		loads[i].MemoryMB = loads[i].ServiceMemoryMB + loads[i].Replicas*app.MemoryReservationMB
	}
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
		for _, r := range serviceContainers(c, svc) {
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

// spread sets the host of every replica of one slot, against the room the
// services leave on the hosts (loads, which it does not change).
//
// The app hosts arrive one after the other in inventory order, every
// replica starting on the first. When a host arrives, each replica in
// rolling order (slot, tier, index) either stays or moves to it, deciding
// from where the replicas before it are by then, and nothing else moves.
// Hence the two stabilities, exactly:
//   - appending a host to the inventory moves only replicas onto it;
//   - appending a replica to a tier (scaling up) moves no other replica,
//     since no replica's decisions depend on the ones after it.
//
// A replica moves when the arriving host holds less than its fair share
// of the replicas of its tier and slot (its cohort) so far, this one
// included, and the host it leaves would hold more than its own: a host's
// fair share is in proportion to its room (what its capacity holds after
// the services placed on it). Members of the replica's rolling group on
// either host tip the choice, so a group's members land on different hosts
// where they can. The result is a function of the config alone. The
// spread is even to a few replicas per host, not exactly: exact evenness
// would need a replica's place to depend on the replicas after it.
// Replicas over a host's room once every host has arrived move to the
// hosts with room left (relieve): only when capacity is short, the one
// case in which adding a host or a replica can move others; whatever
// still does not fit, validation refuses (validatePlacementCapacity).
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
	for r := range replicas {
		on[r] = hosts[0]
	}
	groups := 0
	for _, r := range replicas {
		groups = max(groups, r.Group)
	}
	n := len(loads)
	cohort := make([]int, n)         // of the current cohort
	group := make([]int, n*groups+n) // (group-1)*n + host, of the current cohort
	// A host's fair share of a cohort is in proportion to its room.
	weight := func(h int) int64 { return int64(roomOf[h]) }
	weightSum := weight(hosts[0])
	for _, arriving := range hosts[1:] {
		weightSum += weight(arriving)
		cohortSeen := 0
		for r := range replicas {
			if r == 0 || replicas[r].Slot != replicas[r-1].Slot || replicas[r].Tier != replicas[r-1].Tier {
				clear(cohort)
				clear(group)
				cohortSeen = 0
			}
			from, g := on[r], (replicas[r].Group-1)*n
			move := false
			ga, gf := group[g+arriving], group[g+from]
			j := int64(cohortSeen + 1)                                       // replicas of the cohort so far, this one included
			behind := int64(cohort[arriving])*weightSum < j*weight(arriving) // below its fair share
			over := int64(cohort[from]+1)*weightSum > j*weight(from)         // above it if it stays
			switch {
			case behind && over:
				move = ga <= gf || int64(cohort[arriving]+1)*weightSum <= j*weight(arriving)-weightSum
			case behind || over:
				move = ga < gf
			}
			if move {
				on[r] = arriving
			}
			cohort[on[r]]++
			group[g+on[r]]++
			cohortSeen++
		}
	}
	count := make([]int, n)
	for r := range replicas {
		count[on[r]]++
	}
	relieve(replicas, on, count, roomOf, hosts, loads)
	separateValidatorGroups(replicas, on, count, roomOf, hosts)
	for r := range replicas {
		replicas[r].Host = loads[on[r]].Host
	}
}

// separateValidatorGroups keeps the members of a validator rolling group on
// different hosts where hosts allow: a group rolls at once, and two of its
// members on one host would fall together with it. A member sharing a host
// moves to a host with room and none of its group, or, when no host has
// room, trades places with a validator of another group. Spread leaves few
// to separate, and the moves are a function of its result.
func separateValidatorGroups(replicas []Replica, on, count, roomOf, hosts []int) {
	type key struct {
		slot  string
		group int
		host  int
	}
	members := map[key]int{}
	var validators []int
	for r, rep := range replicas {
		if rep.Tier == TierValidator {
			validators = append(validators, r)
			members[key{rep.Slot, rep.Group, on[r]}]++
		}
	}
	place := func(r, to int) {
		a := replicas[r]
		members[key{a.Slot, a.Group, on[r]}]--
		count[on[r]]--
		on[r] = to
		members[key{a.Slot, a.Group, to}]++
		count[to]++
	}
	for _, r := range validators {
		a := replicas[r]
		if members[key{a.Slot, a.Group, on[r]}] < 2 {
			continue
		}
		to := -1 // the emptiest host with room and none of the group
		for _, h := range hosts {
			if count[h] < roomOf[h] && members[key{a.Slot, a.Group, h}] == 0 && (to < 0 || count[h] < count[to]) {
				to = h
			}
		}
		if to >= 0 {
			place(r, to)
			continue
		}
		for _, s := range validators {
			b := replicas[s]
			if b.Slot == a.Slot && b.Group != a.Group &&
				members[key{a.Slot, a.Group, on[s]}] == 0 && members[key{b.Slot, b.Group, on[r]}] == 0 {
				from := on[r]
				place(r, on[s])
				place(s, from)
				break
			}
		}
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

// SlotScalesFit answers, for a release of image, whether the hosts hold
// both slots at the given scales (percent of every tier), as validation and
// the policy pack's host-capacity rule count it: the release controller
// plans its steps with it (release.Spec.Fits).
func SlotScalesFit(c *Config, image string) func(blue, green int) bool {
	return func(blue, green int) bool {
		at := *c
		at.Release.Blue.Scale, at.Release.Green.Scale = &blue, &green
		if at.Release.Green.Image == "" {
			at.Release.Green.Image = image
		}
		return Place(&at).Fits()
	}
}

// Fits reports whether every host holds what the placement puts on it.
func (p Placement) Fits() bool {
	for _, l := range p.Loads {
		if l.Over() {
			return false
		}
	}
	return true
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
