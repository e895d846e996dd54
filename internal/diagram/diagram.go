// Package diagram draws the running system of a stack from its offline plan:
// hosts, the containers on each, the networks they join, and which service
// talks to which. It is a pure function of the plan (internal/plan), so the
// picture is redrawn from the same data the program deploys and cannot drift
// from the code.
//
// Who talks to whom is read from what each container is given, not from the
// deployment order: a container depends on another when its environment, or a
// config file installed for it, names the other's network alias with a port
// ("postgres:5432", "http://jaeger:4317"). The plan's dependsOn edges record
// creation order instead (rolling order between tiers, the gateway after every
// replica, config steps, images), which says nothing about traffic.
package diagram

import (
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/plan"
)

// Type tokens read besides plan.ContainerType.
const (
	networkType = "docker:index/network:Network"
	copyType    = "command:remote:CopyToRemote"
	commandType = "command:remote:Command"
)

// Graph is the picture as data: what DOT draws.
type Graph struct {
	Stack    string
	Hosts    []Host // inventory order; a last one named "" holds unattributed containers
	Networks []Network
	Edges    []Edge // sorted by From, To
}

// Host is one machine and the nodes drawn on it.
type Host struct {
	Name, Address string
	Roles         []string
	Nodes         []Node // sorted by ID
}

// Node is one container, or the replicas of one image, service and slot on
// one host drawn together.
type Node struct {
	ID       string
	Service  string   // the service label ("" when none)
	Title    string   // container name, or "<service> <slot> ×N"
	Image    string   // short reference
	Members  []string // container names, natural order
	Replicas []string // for a group: "<tier> <indexes>" lines
	Networks []string // sorted
	Ports    []string // published: "ip:external→internal/proto"
}

// Edge is "From's inputs name To's address", with the ports named.
type Edge struct {
	From, To string // node IDs
	Ports    []string
}

// Network is one Docker network the plan creates.
type Network struct {
	Name, Driver, Subnet string
	Attachable, Internal bool
	Encrypted            bool
}

