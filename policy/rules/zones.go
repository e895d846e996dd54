package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/aurigraph/infra/internal/zones"
)

// NetworkType is the Docker network resource the zones are.
const NetworkType = "docker:index/network:Network"

func zoneRules() []Rule {
	return []Rule{{
		Name: "container-network-zones",
		Description: "Every container joins only trust-zone networks its role lists (internal/zones, docs/network-zones.md), " +
			"and no data store (" + strings.Join(zones.DataStores, ", ") + ") joins the edge zone.",
		Stack: checkNetworkZones,
	}}
}

// checkNetworkZones maps the networks each container joins to zones through
// the networks' zone labels, and checks them against the container's role
// label with the zone table. A stack rule: a container names its networks
// only by name, the zone is on the network resource.
func checkNetworkZones(rs []policyx.AnalyzerResource, _ Env) []Finding {
	zoneOf := map[string]zones.Zone{} // network name → zone ("" when unlabelled)
	for _, r := range rs {
		if r.Type != NetworkType {
			continue
		}
		name, st := str(r.Properties.Get("name"))
		if st != known {
			continue
		}
		zoneOf[name] = zones.Zone(labelValue(r.Properties, zones.ZoneLabel))
	}
	var out []Finding
	for _, c := range newStackView(rs).containers {
		who := displayName(c.Properties, c.URN)
		role := labelValue(c.Properties, zones.RoleLabel)
		allowed, ok := zones.Of(role)
		switch {
		case role == "":
			out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("%s carries no %s label: its networks cannot be checked against the zone table", who, zones.RoleLabel)})
		case !ok:
			out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("%s has role %q, which the zone table (internal/zones) does not list", who, role)})
		}
		store := isOneOf(role, zones.DataStores) || isOneOf(kindOf(c.Properties), zones.DataStores)
		nets, st := arr(c.Properties.Get("networksAdvanced"))
		if st != known {
			continue
		}
		for _, n := range nets {
			m, mst := obj(n)
			if mst != known {
				continue
			}
			name, nst := str(m.Get("name"))
			if nst != known {
				continue // unknown during a first preview
			}
			zone, isZone := zoneOf[name]
			switch {
			case !isZone || zone == "" || !zones.Known(zone):
				out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("%s joins network %s, which is no trust zone: join the zones of its role only", who, name)})
			case store && zone == zones.Edge:
				out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("%s is a data store on the %s zone (network %s): the gateway faces the internet and must not reach it", who, zone, name)})
			case ok && !slices.Contains(allowed, zone):
				out = append(out, Finding{URN: c.URN, Message: fmt.Sprintf("%s (role %s) joins the %s zone (network %s), which its role does not list: it may join %s", who, role, zone, name, zoneList(allowed))})
			}
		}
	}
	return out
}

// labelValue is the value of a label in a resource's labels list ("" when
// absent or unknown).
func labelValue(p property.Map, label string) string {
	labels, st := arr(p.Get("labels"))
	if st != known {
		return ""
	}
	for _, l := range labels {
		m, _ := obj(l)
		if k, _ := str(m.Get("label")); k == label {
			v, _ := str(m.Get("value"))
			return v
		}
	}
	return ""
}

func zoneList(zs []zones.Zone) string {
	names := make([]string, len(zs))
	for i, z := range zs {
		names[i] = string(z)
	}
	return strings.Join(names, ", ")
}
