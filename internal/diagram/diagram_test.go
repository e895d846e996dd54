package diagram

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/stacks"
)

func urn(typ, name string) string { return "urn:pulumi:t::p::" + typ + "::" + name }

func provider(host string) plan.Resource {
	return plan.Resource{URN: urn("pulumi:providers:docker", host+"-docker"), Type: "pulumi:providers:docker", Name: host + "-docker"}
}

type spec struct {
	name, host, parent, service, slot, tier, image string
	envs                                           []any
	ports                                          []any
	deps                                           []string
}

func ctrRes(s spec) plan.Resource {
	labels := []any{map[string]any{"label": container.ServiceLabel, "value": s.service}}
	if s.slot != "" {
		labels = append(labels, map[string]any{"label": app.SlotLabel, "value": s.slot}, map[string]any{"label": app.TierLabel, "value": s.tier})
	}
	in := map[string]any{
		"name":             s.name,
		"image":            s.image,
		"labels":           labels,
		"envs":             s.envs,
		"networksAdvanced": []any{map[string]any{"name": "net", "aliases": []any{s.name, s.service}}},
	}
	if s.ports != nil {
		in["ports"] = s.ports
	}
	r := plan.Resource{URN: urn(plan.ContainerType, s.name), Type: plan.ContainerType, Name: s.name,
		Parent: urn("aurigraph:x:X", s.parent), DependsOn: s.deps, Inputs: in}
	if s.host != "" {
		r.Provider = urn("pulumi:providers:docker", s.host+"-docker")
	}
	return r
}

func file(name, parent, text string, deps ...string) plan.Resource {
	return plan.Resource{URN: urn(copyType, name), Type: copyType, Name: name, Parent: urn("aurigraph:x:X", parent), DependsOn: deps,
		Inputs: map[string]any{"source": map[string]any{"asset": map[string]any{"hash": "h", "text": text}}}}
}

func step(name, parent string, deps ...string) plan.Resource {
	return plan.Resource{URN: urn(commandType, name), Type: commandType, Name: name, Parent: urn("aurigraph:x:X", parent), DependsOn: deps,
		Inputs: map[string]any{"create": "install; echo db:5432"}}
}

// small is three hosts: a gateway whose config names both app replicas, two
// replicas of one app on one host that reach the database through their
// environment, a database, a worker that only waits for the database, and a
// container whose host cannot be told.
func small() *plan.Plan {
	res := []plan.Resource{
		provider("h-web"), provider("h-app"), provider("h-db"),
		{URN: urn(networkType, "net"), Type: networkType, Name: "net", Inputs: map[string]any{
			"name": "net", "driver": "overlay", "attachable": true,
			"ipamConfigs": []any{map[string]any{"subnet": "10.9.0.0/16"}}, "options": map[string]any{"encrypted": "true"}}},
		file("web-conf", "web", "upstream app { server app-blue-api-1:8080; server app-blue-api-2:8080; }"),
		step("web-conf-install", "web", urn(copyType, "web-conf"), urn(commandType, "db-setup")),
		// Another component's file: the gateway waits for it, but it is not the gateway's config.
		file("db-init", "db", "psql -h db:5432"),
		step("db-setup", "db", urn(copyType, "db-init")),
		ctrRes(spec{name: "web", host: "h-web", parent: "web", service: "web", image: "nginx:1",
			ports: []any{map[string]any{"internal": float64(443), "external": float64(443), "ip": "0.0.0.0", "protocol": "tcp"}},
			deps:  []string{urn(commandType, "web-conf-install"), urn(plan.ContainerType, "app-blue-api-1")}}),
		ctrRes(spec{name: "app-blue-api-1", host: "h-app", parent: "app", service: "app", slot: "blue", tier: "api", image: "app:2",
			envs: []any{"DB=jdbc:postgresql://db:5432/x", "KIND=postgresql", "SELF=app-blue-api-1:8080", plan.Secret}}),
		ctrRes(spec{name: "app-blue-api-2", host: "h-app", parent: "app", service: "app", slot: "blue", tier: "api", image: "app:2",
			envs: []any{"DB=jdbc:postgresql://db:5432/x", "PEER=app-blue-api-1:8080"}}),
		ctrRes(spec{name: "db", host: "h-db", parent: "db", service: "db", image: "postgres:15", envs: []any{"POSTGRES_DB=db"}}),
		ctrRes(spec{name: "worker", host: "h-db", parent: "worker", service: "worker", image: "w:1",
			envs: []any{"OTHER=my_db:5432"}, deps: []string{urn(plan.ContainerType, "db")}}),
		ctrRes(spec{name: "stray", parent: "stray", service: "stray", image: "s:1"}),
	}
	return &plan.Plan{Stack: "t", Resources: res, Hosts: []stacks.Host{
		{Name: "h-web", Address: "192.0.2.1", Roles: []string{"edge"}},
		{Name: "h-app", Address: "192.0.2.2", Roles: []string{"app"}},
		{Name: "h-db", Address: "192.0.2.3", Roles: []string{"data"}},
	}}
}

