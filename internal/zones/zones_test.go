package zones

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZoneSubnetsLieInsideTheBaseAndDoNotOverlap(t *testing.T) {
	for _, base := range []string{"172.28.0.0/16", "10.0.0.0/8", "192.168.4.0/24"} {
		b := netip.MustParsePrefix(base)
		var seen []netip.Prefix
		for _, i := range All {
			s, err := Subnet(b, i.Zone)
			require.NoError(t, err)
			assert.Equal(t, b.Bits()+SlotBits, s.Bits(), "%s %s", base, i.Zone)
			assert.True(t, b.Contains(s.Addr()), "%s: %s outside", base, s)
			for _, o := range seen {
				assert.False(t, o.Overlaps(s), "%s: %s overlaps %s", base, s, o)
			}
			seen = append(seen, s)
		}
	}
	app, err := Subnet(netip.MustParsePrefix("172.28.0.0/16"), App)
	require.NoError(t, err)
	assert.Equal(t, "172.28.0.0/19", app.String())
	metrics, err := Subnet(netip.MustParsePrefix("172.28.0.0/16"), Metrics)
	require.NoError(t, err)
	assert.Equal(t, "172.28.192.0/19", metrics.String())
	_, err = Subnet(netip.MustParsePrefix("172.28.0.0/28"), App)
	assert.Error(t, err, "a /28 has no room for 8 zone subnets")
	_, err = Subnet(netip.MustParsePrefix("172.28.0.0/16"), "dmz")
	assert.Error(t, err)
}

func TestSlotsAreUnique(t *testing.T) {
	slots := map[int]Zone{}
	for _, i := range All {
		other, dup := slots[i.Slot]
		assert.False(t, dup, "%s and %s share slot %d", i.Zone, other, i.Slot)
		slots[i.Slot] = i.Zone
		assert.Less(t, i.Slot, 1<<SlotBits)
		assert.NotEmpty(t, i.Purpose)
	}
}

func TestEveryRoleJoinsKnownZonesAndEveryZoneHasTwoMembers(t *testing.T) {
	for _, r := range Roles() {
		zs, ok := Of(r)
		require.True(t, ok)
		require.NotEmpty(t, zs, r)
		for _, z := range zs {
			assert.True(t, Known(z), "%s joins unknown zone %s", r, z)
		}
	}
	for _, i := range All {
		assert.GreaterOrEqual(t, len(Members(i.Zone)), 2, "zone %s connects nobody", i.Zone)
	}
	_, ok := Of("mystery")
	assert.False(t, ok)
}

func TestDataStoresStayOffTheEdge(t *testing.T) {
	assert.ElementsMatch(t, []string{"aurigraph-v11", "nginx"}, Members(Edge))
	for _, s := range DataStores {
		_, ok := Of(s)
		assert.True(t, ok, s)
		assert.False(t, Allows(s, Edge), s)
	}
}

func TestSharedZones(t *testing.T) {
	assert.Equal(t, []Zone{Edge}, Shared("nginx", "aurigraph-v11"))
	assert.Empty(t, Shared("nginx", "postgres"), "the gateway cannot reach the database")
	assert.Empty(t, Shared("aurigraph-v11", "postgres"), "the application goes through the pooler")
	assert.Empty(t, Shared("aurigraph-v11", "elasticsearch"))
	assert.Equal(t, []Zone{DataAdmin}, Shared("vault", "postgres"))
}

func TestNetworkNames(t *testing.T) {
	assert.Equal(t, "aurigraph-network", NetworkName("aurigraph-network", App))
	assert.Equal(t, "aurigraph-network-edge", NetworkName("aurigraph-network", Edge))
	assert.Equal(t, 8189, Capacity(19))
}

// components/network creates the zones in this order and every zone after
// the app zone, which replaces the network the platform had before zones.
func TestAppZoneComesFirst(t *testing.T) {
	assert.Equal(t, App, All[0].Zone)
}
