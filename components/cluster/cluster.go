// Package cluster joins the hosts into one Docker Swarm, the control plane of
// the encrypted overlay network that lets services on different hosts reach
// each other by name. No service runs as a Swarm service: containers stay
// plain containers on their host's Docker provider.
package cluster

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
)

// SwarmArgs lists the hosts; the first manager initialises the swarm.
type SwarmArgs struct {
	Hosts    []*host.Host
	Managers []string // host names holding the manager role, in order
	// StepTimeout bounds each remote step, e.g. "20m".
	StepTimeout string
}

// Swarm is the joined cluster.
type Swarm struct {
	pulumi.ResourceState

	// WorkerToken and ManagerToken are secrets.
	WorkerToken  pulumi.StringOutput `pulumi:"workerToken"`
	ManagerToken pulumi.StringOutput `pulumi:"managerToken"`

	joined   map[string]pulumi.Resource
	joinDeps []pulumi.Resource // the token reads
}

// NewSwarm initialises the swarm on the first manager, joins the other
// managers one at a time, then the workers, then labels every node with its
// host name and roles. Every step waits for its host's preparation.
func NewSwarm(ctx *pulumi.Context, name string, args SwarmArgs, opts ...pulumi.ResourceOption) (*Swarm, error) {
	s := &Swarm{joined: map[string]pulumi.Resource{}}
	if err := ctx.RegisterComponentResource("aurigraph:cluster:Swarm", name, s, opts...); err != nil {
		return nil, err
	}
	if len(args.Managers) == 0 {
		return nil, fmt.Errorf("swarm %s: no manager", name)
	}
	byName := map[string]*host.Host{}
	for _, h := range args.Hosts {
		byName[h.Name] = h
	}
	first := byName[args.Managers[0]]
	if first == nil {
		return nil, fmt.Errorf("swarm %s: manager %s is not a host", name, args.Managers[0])
	}
	timeouts := pulumi.Timeouts(&pulumi.CustomTimeouts{Create: args.StepTimeout, Update: args.StepTimeout})
	run := host.StepCommand("apply", "")
	command := func(h *host.Host, rname string, a hostcmd.Args, deps []pulumi.Resource) (*remote.Command, error) {
		a.Connection, a.Run = h.Connection, pulumi.String(run)
		return hostcmd.New(ctx, rname, a, pulumi.Parent(s), pulumi.DependsOn(deps), timeouts)
	}

	initScript, err := RenderInit(SwarmValues{Host: first.Name, Address: first.ClusterAddress})
	if err != nil {
		return nil, err
	}
	init, err := command(first, name+"-init-"+first.Name, hostcmd.Args{Stdin: pulumi.String(initScript)}, []pulumi.Resource{first.Prepared})
	if err != nil {
		return nil, err
	}
	s.joined[first.Name] = init
	tokens := map[string]pulumi.StringOutput{}
	for _, role := range []string{"worker", "manager"} {
		script := fmt.Sprintf("#!/usr/bin/env bash\nset -euo pipefail\ndocker swarm join-token -q %s\n", role)
		t, err := command(first, name+"-token-"+role, hostcmd.Args{Stdin: pulumi.String(script), SecretOutput: true}, []pulumi.Resource{init})
		if err != nil {
			return nil, err
		}
		tokens[role] = pulumi.ToSecret(t.Stdout.ApplyT(strings.TrimSpace)).(pulumi.StringOutput)
		s.joinDeps = append(s.joinDeps, t)
	}
	s.WorkerToken, s.ManagerToken = tokens["worker"], tokens["manager"]

	managerAddr := first.ClusterAddress
	nodeIDs := pulumi.StringArray{init.Stdout.ApplyT(NodeID).(pulumi.StringOutput)}
	nodes := []*host.Host{first}
	prevManager := pulumi.Resource(init)
	isManager := map[string]bool{}
	for _, m := range args.Managers {
		isManager[m] = true
	}
	var allJoins []pulumi.Resource
	allJoins = append(allJoins, init)
	// Managers first, one at a time (Raft grows one member at a time), then workers.
	ordered := append([]*host.Host{}, args.Hosts...)
	for pass := 0; pass < 2; pass++ {
		for _, h := range ordered {
			if h == first || isManager[h.Name] != (pass == 0) {
				continue
			}
			role, deps := "worker", append([]pulumi.Resource{h.Prepared}, s.joinDeps...)
			if pass == 0 {
				role = "manager"
				deps = append(deps, prevManager)
			}
			hv := SwarmValues{Host: h.Name, Address: h.ClusterAddress, Manager: host.ListenAddress(managerAddr, host.SwarmManagementPort)}
			stdin := pulumi.ToSecret(tokens[role].ApplyT(func(tok string) (string, error) {
				v := hv
				v.Token = tok
				return RenderJoin(v)
			})).(pulumi.StringOutput)
			j, err := command(h, name+"-join-"+h.Name, hostcmd.Args{Stdin: stdin, SecretStdin: true}, deps)
			if err != nil {
				return nil, err
			}
			if pass == 0 {
				prevManager = j
			}
			s.joined[h.Name] = j
			allJoins = append(allJoins, j)
			nodeIDs = append(nodeIDs, j.Stdout.ApplyT(NodeID).(pulumi.StringOutput))
			nodes = append(nodes, h)
		}
	}

	labelsStdin := nodeIDs.ToStringArrayOutput().ApplyT(func(ids []string) (string, error) {
		v := SwarmValues{Host: first.Name}
		for i, h := range nodes {
			v.Nodes = append(v.Nodes, Node{ID: ids[i], Name: h.Name, Roles: h.Roles})
		}
		return RenderLabels(v)
	}).(pulumi.StringOutput)
	if _, err := command(first, name+"-labels", hostcmd.Args{Stdin: labelsStdin}, allJoins); err != nil {
		return nil, err
	}
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"managers":     pulumi.ToStringArray(args.Managers),
		"workerToken":  s.WorkerToken,
		"managerToken": s.ManagerToken,
	})
}

// Joined is the step after which host name is a member of the swarm.
func (s *Swarm) Joined(name string) pulumi.Resource { return s.joined[name] }
