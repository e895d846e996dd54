// Package zones is the one table of the platform's network trust zones: which
// zones exist, what each is for, and which zones each container role joins.
// Two containers reach each other only if they share a zone, so the table is
// the whole answer to "who can reach whom". The wiring (components/network)
// creates and joins the zones from it; the policy pack refuses containers on
// zones their role does not list; docs/network-zones.md is generated from it.
//
// A role is a container's name, or for the application's replicas their
// service (aurigraph-v11). The package imports nothing of the program, so
// both the components and the policy pack can use it.
package zones

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// Labels: the policy pack reads a container's role and a network's zone
// from them, and checks the one against the other with the table.
const (
	// RoleLabel is a container's role (components/container sets it).
	RoleLabel = "com.aurigraph.network-role"
	// ZoneLabel is a zone network's zone (components/network sets it).
	ZoneLabel = "com.aurigraph.zone"
)

// Zone is one trust zone: an encrypted overlay network of its own.
type Zone string

// The zones. Each is named for the traffic it carries.
const (
	Edge       Zone = "edge"        // the gateway to the application replicas
	UI         Zone = "ui"          // the gateway to the monitoring UIs
	App        Zone = "app"         // the application to its pooler, cache and tracing
	DataAdmin  Zone = "data-admin"  // the pooler, Vault and the exporters to PostgreSQL
	CacheAdmin Zone = "cache-admin" // the Redis exporter and Grafana to Redis
	Logging    Zone = "logging"     // Logstash, Kibana and Grafana to Elasticsearch
	Metrics    Zone = "metrics"     // Prometheus to every metrics endpoint, and Alertmanager
)

// Info is what the table says about a zone.
type Info struct {
	Zone Zone
	// Slot is the zone's subnet inside the stack's network.subnet (Subnet):
	// fixed per zone and never reused, so adding a zone moves no other.
	Slot    int
	Purpose string
}

// All lists every zone, in slot order.
var All = []Info{
	{App, 0, "the application replicas reach PgBouncer, Redis and Jaeger's collectors"},
	{Edge, 1, "the gateway reaches the application replicas (REST and gRPC)"},
	{UI, 2, "the gateway reaches the monitoring UIs; Grafana reads Jaeger's API"},
	{DataAdmin, 3, "PgBouncer, Vault's database engine and the PostgreSQL exporter reach PostgreSQL; the PgBouncer exporter reaches PgBouncer"},
	{CacheAdmin, 4, "the Redis exporter and Grafana's Redis datasource reach Redis"},
	{Logging, 5, "Logstash, Kibana and Grafana reach Elasticsearch"},
	{Metrics, 6, "Prometheus scrapes the replicas, exporters, Vault, Jaeger and Grafana, and alerts Alertmanager; Grafana reads Prometheus"},
}

// SlotBits is how many bits the zone subnets add to network.subnet's
// prefix: 8 slots, so a /16 gives each zone a /19.
const SlotBits = 3

// DataStores never join the edge zone: the gateway faces the internet.
var DataStores = []string{"postgres", "pgbouncer", "redis", "vault", "elasticsearch"}

// roles maps each container role to the zones it joins, from what it really
// talks to (the rendered configs and environment name the peers).
var roles = map[string][]Zone{
	"nginx":              {Edge, UI},
	"aurigraph-v11":      {Edge, App, Metrics},
	"pgbouncer":          {App, DataAdmin},
	"pgbouncer-exporter": {DataAdmin, Metrics},
	"postgres":           {DataAdmin},
	"postgres-exporter":  {DataAdmin, Metrics},
	"redis":              {App, CacheAdmin},
	"redis-exporter":     {CacheAdmin, Metrics},
	"vault":              {DataAdmin, Metrics},
	"jaeger":             {App, UI, Metrics},
	"elasticsearch":      {Logging},
	"logstash":           {Logging},
	"kibana":             {UI, Logging},
	"prometheus":         {UI, Metrics},
	"alertmanager":       {UI, Metrics},
	"grafana":            {UI, CacheAdmin, Logging, Metrics},
}

// Of is the zones a role joins, in slot order; false for an unknown role.
func Of(role string) ([]Zone, bool) {
	z, ok := roles[role]
	if !ok {
		return nil, false
	}
	out := slices.Clone(z)
	slices.SortFunc(out, func(a, b Zone) int { return slotOf(a) - slotOf(b) })
	return out, true
}

// Roles is every role, sorted.
func Roles() []string { return slices.Sorted(maps.Keys(roles)) }

// Allows reports whether role may join zone.
func Allows(role string, z Zone) bool { return slices.Contains(roles[role], z) }

// Members are the roles that join a zone, sorted.
func Members(z Zone) []string {
	var out []string
	for _, r := range Roles() {
		if Allows(r, z) {
			out = append(out, r)
		}
	}
	return out
}

// Shared are the zones two roles both join, in slot order: empty means
// neither can reach the other.
func Shared(a, b string) []Zone {
	za, _ := Of(a)
	var out []Zone
	for _, z := range za {
		if Allows(b, z) {
			out = append(out, z)
		}
	}
	return out
}

// Known reports whether z is one of the zones.
func Known(z Zone) bool { return slotOf(z) >= 0 }

func slotOf(z Zone) int {
	for _, i := range All {
		if i.Zone == z {
			return i.Slot
		}
	}
	return -1
}

// NetworkName is a zone's Docker network name for the stack's network.name:
// the app zone keeps the name itself (the network the platform had before
// zones, so its resource keeps its URN), every other is suffixed.
func NetworkName(base string, z Zone) string {
	if z == App {
		return base
	}
	return base + "-" + string(z)
}

// Subnet is a zone's subnet: its slot's share of base (network.subnet).
func Subnet(base netip.Prefix, z Zone) (netip.Prefix, error) {
	slot := slotOf(z)
	if slot < 0 {
		return netip.Prefix{}, fmt.Errorf("unknown zone %q", z)
	}
	base = base.Masked()
	bits := base.Bits() + SlotBits
	if !base.Addr().Is4() || bits > 30 {
		return netip.Prefix{}, fmt.Errorf("%s is too small for %d zone subnets", base, 1<<SlotBits)
	}
	a := base.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(slot) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), bits), nil
}

// Capacity is how many containers and hosts a zone subnet of that many
// prefix bits holds: Docker keeps the network and broadcast addresses and
// the gateway, and every host with a container on the overlay takes one
// address for its endpoint.
func Capacity(bits int) int { return 1<<(32-bits) - 3 }