func nodeIDs(h Host) []string {
	var out []string
	for _, n := range h.Nodes {
		out = append(out, n.ID)
	}
	return out
}

func TestBuildPlacesContainersOnTheirHostsInInventoryOrder(t *testing.T) {
	g := Build(small())
	require.Len(t, g.Hosts, 4, "three inventory hosts and one for the container with no host")
	assert.Equal(t, []string{"h-web", "h-app", "h-db", ""}, []string{g.Hosts[0].Name, g.Hosts[1].Name, g.Hosts[2].Name, g.Hosts[3].Name})
	assert.Equal(t, []string{"web"}, nodeIDs(g.Hosts[0]))
	assert.Equal(t, []string{"h-app/app/blue"}, nodeIDs(g.Hosts[1]), "the two replicas are one box")
	assert.Equal(t, []string{"db", "worker"}, nodeIDs(g.Hosts[2]))
	assert.Equal(t, []string{"stray"}, nodeIDs(g.Hosts[3]))

	grp := g.Hosts[1].Nodes[0]
	assert.Equal(t, "app blue ×2", grp.Title)
	assert.Equal(t, []string{"app-blue-api-1", "app-blue-api-2"}, grp.Members)
	assert.Equal(t, []string{"api 1, 2"}, grp.Replicas)
	assert.Equal(t, []string{"0.0.0.0:443→443/tcp"}, g.Hosts[0].Nodes[0].Ports)
	assert.Equal(t, []Network{{Name: "net", Driver: "overlay", Subnet: "10.9.0.0/16", Attachable: true, Encrypted: true}}, g.Networks)
}

func TestEdgesAreAddressesNamedInEnvAndOwnConfigFiles(t *testing.T) {
	g := Build(small())
	// web → app: its own config file; app → db: its environment.
	// Not drawn: web → db (only another component's file and script name it),
	// worker → db (dependsOn, and "my_db" is another name), "postgresql" as
	// "postgres", a replica
	// naming itself or a replica of its own box.
	assert.Equal(t, []Edge{
		{From: "h-app/app/blue", To: "db", Ports: []string{"5432"}},
		{From: "web", To: "h-app/app/blue", Ports: []string{"8080"}},
	}, g.Edges)
}

func TestDOTIsDeterministicAndDrawsHostsNodesAndEdges(t *testing.T) {
	p := small()
	want := DOT(Build(p))
	for i := 0; i < 5; i++ {
		q := *p
		q.Resources = append([]plan.Resource{}, p.Resources...)
		rand.New(rand.NewSource(int64(i))).Shuffle(len(q.Resources), func(a, b int) {
			q.Resources[a], q.Resources[b] = q.Resources[b], q.Resources[a]
		})
		require.Equal(t, want, DOT(Build(&q)), "resource order must not change the drawing")
	}
	for _, line := range []string{
		`digraph "aurigraph-t" {`,
		`label="h-web (192.0.2.1)\nroles: edge";`,
		`label="containers on no known host";`,
		`"h-app/app/blue" [label="app blue ×2\napp:2\napi 1, 2", fillcolor="#dbe9f6"];`,
		`"web" [label="web\nnginx:1\npublishes 0.0.0.0:443→443/tcp", fillcolor="#dbe9f6"];`,
		`"web" -> "h-app/app/blue" [label=":8080"`,
		`"h-app/app/blue" -> "db" [label=":5432"`,
		`"network:net" [label="network net\noverlay 10.9.0.0/16\nencrypted, attachable", fillcolor="#dbe9f6"];`,
	} {
		assert.Contains(t, want, line)
	}
	assert.Less(t, strings.Index(want, "h-web (192.0.2.1)"), strings.Index(want, "h-app (192.0.2.2)"), "clusters follow the inventory")
	assert.Equal(t, 2, strings.Count(want, " -> "))
}

func TestQuoteEscapesQuotesAndKeepsLabelEscapes(t *testing.T) {
	assert.Equal(t, `"a \"b\"\nc"`, quote(`a "b"\nc`))
}

func TestSourceCommentRoundTrips(t *testing.T) {
	svg := []byte("<?xml version=\"1.0\"?>\n<svg></svg>\n")
	out := WithSource(svg, "architecture-x.dot", "digraph {}\n")
	name, hash, ok := SourceOf(out)
	require.True(t, ok)
	assert.Equal(t, "architecture-x.dot", name)
	assert.Equal(t, Hash("digraph {}\n"), hash)
	assert.True(t, strings.HasPrefix(string(out), "<?xml version=\"1.0\"?>\n<!-- source: "), "the comment follows the XML declaration")
	_, _, ok = SourceOf(svg)
	assert.False(t, ok)
}
