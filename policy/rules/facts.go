package rules

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Namespace is the project's config namespace.
const Namespace = "aurigraph"

// Capacity is what the operator states a host has.
type Capacity struct {
	CPUs     float64 `json:"cpus"`
	MemoryGB float64 `json:"memoryGb"`
	DiskGB   float64 `json:"diskGb"`
}

// Thresholds are the figures preflight refuses a host below.
type Thresholds struct {
	MinCPUs     float64 `json:"minCpus"`
	MinMemoryGB float64 `json:"minMemoryGb"`
	MinDiskGB   float64 `json:"minDiskGb"`
}

// HostFacts is one host as the stack states it.
type HostFacts struct {
	Name           string      `json:"name"`
	Address        string      `json:"address"`
	PrivateAddress string      `json:"privateAddress"`
	Roles          []string    `json:"roles"`
	Capacity       *Capacity   `json:"capacity"`
	Thresholds     *Thresholds `json:"thresholds"`
}

// Facts are what stack rules know beyond single resources: the hosts with
// their stated capacity and preflight thresholds. They come from the stack's
// config (the pack receives it from the engine; the offline runner from the
// stack file) and are overridden by the inputs of the `aurigraph:host:Host`
// components when those carry them.
type Facts struct {
	Environment string
	Hosts       []HostFacts
}

// Host returns the facts of a host by name, or nil.
func (f Facts) Host(name string) *HostFacts {
	for i := range f.Hosts {
		if f.Hosts[i].Name == name {
			return &f.Hosts[i]
		}
	}
	return nil
}

// FactsFromConfig reads the facts from stack config (full keys, structured
// values as JSON). Unreadable keys leave the facts empty: the rules then
// report what they cannot verify.
func FactsFromConfig(cfg map[string]string) Facts {
	f := Facts{Environment: cfg[Namespace+":environment"]}
	_ = json.Unmarshal([]byte(cfg[Namespace+":hosts"]), &f.Hosts)
	var pre Thresholds
	if json.Unmarshal([]byte(cfg[Namespace+":preflight"]), &pre) == nil && pre != (Thresholds{}) {
		for i := range f.Hosts {
			if f.Hosts[i].Thresholds == nil {
				t := pre
				f.Hosts[i].Thresholds = &t
			}
		}
	}
	for i := range f.Hosts {
		if f.Hosts[i].Capacity != nil && *f.Hosts[i].Capacity == (Capacity{}) {
			f.Hosts[i].Capacity = nil
		}
	}
	return f
}

// WithResources returns a copy with each host's facts taken from its host
// component's inputs where present (name, address, clusterAddress, roles,
// capacity {cpus, memoryGb, diskGb}, thresholds {minCpus, minMemoryGb,
// minDiskGb}); hosts only in the resources are added.
func (f Facts) WithResources(rs []policyx.AnalyzerResource) Facts {
	out := Facts{Environment: f.Environment, Hosts: append([]HostFacts{}, f.Hosts...)}
	for _, r := range rs {
		if r.Type != HostType {
			continue
		}
		name := r.Name
		if name == "" {
			name = urnName(r.URN)
		}
		h := out.Host(name)
		if h == nil {
			out.Hosts = append(out.Hosts, HostFacts{Name: name})
			h = &out.Hosts[len(out.Hosts)-1]
		}
		p := r.Properties
		if a, s := str(p.Get("address")); s == known && a != "" {
			h.Address = a
		}
		if a, s := str(p.Get("clusterAddress")); s == known && a != "" {
			h.PrivateAddress = a
		}
		if roles, s := strs(p.Get("roles")); s == known && len(roles) > 0 {
			h.Roles = roles
		}
		if c, ok := readCapacity(p.Get("capacity")); ok {
			h.Capacity = &c
		}
		if t, ok := readThresholds(p.Get("thresholds")); ok {
			h.Thresholds = &t
		}
	}
	return out
}

func readCapacity(v property.Value) (Capacity, bool) {
	m, s := obj(v)
	if s != known {
		return Capacity{}, false
	}
	cpus, s1 := num(m.Get("cpus"))
	mem, s2 := num(m.Get("memoryGb"))
	disk, s3 := num(m.Get("diskGb"))
	if s1 != known || s2 != known || s3 != known {
		return Capacity{}, false
	}
	return Capacity{CPUs: cpus, MemoryGB: mem, DiskGB: disk}, true
}

func readThresholds(v property.Value) (Thresholds, bool) {
	m, s := obj(v)
	if s != known {
		return Thresholds{}, false
	}
	c, s1 := num(m.Get("minCpus"))
	mem, s2 := num(m.Get("minMemoryGb"))
	d, s3 := num(m.Get("minDiskGb"))
	if s1 != known || s2 != known || s3 != known {
		return Thresholds{}, false
	}
	return Thresholds{MinCPUs: c, MinMemoryGB: mem, MinDiskGB: d}, true
}
