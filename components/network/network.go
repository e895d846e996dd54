// Package network creates the platform's trust zones (internal/zones): one
// encrypted, attachable overlay network on the swarm per zone, so plain
// containers on every host join the zones their role lists and find each
// other by name through Docker's embedded DNS, on those zones only.
package network

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/zones"
)

// OverlayArgs configures one zone's network; it is created through a manager.
type OverlayArgs struct {
	Manager *host.Engine
	Name    string
	Subnet  string
	Zone    zones.Zone
	// After are networks this one is created after (see NewZones).
	After []pulumi.Resource
}

// Overlay is the created network.
type Overlay struct {
	pulumi.ResourceState

	// Name is the network resource's name output: containers join the
	// network through it, so each waits for the network to exist.
	Name    pulumi.StringOutput
	Network *docker.Network
}

// NewOverlay creates the overlay network on the swarm through the manager,
// once the manager is prepared and the swarm initialised (Manager.Ready).
// A change of name or subnet replaces it delete-before-create: Docker
// refuses a second network with an overlapping subnet.
func NewOverlay(ctx *pulumi.Context, name string, args OverlayArgs, opts ...pulumi.ResourceOption) (*Overlay, error) {
	o := &Overlay{}
	if err := ctx.RegisterComponentResource("aurigraph:network:Overlay", name, o, opts...); err != nil {
		return nil, err
	}
	after := append(args.Manager.Ready(), args.After...)
	n, err := docker.NewNetwork(ctx, name, &docker.NetworkArgs{
		Name:       pulumi.String(args.Name),
		Driver:     pulumi.String("overlay"),
		Attachable: pulumi.Bool(true),
		// IPsec between hosts: traffic between containers never crosses in clear.
		Options:     pulumi.StringMap{"encrypted": pulumi.String("true")},
		IpamConfigs: docker.NetworkIpamConfigArray{&docker.NetworkIpamConfigArgs{Subnet: pulumi.String(args.Subnet)}},
		Labels:      docker.NetworkLabelArray{&docker.NetworkLabelArgs{Label: pulumi.String(zones.ZoneLabel), Value: pulumi.String(string(args.Zone))}},
	}, pulumi.Parent(o), pulumi.Provider(args.Manager.Provider), pulumi.DependsOn(after), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	o.Network = n
	o.Name = n.Name
	return o, ctx.RegisterResourceOutputs(o, pulumi.Map{
		"name": pulumi.String(args.Name), "subnet": pulumi.String(args.Subnet), "zone": pulumi.String(string(args.Zone)),
	})
}

// ZonesArgs configures the zones: the stack's network.name and
// network.subnet, which the zones' names and subnets derive from.
type ZonesArgs struct {
	Manager *host.Engine
	Name    string
	Subnet  string
}

// Zones are the zone networks, by zone: each its network's name output.
type Zones struct {
	names map[zones.Zone]pulumi.StringInput
}

// NewZones creates one overlay per zone. The app zone is the network the
// platform had before zones (same resource name, same Docker name), so an
// existing stack replaces it in place: it is replaced delete-before-create,
// which takes its containers down first (their network input depends on
// it), and every other zone waits for it. Their subnets lie inside the old
// network's, which Docker refuses to overlap: the old one must be gone first.
func NewZones(ctx *pulumi.Context, args ZonesArgs) (*Zones, error) {
	base, err := netip.ParsePrefix(args.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network subnet: %w", err)
	}
	z := &Zones{names: map[zones.Zone]pulumi.StringInput{}}
	var first *Overlay // the app zone: zones.All lists it first
	for _, info := range zones.All {
		subnet, err := zones.Subnet(base, info.Zone)
		if err != nil {
			return nil, err
		}
		name := zones.NetworkName(args.Name, info.Zone)
		var after []pulumi.Resource
		if first != nil {
			after = []pulumi.Resource{first.Network}
		}
		o, err := NewOverlay(ctx, name, OverlayArgs{Manager: args.Manager, Name: name, Subnet: subnet.String(), Zone: info.Zone, After: after})
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", info.Zone, err)
		}
		if first == nil {
			first = o
		}
		z.names[info.Zone] = o.Name
	}
	return z, nil
}

// NamedZones are zones known by name only, for what renders containers
// without creating networks (tests of a single component): every zone is
// named as NewZones names it for base.
func NamedZones(base string) *Zones {
	z := &Zones{names: map[zones.Zone]pulumi.StringInput{}}
	for _, info := range zones.All {
		z.names[info.Zone] = pulumi.String(zones.NetworkName(base, info.Zone))
	}
	return z
}

// For is the networks a container of role joins: its zones' networks. An
// unknown role joins none, which container.Spec's validation refuses.
func (z *Zones) For(role string) container.Networks {
	out := container.Networks{Role: role}
	if z == nil {
		return out
	}
	list, _ := zones.Of(role)
	for _, zone := range list {
		out.Names = append(out.Names, z.names[zone])
	}
	return out
}
