package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func stackRules() []Rule {
	return []Rule{
		{
			Name:        "edge-tls",
			Description: "The public edge terminates TLS: the gateway publishes 443/tcp.",
			Stack:       checkEdgeTLS,
		},
		{
			Name:        "host-preflight-thresholds",
			Description: "Every host's preflight refuses machines below the environment's minimum (prod: 32 cores, 64 GB memory, 200 GB disk), as rendered into its preflight script.",
			Schema:      numberSchema("minCpus", "minMemoryGb", "minDiskGb"),
			Stack:       checkPreflightThresholds,
		},
		{
			Name:        "host-capacity",
			Description: "On every host, the containers' memory and CPU reservations add up to no more than the host's stated capacity.",
			Stack:       checkHostCapacity,
		},
		{
			Name:        "app-replicas-spread",
			Description: "The application runs at least minReplicas replicas spread over at least minHosts hosts (prod: 3 over 2).",
			Schema:      numberSchema("minReplicas", "minHosts"),
			Stack:       checkReplicaSpread,
		},
		{
			Name:        "single-public-edge",
			Description: "Exactly one public edge: one gateway container publishes 80/443, and one host holds the edge role.",
			Stack:       checkSinglePublicEdge,
		},
	}
}

// stackView indexes a stack's resources for the stack rules.
type stackView struct {
	byURN      map[string]policyx.AnalyzerResource
	containers []policyx.AnalyzerResource
}

func newStackView(rs []policyx.AnalyzerResource) stackView {
	v := stackView{byURN: map[string]policyx.AnalyzerResource{}}
	for _, r := range rs {
		v.byURN[r.URN] = r
		if r.Type == ContainerType {
			v.containers = append(v.containers, r)
		}
	}
	sort.Slice(v.containers, func(i, j int) bool { return v.containers[i].URN < v.containers[j].URN })
	return v
}

// hostOf names the host a container runs on: its Docker provider's parent
// host component (older programs), else the provider's name without
// "-docker" (the providers are top-level now); "" for the default provider
// (the machine running Pulumi).
func (v stackView) hostOf(r policyx.AnalyzerResource) string {
	prov := r.Provider.URN
	if prov == "" {
		return ""
	}
	if p, ok := v.byURN[prov]; ok && strings.Contains(p.Parent, "::"+HostType+"::") {
		return urnName(p.Parent)
	}
	name := r.Provider.Name
	if name == "" {
		name = urnName(prov)
	}
	return strings.TrimSuffix(name, "-docker")
}

func checkEdgeTLS(rs []policyx.AnalyzerResource, _ Env) []Finding {
	v := newStackView(rs)
	gateways := 0
	for _, c := range v.containers {
		if kindOf(c.Properties) != Gateway {
			continue
		}
		gateways++
		ps, ok := ports(c.Properties)
		if !ok {
			return nil // unknown during preview
		}
		for _, pt := range ps {
			if pt.hostPort() == 443 && pt.protocol == "tcp" {
				return nil
			}
		}
	}
	if gateways == 0 {
		return []Finding{{Message: "no gateway (nginx) container: the stack has no TLS edge"}}
	}
	return []Finding{{Message: "no gateway container publishes 443/tcp: the public edge must terminate TLS"}}
}

var thresholdRE = map[string]*regexp.Regexp{
	"cpus":   regexp.MustCompile(`(?m)^\s*min_cpus=['"]?(\d+)`),
	"memory": regexp.MustCompile(`(?m)^\s*min_memory_gb=['"]?(\d+)`),
	"disk":   regexp.MustCompile(`(?m)^\s*min_disk_gb=['"]?(\d+)`),
}

// scriptThresholds reads the figures a preflight command's script enforces
// (min_cpus=, min_memory_gb=, min_disk_gb= in its stdin or create).
func scriptThresholds(p property.Map) (Thresholds, bool) {
	var script string
	for _, k := range []string{"stdin", "create"} {
		s, st := str(p.Get(k))
		if st == known {
			script += s + "\n"
		}
	}
	var got [3]float64
	for i, k := range []string{"cpus", "memory", "disk"} {
		m := thresholdRE[k].FindStringSubmatch(script)
		if m == nil {
			return Thresholds{}, false
		}
		got[i], _ = strconv.ParseFloat(m[1], 64)
	}
	return Thresholds{MinCPUs: got[0], MinMemoryGB: got[1], MinDiskGB: got[2]}, true
}

