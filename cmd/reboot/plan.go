package main

import (
	"fmt"
	"strings"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/gateway"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/stacks"
)

// Target is one host to reboot and what its reboot takes away.
type Target struct {
	Host stacks.Host
	// Listed: named by -hosts, rebooted whether or not it says it needs it.
	Listed bool
	// Drain are the gateway's upstream servers on the host (its replicas'
	// REST and gRPC ports), marked down while it reboots; Drained is the
	// gateway configuration with them down ("" when nothing is drained).
	Drain   []string
	Drained string
	// Services are the other services on the host, unavailable while it
	// reboots (the platform runs one of each).
	Services []string
	// Refused says why the host is not rebooted without -allow-outage (its
	// reboot cannot be hidden behind the gateway); "" when it may be.
	Refused string
}

// Plan is every host that may be rebooted, in inventory order, with the
// gateway configuration `pulumi up` installs (Undrained) and where it lives.
type Plan struct {
	Targets     []Target
	Undrained   string
	Gateway     stacks.Host
	GatewayDir  string
	StagingDir  string
	AllowOutage bool
}

// NewPlan plans the reboots of stack c: the listed hosts (every host when
// none is listed) in inventory order, one at a time. Which of the unlisted
// hosts needs a reboot is read from each host when the plan runs. A host
// whose reboot cannot be hidden behind the gateway (it runs the gateway, or
// holds every replica of a slot with traffic) is refused unless
// allowOutage: at once when listed, else when it turns out to need a reboot.
func NewPlan(c *stacks.Config, listed []string, allowOutage bool) (*Plan, error) {
	p := stacks.Place(c)
	values := gateway.ProductionValues(stacks.GatewayValues(c, p))
	undrained, err := gateway.Render(values)
	if err != nil {
		return nil, err
	}
	gw := p.Services[stacks.Nginx]
	plan := &Plan{Undrained: undrained, GatewayDir: stacks.ServiceDir(c, stacks.Nginx), AllowOutage: allowOutage}
	plan.StagingDir = host.StagingDir(c.Preflight.DataPath)
	want := map[string]bool{}
	for _, name := range listed {
		want[name] = true
	}
	var problems []string
	for _, h := range c.Hosts {
		if h.Name == gw {
			plan.Gateway = h
		}
		if len(listed) > 0 && !want[h.Name] {
			continue
		}
		delete(want, h.Name)
		t := Target{Host: h, Listed: len(listed) > 0}
		for _, r := range p.ReplicasOn(h.Name) {
			t.Drain = append(t.Drain, fmt.Sprintf("%s:%d", r.Name, app.RESTPort), fmt.Sprintf("%s:%d", r.Name, app.GRPCPort))
		}
		t.Services = p.ServicesOn(h.Name)
		if h.Name == gw {
			t.Refused = fmt.Sprintf("%s runs the gateway: every request fails while it reboots (pass -allow-outage to reboot it anyway)", h.Name)
		}
		if len(t.Drain) > 0 {
			v := values
			v.Down = t.Drain
			if t.Drained, err = gateway.Render(v); err != nil {
				t.Refused = fmt.Sprintf("%s cannot be drained: %v (pass -allow-outage to reboot it without draining)", h.Name, err)
				t.Drain, t.Drained = nil, ""
			}
		}
		if allowOutage {
			t.Refused = ""
		}
		if t.Listed && t.Refused != "" {
			problems = append(problems, t.Refused)
			continue
		}
		plan.Targets = append(plan.Targets, t)
	}
	for _, name := range listed {
		if want[name] {
			problems = append(problems, fmt.Sprintf("%s is not a host of stack %s", name, c.Stack))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("reboot %s:\n  %s", c.Stack, strings.Join(problems, "\n  "))
	}
	return plan, nil
}
