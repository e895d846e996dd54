package stacks

import "fmt"

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
// config alone, so tests, the plan and the components share one answer.
type Placement struct {
	Services map[string]string // service → host name
	Replicas []Replica         // every application container, in rolling order
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

// Place computes the placement: each service on its override or the first
// host holding its role; replicas spread round-robin over the app hosts.
func Place(c *Config) Placement {
	p := Placement{Services: map[string]string{}}
	for _, svc := range Services {
		if h := placedHost(c, svc); h != "" {
			p.Services[svc] = h
		}
	}
	var appHosts []string
	for _, h := range c.Hosts {
		if h.HasRole(RoleApp) {
			appHosts = append(appHosts, h.Name)
		}
	}
	if len(appHosts) == 0 {
		return p
	}
	for _, slot := range []string{"blue", "green"} {
		if slot == "green" && c.Release.Green.Image == "" {
			continue
		}
		for ti, tier := range TierOrder {
			image := c.Release.Green.Image
			if slot == "blue" {
				image = c.TierImage(tier)
			}
			index := 0
			for g, size := range c.Tiers.ByName(tier).Groups {
				for k := 0; k < size; k++ {
					// Each tier spreads from its own offset, so scaling one
					// tier never moves another tier's replicas.
					host := appHosts[(ti+index)%len(appHosts)]
					index++
					p.Replicas = append(p.Replicas, Replica{
						Name:  fmt.Sprintf("%s-%s-%s-%d", App, slot, tier, index),
						Tier:  tier,
						Slot:  slot,
						Group: g + 1,
						Index: index,
						Host:  host,
						Image: image,
					})
				}
			}
		}
	}
	return p
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