// hostPort is a host name followed by a port, as in URLs, JDBC strings,
// nginx upstreams and Prometheus targets. The character before the name must
// not be part of a name, so "postgresql" never reads as "postgres".
var hostPort = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.-])([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{2,5})\b`)

// HostPorts are the (name, port) pairs a text names, as References reads
// them: for texts a container is given that the plan does not tie to it.
func HostPorts(text string) [][2]string {
	var out [][2]string
	for _, m := range hostPort.FindAllStringSubmatch(text, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

type ctr struct {
	name, host, service, slot, tier, image string
	aliases, networks, ports, texts        []string
}

// Build derives the picture from a plan.
func Build(p *plan.Plan) Graph {
	byURN := map[string]*plan.Resource{}
	for i := range p.Resources {
		byURN[p.Resources[i].URN] = &p.Resources[i]
	}
	hostOf := p.ContainerHosts()
	var cs []*ctr
	for i := range p.Resources {
		r := &p.Resources[i]
		if r.Type == plan.ContainerType {
			cs = append(cs, readContainer(r, hostOf[r.URN], byURN))
		}
	}
	sort.Slice(cs, func(i, j int) bool { return plan.NaturalLess(cs[i].name, cs[j].name) })

	g := Graph{Stack: p.Stack, Networks: networks(p)}
	known := map[string]bool{}
	for _, h := range p.Hosts {
		g.Hosts = append(g.Hosts, Host{Name: h.Name, Address: h.Address, Roles: append([]string{}, h.Roles...)})
		known[h.Name] = true
	}
	if len(p.Hosts) == 0 { // no readable inventory: the hosts containers name, sorted
		seen := map[string]bool{}
		for _, c := range cs {
			if c.host != "" && !seen[c.host] {
				seen[c.host] = true
				g.Hosts = append(g.Hosts, Host{Name: c.host})
				known[c.host] = true
			}
		}
		sort.Slice(g.Hosts, func(i, j int) bool { return g.Hosts[i].Name < g.Hosts[j].Name })
	}

	// Group: same host, service, slot and image, more than one container.
	nodeOf := map[string]string{} // container name → node ID
	type key struct{ host, service, slot, image string }
	groups := map[key][]*ctr{}
	for _, c := range cs {
		if !known[c.host] {
			c.host = ""
		}
		k := key{c.host, c.service, c.slot, c.image}
		groups[k] = append(groups[k], c)
	}
	nodesByHost := map[string][]Node{}
	for k, members := range groups {
		if len(members) == 1 || k.service == "" {
			for _, c := range members {
				nodesByHost[k.host] = append(nodesByHost[k.host], single(c))
				nodeOf[c.name] = c.name
			}
			continue
		}
		n := group(k.host, k.service, k.slot, members)
		for _, c := range members {
			nodeOf[c.name] = n.ID
		}
		nodesByHost[k.host] = append(nodesByHost[k.host], n)
	}
	if len(nodesByHost[""]) > 0 {
		g.Hosts = append(g.Hosts, Host{})
	}
	for i := range g.Hosts {
		ns := nodesByHost[g.Hosts[i].Name]
		sort.Slice(ns, func(a, b int) bool { return plan.NaturalLess(ns[a].ID, ns[b].ID) })
		g.Hosts[i].Nodes = ns
	}
	g.Edges = edges(cs, nodeOf)
	return g
}

func readContainer(r *plan.Resource, host string, byURN map[string]*plan.Resource) *ctr {
	in := r.Inputs
	c := &ctr{name: str(in["name"], r.Name), host: host, image: imageref.Short(str(in["image"], "?"))}
	for _, l := range arr(in["labels"]) {
		m, _ := l.(map[string]any)
		switch str(m["label"], "") {
		case container.ServiceLabel:
			c.service = str(m["value"], "")
		case app.SlotLabel:
			c.slot = str(m["value"], "")
		case app.TierLabel:
			c.tier = str(m["value"], "")
		}
	}
	c.aliases = []string{c.name}
	for _, n := range arr(in["networksAdvanced"]) {
		m, _ := n.(map[string]any)
		if name := str(m["name"], ""); name != "" {
			c.networks = append(c.networks, name)
		}
		for _, a := range arr(m["aliases"]) {
			c.aliases = append(c.aliases, str(a, ""))
		}
	}
	if mode := str(in["networkMode"], ""); mode != "" && len(c.networks) == 0 {
		c.networks = append(c.networks, mode)
	}
	sort.Strings(c.networks)
	c.ports = plan.PublishedPorts(in)
	for _, e := range arr(in["envs"]) {
		if s, ok := e.(string); ok && s != plan.Secret {
			c.texts = append(c.texts, s)
		}
	}
	c.texts = append(c.texts, configTexts(r, byURN)...)
	return c
}

// configTexts are the texts of the files installed for container r: the
// copies reachable from it through the steps of its own component (same
// parent), never through another container or another component's steps.
func configTexts(r *plan.Resource, byURN map[string]*plan.Resource) []string {
	var out []string
	seen := map[string]bool{}
	stack := append([]string{}, r.DependsOn...)
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d := byURN[u]
		if seen[u] || d == nil || d.Parent != r.Parent || (d.Type != copyType && d.Type != commandType) {
			continue
		}
		seen[u] = true
		if d.Type == copyType {
			if src, ok := d.Inputs["source"].(map[string]any); ok {
				if a, ok := src["asset"].(map[string]any); ok {
					if t := str(a["text"], ""); t != "" {
						out = append(out, t)
					}
				}
			}
		}
		stack = append(stack, d.DependsOn...)
	}
	return out
}

func single(c *ctr) Node {
	return Node{ID: c.name, Service: c.service, Title: c.name, Image: c.image, Members: []string{c.name}, Networks: c.networks, Ports: c.ports}
}

func group(host, service, slot string, members []*ctr) Node {
	n := Node{
		ID:       strings.Join(nonEmpty(host, service, slot), "/"),
		Service:  service,
		Title:    strings.Join(nonEmpty(service, slot), " ") + " ×" + strconv.Itoa(len(members)),
		Image:    members[0].image,
		Networks: members[0].networks,
	}
	byTier := map[string][]string{}
	for _, c := range members {
		n.Members = append(n.Members, c.name)
		n.Ports = append(n.Ports, c.ports...)
		idx := c.name
		if i := strings.LastIndexByte(c.name, '-'); i >= 0 && c.tier != "" {
			idx = c.name[i+1:]
		}
		byTier[c.tier] = append(byTier[c.tier], idx)
	}
	for _, t := range slices.Sorted(maps.Keys(byTier)) {
		n.Replicas = append(n.Replicas, strings.TrimSpace(t+" "+strings.Join(byTier[t], ", ")))
	}
	n.Ports = uniqSorted(n.Ports)
	return n
}

// Reference is "container From's inputs name container To's address with
// Port": one connection From makes.
type Reference struct {
	From, To, Port string
}

// References are every reference between the plan's containers, by
// container name, sorted.
func References(p *plan.Plan) []Reference {
	byURN := map[string]*plan.Resource{}
	for i := range p.Resources {
		byURN[p.Resources[i].URN] = &p.Resources[i]
	}
	var cs []*ctr
	for i := range p.Resources {
		if r := &p.Resources[i]; r.Type == plan.ContainerType {
			cs = append(cs, readContainer(r, "", byURN))
		}
	}
	return references(cs)
}

// references are the references between containers: a text of one names
// another's alias with a port.
func references(cs []*ctr) []Reference {
	owners := map[string][]string{} // alias → container names
	for _, c := range cs {
		for _, a := range uniqSorted(c.aliases) {
			owners[a] = append(owners[a], c.name)
		}
	}
	seen := map[Reference]bool{}
	var out []Reference
	for _, c := range cs {
		for _, t := range c.texts {
			for _, m := range hostPort.FindAllStringSubmatch(t, -1) {
				for _, target := range owners[m[1]] {
					r := Reference{From: c.name, To: target, Port: m[2]}
					if target != c.name && !seen[r] {
						seen[r] = true
						out = append(out, r)
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.From != b.From {
			return plan.NaturalLess(a.From, b.From)
		}
		if a.To != b.To {
			return plan.NaturalLess(a.To, b.To)
		}
		return plan.NaturalLess(a.Port, b.Port)
	})
	return out
}

// edges are the references between containers, folded onto their nodes.
func edges(cs []*ctr, nodeOf map[string]string) []Edge {
	ports := map[[2]string]map[string]bool{}
	for _, r := range references(cs) {
		from, to := nodeOf[r.From], nodeOf[r.To]
		if from == to {
			continue
		}
		k := [2]string{from, to}
		if ports[k] == nil {
			ports[k] = map[string]bool{}
		}
		ports[k][r.Port] = true
	}
	var out []Edge
	for k, ps := range ports {
		e := Edge{From: k[0], To: k[1]}
		for p := range ps {
			e.Ports = append(e.Ports, p)
		}
		sort.Slice(e.Ports, func(i, j int) bool { return plan.NaturalLess(e.Ports[i], e.Ports[j]) })
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return plan.NaturalLess(out[i].From, out[j].From)
		}
		return plan.NaturalLess(out[i].To, out[j].To)
	})
	return out
}

func networks(p *plan.Plan) []Network {
	var out []Network
	for _, r := range p.Resources {
		if r.Type != networkType {
			continue
		}
		n := Network{
			Name:       str(r.Inputs["name"], r.Name),
			Driver:     str(r.Inputs["driver"], "bridge"),
			Attachable: r.Inputs["attachable"] == true,
			Internal:   r.Inputs["internal"] == true,
		}
		for _, c := range arr(r.Inputs["ipamConfigs"]) {
			m, _ := c.(map[string]any)
			if s := str(m["subnet"], ""); s != "" {
				n.Subnet = s
			}
		}
		if o, ok := r.Inputs["options"].(map[string]any); ok {
			_, n.Encrypted = o["encrypted"]
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func str(v any, def string) string {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return def
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func uniqSorted(ss []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
