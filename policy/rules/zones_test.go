package rules

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/zones"
)

// zoneNet is a zone's network as the program creates it.
func zoneNet(z zones.Zone) M {
	return M{"name": s(zones.NetworkName("aurigraph-network", z)), "driver": s("overlay"),
		"labels": arr_(obj_(M{"label": s(zones.ZoneLabel), "value": s(string(z))}))}
}

// zoned is a container of kind with role, joining the networks nets.
func zoned(kind, role string, nets ...string) M {
	m := goodContainer(kind)
	m["labels"] = arr_(obj_(M{"label": s(ServiceLabel), "value": s(kind)}), obj_(M{"label": s(zones.RoleLabel), "value": s(role)}))
	var joined []property.Value
	for _, n := range nets {
		joined = append(joined, obj_(M{"name": s(n)}))
	}
	m["networksAdvanced"] = arr_(joined...)
	return m
}

func netName(z zones.Zone) string { return zones.NetworkName("aurigraph-network", z) }

func zonedStack(containers map[string]M) []policyx.AnalyzerResource {
	var rs []policyx.AnalyzerResource
	for _, i := range zones.All {
		rs = append(rs, resourceOf(NetworkType, netName(i.Zone), zoneNet(i.Zone)))
	}
	for name, m := range containers {
		rs = append(rs, container(name, m))
	}
	return rs
}

func TestNetworkZones(t *testing.T) {
	pass := map[string]M{
		"postgres":      zoned(Postgres, "postgres", netName(zones.DataAdmin)),
		"nginx":         zoned(Gateway, "nginx", netName(zones.Edge), netName(zones.UI)),
		"replica":       zoned(App, "aurigraph-v11", netName(zones.App), netName(zones.Edge), netName(zones.Metrics)),
		"elasticsearch": zoned(Elasticsearch, "elasticsearch", netName(zones.Logging)),
	}
	assert.Empty(t, runStack(t, "container-network-zones", zonedStack(pass), Env{}))

	for what, tc := range map[string]struct {
		c    M
		want string
	}{
		"a zone its role does not list": {zoned(Grafana, "grafana", netName(zones.UI), netName(zones.DataAdmin)),
			"grafana (role grafana) joins the data-admin zone (network aurigraph-network-data-admin), which its role does not list: it may join ui, cache-admin, logging, metrics"},
		"a data store on the edge": {zoned(Postgres, "postgres", netName(zones.DataAdmin), netName(zones.Edge)),
			"postgres is a data store on the edge zone (network aurigraph-network-edge)"},
		"a data store claiming the gateway's role": {zoned(Redis, "nginx", netName(zones.Edge)),
			"redis is a data store on the edge zone"},
		"a network that is no zone": {zoned(Kibana, "kibana", "bridge"),
			"kibana joins network bridge, which is no trust zone"},
		"no role": {set(goodContainer(Jaeger), "networksAdvanced", arr_(obj_(M{"name": s(netName(zones.App))}))),
			"jaeger carries no com.aurigraph.network-role label"},
		"an unknown role": {zoned(Jaeger, "tracer", netName(zones.App)),
			`jaeger has role "tracer", which the zone table (internal/zones) does not list`},
	} {
		t.Run(what, func(t *testing.T) {
			cs := map[string]M{"postgres": pass["postgres"]}
			cs["bad"] = tc.c
			got := runStack(t, "container-network-zones", zonedStack(cs), Env{})
			require.Len(t, got, 1, "%v", got)
			assert.Contains(t, got[0].Message, tc.want)
			assert.Contains(t, got[0].URN, "::bad")
		})
	}

	// An unknown network name (a first preview) gives no verdict.
	unk := zoned(Postgres, "postgres")
	unk["networksAdvanced"] = arr_(obj_(M{"name": computed()}))
	assert.Empty(t, runStack(t, "container-network-zones", zonedStack(map[string]M{"p": unk}), Env{}))
}
