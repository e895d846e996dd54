package tests

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/vault"
	"github.com/aurigraph/infra/internal/diagram"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/internal/zones"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/tests/harness"
)

// zoneRun is one stack's recording with what the zone tests read from it.
type zoneRun struct {
	res *mockrun.Result
	cfg struct{ name, subnet string }
	p   *plan.Plan
}

func runZones(t *testing.T, stack string) zoneRun {
	s := harness.Stack(t, stack)
	res := harness.Run(t, s)
	c := harness.Config(t, s)
	z := zoneRun{res: res, p: plan.FromResult(s, res)}
	z.cfg.name, z.cfg.subnet = c.Network.Name, c.Network.Subnet
	return z
}

// Each zone is one encrypted, attachable overlay network with its own
// subnet inside network.subnet. The app zone is the pre-zone network
// (same resource name, hence URN, and Docker name); it is replaced
// delete-before-create and every other zone is created after it, so an
// existing stack never holds the old /16 and a zone subnet inside it at
// once (Docker refuses overlapping pools).
func TestZoneNetworks(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			z := runZones(t, stack)
			nets := z.res.OfType(harness.NetworkType)
			require.Len(t, nets, len(zones.All))
			byZone := harness.NetworkZones(z.res)
			base := netip.MustParsePrefix(z.cfg.subnet)
			var appNet mockrun.Resource
			for _, n := range nets {
				if harness.Str(n.Inputs, "name") == z.cfg.name {
					appNet = n
				}
			}
			require.NotEmpty(t, appNet.URN, "no network keeps the name %s", z.cfg.name)
			assert.Equal(t, z.cfg.name, appNet.Name, "the app zone keeps the old resource name, so its URN")
			assert.Equal(t, zones.App, byZone[z.cfg.name])
			var subnets []netip.Prefix
			for _, info := range zones.All {
				name := zones.NetworkName(z.cfg.name, info.Zone)
				n := z.res.Named(harness.NetworkType, name)
				require.NotNil(t, n, "zone %s has no network %s", info.Zone, name)
				assert.Equal(t, info.Zone, byZone[name])
				assert.Equal(t, "overlay", harness.Str(n.Inputs, "driver"))
				assert.True(t, n.Inputs["attachable"].BoolValue())
				assert.Equal(t, "true", harness.Field(n.Inputs["options"], "encrypted").StringValue(), "zone %s is not encrypted", info.Zone)
				ipam := harness.Elements(n.Inputs["ipamConfigs"])
				require.Len(t, ipam, 1)
				sub := netip.MustParsePrefix(harness.Plain(harness.Field(ipam[0], "subnet")).StringValue())
				assert.True(t, base.Contains(sub.Addr()) && sub.Bits() > base.Bits(), "%s lies outside %s", sub, base)
				for _, o := range subnets {
					assert.False(t, o.Overlaps(sub), "%s overlaps %s", sub, o)
				}
				subnets = append(subnets, sub)
				assert.True(t, n.DeleteBeforeReplace, "zone %s must go before its replacement: Docker refuses overlapping subnets", info.Zone)
				if info.Zone != zones.App {
					assert.Contains(t, n.DependsOn, appNet.URN, "zone %s is created before the old network is replaced", info.Zone)
				}
			}
		})
	}
}

// The zone matrix is derived from the recording: each container's role
// label and the zones of the networks it joins. It must equal the table
// for every container of both stacks, every role of the table must be
// deployed, and rendered it must be docs/network-zones.md byte for byte.
func TestZoneMatrixOfTheRunIsTheTableAndTheDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), zones.DocFile))
	require.NoError(t, err)
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			z := runZones(t, stack)
			derived := zones.Membership{}
			for _, c := range z.res.OfType(harness.ContainerType) {
				name := harness.Str(c.Inputs, "name")
				role := harness.Label(c, zones.RoleLabel)
				require.NotEmpty(t, role, "%s carries no network role", name)
				joined := harness.ContainerZones(z.res, c)
				assert.NotContains(t, joined, zones.Zone(""), "%s joins a network that is no zone", name)
				want, ok := zones.Of(role)
				require.True(t, ok, "%s has role %q, which the table does not list", name, role)
				assert.Equal(t, want, joined, "%s (%s)", name, role)
				if prev, seen := derived[role]; seen {
					assert.Equal(t, prev, joined, "%s joins other zones than its role's other containers", name)
				}
				derived[role] = joined
			}
			assert.Equal(t, zones.Table(), derived, "every role of the table is deployed, on its zones")
			md, err := derived.Markdown(z.cfg.name, netip.MustParsePrefix(z.cfg.subnet))
			require.NoError(t, err)
			assert.Equal(t, string(doc), string(md), "%s differs from the matrix of the %s run: run go run ./cmd/configdocs", zones.DocFile, stack)
		})
	}
}

