package harness

import (
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/zones"
)

// NetworkType is the docker provider's network token.
const NetworkType = "docker:index/network:Network"

// NetworkZones maps each recorded network's name to the zone its label
// names ("" for a network that is not a zone).
func NetworkZones(res *mockrun.Result) map[string]zones.Zone {
	out := map[string]zones.Zone{}
	for _, n := range res.OfType(NetworkType) {
		z := ""
		for _, l := range Elements(n.Inputs["labels"]) {
			if text(Field(l, "label")) == zones.ZoneLabel {
				z = text(Field(l, "value"))
			}
		}
		out[Str(n.Inputs, "name")] = zones.Zone(z)
	}
	return out
}

// ContainerZones are the zones of the networks a container joins, in its
// order; "" stands for a network that is no recorded zone.
func ContainerZones(res *mockrun.Result, c mockrun.Resource) []zones.Zone {
	byName := NetworkZones(res)
	var out []zones.Zone
	for _, n := range ContainerNetworks(c) {
		out = append(out, byName[n])
	}
	return out
}
