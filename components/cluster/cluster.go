// Package cluster joins the hosts into one Docker Swarm, the control plane of
// the encrypted overlay network that lets services on different hosts reach
// each other by name. No service runs as a Swarm service: containers stay
// plain containers on their host's Docker provider.
package cluster

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// SwarmArgs lists the hosts; the first manager initialises the swarm.
type SwarmArgs struct {
	Hosts    []*host.Host
	Managers []string // host names holding the manager role, in order
}

// Swarm is the joined cluster.
type Swarm struct {
	pulumi.ResourceState

	joined map[string]pulumi.Resource
}

// NewSwarm initialises the swarm on the first manager and joins every other host.
// TODO(issue 4): rendered scripts with idempotent checks and the join tokens.
func NewSwarm(ctx *pulumi.Context, name string, args SwarmArgs, opts ...pulumi.ResourceOption) (*Swarm, error) {
	s := &Swarm{joined: map[string]pulumi.Resource{}}
	if err := ctx.RegisterComponentResource("aurigraph:cluster:Swarm", name, s, opts...); err != nil {
		return nil, err
	}
	if len(args.Managers) == 0 {
		return nil, fmt.Errorf("swarm %s: no manager", name)
	}
	for _, h := range args.Hosts {
		cmd, err := remote.NewCommand(ctx, name+"-join-"+h.Name, &remote.CommandArgs{
			Connection: h.Connection,
			Create:     pulumi.String("true"),
		}, pulumi.Parent(s), pulumi.DependsOn([]pulumi.Resource{h.Prepared}))
		if err != nil {
			return nil, err
		}
		s.joined[h.Name] = cmd
	}
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{"managers": pulumi.ToStringArray(args.Managers)})
}

// Joined is the step after which host name is a member of the swarm.
func (s *Swarm) Joined(name string) pulumi.Resource { return s.joined[name] }