// Every address a container is given by name (its environment and the
// config files installed for it: nginx upstreams, Prometheus targets, the
// JDBC URL, the Redis address, Logstash's, Kibana's and Grafana's
// Elasticsearch URL, Grafana's Prometheus, Jaeger and Redis datasources,
// the tracing endpoints, the exporters' data sources; and Vault's
// post-init script, which runs inside Vault and gives its database engine
// PostgreSQL's address) must resolve: both containers share a zone.
func TestEveryNamedPeerSharesAZone(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			z := runZones(t, stack)
			refs := diagram.References(z.p)
			refs = append(refs, postInitReferences(t, z.res)...)
			joined := map[string][]zones.Zone{}
			roleOf := map[string]string{}
			for _, c := range z.res.OfType(harness.ContainerType) {
				name := harness.Str(c.Inputs, "name")
				joined[name] = harness.ContainerZones(z.res, c)
				roleOf[name] = harness.Label(c, zones.RoleLabel)
			}
			pairs := map[[2]string]bool{}
			for _, r := range refs {
				shared := false
				for _, zone := range joined[r.From] {
					shared = shared || slices.Contains(joined[r.To], zone)
				}
				assert.True(t, shared, "%s names %s:%s but they share no zone (%v, %v)", r.From, r.To, r.Port, joined[r.From], joined[r.To])
				pairs[[2]string{roleOf[r.From], roleOf[r.To]}] = true
			}
			// Not vacuous: each named connection was found and checked.
			for _, want := range [][2]string{
				{"nginx", "aurigraph-v11"}, {"nginx", "grafana"}, {"nginx", "kibana"}, {"nginx", "jaeger"}, {"nginx", "prometheus"}, {"nginx", "alertmanager"},
				{"aurigraph-v11", "pgbouncer"}, {"aurigraph-v11", "redis"}, {"aurigraph-v11", "jaeger"},
				{"pgbouncer", "postgres"}, {"vault", "postgres"},
				{"postgres-exporter", "postgres"}, {"pgbouncer-exporter", "pgbouncer"}, {"redis-exporter", "redis"},
				{"prometheus", "aurigraph-v11"}, {"prometheus", "postgres-exporter"}, {"prometheus", "pgbouncer-exporter"}, {"prometheus", "redis-exporter"},
				{"prometheus", "vault"}, {"prometheus", "jaeger"}, {"prometheus", "grafana"}, {"prometheus", "alertmanager"},
				{"logstash", "elasticsearch"}, {"kibana", "elasticsearch"},
				{"grafana", "elasticsearch"}, {"grafana", "prometheus"}, {"grafana", "jaeger"}, {"grafana", "redis"},
			} {
				assert.True(t, pairs[want], "no reference from %s to %s was found", want[0], want[1])
			}
		})
	}
}

// postInitReferences are the containers Vault's post-init script names: it
// is installed beside Vault but not mounted (docker exec runs it inside).
func postInitReferences(t *testing.T, res *mockrun.Result) []diagram.Reference {
	containers := harness.Containers(res)
	var out []diagram.Reference
	for path, text := range harness.InstalledFiles(res) {
		if !strings.HasSuffix(path, "/"+vault.ContainerName+"/bin/post-init.sh") {
			continue
		}
		for _, hp := range diagram.HostPorts(text) {
			if _, ok := containers[hp[0]]; ok && hp[0] != vault.ContainerName {
				out = append(out, diagram.Reference{From: vault.ContainerName, To: hp[0], Port: hp[1]})
			}
		}
	}
	require.NotEmpty(t, out, "Vault's post-init script names no container")
	return out
}

// The pack's zone rule passes the committed stacks (the mandatory-rules
// test) and refuses the program's own PostgreSQL container once it also
// joins the edge zone, or the gateway once it joins data-admin.
func TestPolicyRefusesRecordedContainersOffTheirZones(t *testing.T) {
	s := harness.Stack(t, "prod")
	res := harness.Run(t, s)
	rep, err := check.Evaluate(s, res)
	require.NoError(t, err)
	require.Empty(t, rep.Of("container-network-zones"))

	for _, tc := range []struct {
		container string
		zone      zones.Zone
		want      string
	}{
		{"postgres", zones.Edge, "postgres is a data store on the edge zone (network aurigraph-network-edge)"},
		{"nginx", zones.DataAdmin, "nginx (role nginx) joins the data-admin zone (network aurigraph-network-data-admin), which its role does not list"},
	} {
		mutated := &mockrun.Result{}
		for _, r := range res.Resources {
			if r.Type == harness.ContainerType && harness.Str(r.Inputs, "name") == tc.container {
				r.Inputs = r.Inputs.Copy()
				nets := append(slices.Clone(r.Inputs["networksAdvanced"].ArrayValue()), resource.NewObjectProperty(resource.PropertyMap{
					"name": resource.NewStringProperty(zones.NetworkName("aurigraph-network", tc.zone)),
				}))
				r.Inputs["networksAdvanced"] = resource.NewArrayProperty(nets)
			}
			mutated.Resources = append(mutated.Resources, r)
		}
		rep, err := check.Evaluate(s, mutated)
		require.NoError(t, err)
		got := rep.Of("container-network-zones")
		require.Len(t, got, 1, "%v", got)
		assert.Equal(t, config.Mandatory, got[0].Level)
		assert.Contains(t, got[0].Message, tc.want)
	}
}
