// Package network creates aurigraph-network: an encrypted, attachable overlay
// network on the swarm, so plain containers on every host join one network
// and find each other by name through Docker's embedded DNS.
package network

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// OverlayArgs configures the network; it is created through a manager.
type OverlayArgs struct {
	Manager *host.Engine
	Name    string
	Subnet  string
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
func NewOverlay(ctx *pulumi.Context, name string, args OverlayArgs, opts ...pulumi.ResourceOption) (*Overlay, error) {
	o := &Overlay{}
	if err := ctx.RegisterComponentResource("aurigraph:network:Overlay", name, o, opts...); err != nil {
		return nil, err
	}
	n, err := docker.NewNetwork(ctx, name, &docker.NetworkArgs{
		Name:       pulumi.String(args.Name),
		Driver:     pulumi.String("overlay"),
		Attachable: pulumi.Bool(true),
		// IPsec between hosts: traffic between containers never crosses in clear.
		Options:     pulumi.StringMap{"encrypted": pulumi.String("true")},
		IpamConfigs: docker.NetworkIpamConfigArray{&docker.NetworkIpamConfigArgs{Subnet: pulumi.String(args.Subnet)}},
	}, pulumi.Parent(o), pulumi.Provider(args.Manager.Provider), pulumi.DependsOn(args.Manager.Ready()))
	if err != nil {
		return nil, err
	}
	o.Network = n
	o.Name = n.Name
	return o, ctx.RegisterResourceOutputs(o, pulumi.Map{"name": pulumi.String(args.Name), "subnet": pulumi.String(args.Subnet)})
}