func checkPreflightThresholds(rs []policyx.AnalyzerResource, env Env) []Finding {
	want := Thresholds{MinCPUs: env.Num("minCpus", 32), MinMemoryGB: env.Num("minMemoryGb", 64), MinDiskGB: env.Num("minDiskGb", 200)}
	// What each host's preflight script enforces, where the stack has one.
	scripts := map[string]Thresholds{}
	scriptURN := map[string]string{}
	for _, r := range rs {
		if r.Type != RemoteCommandType || !strings.HasSuffix(urnName(r.URN), "-preflight") || !strings.Contains(r.Parent, "::"+HostType+"::") {
			continue
		}
		if t, ok := scriptThresholds(r.Properties); ok {
			host := urnName(r.Parent)
			scripts[host], scriptURN[host] = t, r.URN
		}
	}
	var out []Finding
	for _, h := range env.Facts.Hosts {
		t, urn, source := h.Thresholds, "", "the stack's preflight settings"
		if s, ok := scripts[h.Name]; ok {
			t, urn, source = &s, scriptURN[h.Name], "its preflight script"
		}
		if t == nil {
			out = append(out, Finding{Message: fmt.Sprintf("host %s has no preflight thresholds", h.Name)})
			continue
		}
		var short []string
		if t.MinCPUs < want.MinCPUs {
			short = append(short, fmt.Sprintf("%g cores (minimum %g)", t.MinCPUs, want.MinCPUs))
		}
		if t.MinMemoryGB < want.MinMemoryGB {
			short = append(short, fmt.Sprintf("%g GB memory (minimum %g)", t.MinMemoryGB, want.MinMemoryGB))
		}
		if t.MinDiskGB < want.MinDiskGB {
			short = append(short, fmt.Sprintf("%g GB disk (minimum %g)", t.MinDiskGB, want.MinDiskGB))
		}
		if len(short) > 0 {
			out = append(out, Finding{URN: urn, Message: fmt.Sprintf("host %s: %s accepts %s", h.Name, source, strings.Join(short, ", "))})
		}
	}
	if len(env.Facts.Hosts) == 0 && len(scripts) == 0 {
		out = append(out, Finding{Message: "no host states preflight thresholds"})
	}
	return out
}

type load struct {
	memoryMB, cpus float64
	containers     int
	urns           []string
}

func checkHostCapacity(rs []policyx.AnalyzerResource, env Env) []Finding {
	v := newStackView(rs)
	loads := map[string]*load{}
	var out []Finding
	for _, c := range v.containers {
		host := v.hostOf(c)
		if host == "" {
			out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("container %s runs on the default Docker provider: no host states its capacity", displayName(c.Properties, c.URN))})
			continue
		}
		l := loads[host]
		if l == nil {
			l = &load{}
			loads[host] = l
		}
		mem, ms := num(c.Properties.Get("memoryReservation"))
		cpu, cs := cpuReservation(c.Properties)
		if ms == unknown || cs == unknown {
			return out // unknown during preview: no verdict on sums
		}
		l.memoryMB += mem
		l.cpus += cpu
		l.containers++
		l.urns = append(l.urns, c.URN)
	}
	hosts := make([]string, 0, len(loads))
	for h := range loads {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		l := loads[h]
		facts := env.Facts.Host(h)
		if facts == nil || facts.Capacity == nil {
			out = append(out, Finding{Message: fmt.Sprintf("host %s runs %d containers but states no capacity", h, l.containers)})
			continue
		}
		capMB := facts.Capacity.MemoryGB * 1024
		if l.memoryMB > capMB {
			out = append(out, Finding{Message: fmt.Sprintf("host %s: its %d containers reserve %g MB of memory, above its stated %g GB (%g MB)", h, l.containers, l.memoryMB, facts.Capacity.MemoryGB, capMB)})
		}
		if l.cpus > facts.Capacity.CPUs+1e-9 {
			out = append(out, Finding{Message: fmt.Sprintf("host %s: its %d containers reserve %.2f cores, above its stated %g", h, l.containers, l.cpus, facts.Capacity.CPUs)})
		}
	}
	return out
}

func checkReplicaSpread(rs []policyx.AnalyzerResource, env Env) []Finding {
	v := newStackView(rs)
	minReplicas, minHosts := env.Num("minReplicas", 3), env.Num("minHosts", 2)
	hosts := map[string]bool{}
	replicas := 0
	for _, c := range v.containers {
		if kindOf(c.Properties) != App {
			continue
		}
		replicas++
		hosts[v.hostOf(c)] = true
	}
	var out []Finding
	if float64(replicas) < minReplicas {
		out = append(out, Finding{Message: fmt.Sprintf("the application runs %d replica(s), fewer than %g", replicas, minReplicas)})
	}
	if float64(len(hosts)) < minHosts {
		names := make([]string, 0, len(hosts))
		for h := range hosts {
			names = append(names, h)
		}
		sort.Strings(names)
		out = append(out, Finding{Message: fmt.Sprintf("the application's replicas run on %d host(s) %v, fewer than %g: one host's failure would stop it", len(hosts), names, minHosts)})
	}
	return out
}

func checkSinglePublicEdge(rs []policyx.AnalyzerResource, env Env) []Finding {
	v := newStackView(rs)
	var edges []string
	for _, c := range v.containers {
		ps, ok := ports(c.Properties)
		if !ok {
			return nil
		}
		for _, pt := range ps {
			if isWebPort(pt) {
				edges = append(edges, displayName(c.Properties, c.URN))
				break
			}
		}
	}
	var out []Finding
	if len(edges) != 1 {
		out = append(out, Finding{Message: fmt.Sprintf("%d containers publish 80/443 %v: exactly one gateway must", len(edges), edges)})
	}
	if len(env.Facts.Hosts) > 0 {
		var edgeHosts []string
		for _, h := range env.Facts.Hosts {
			if isOneOf("edge", h.Roles) {
				edgeHosts = append(edgeHosts, h.Name)
			}
		}
		if len(edgeHosts) > 1 {
			out = append(out, Finding{Message: fmt.Sprintf("%d hosts hold the edge role %v: exactly one may", len(edgeHosts), edgeHosts)})
		}
	}
	return out
}
