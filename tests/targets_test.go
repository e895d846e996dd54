package tests

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// What `pulumi up --target` needs, as the engine (v3.220,
// pkg/resource/deploy/step_generator.go) decides it: every explicit provider
// is targeted implicitly, and a resource that runs may not depend (parent,
// dependency, property dependency, provider) on a resource that is neither
// targeted nor already in the state. On a fresh stack, everything in
// needs(targets) outside the targets must therefore be targeted too.

const (
	hostType     = "aurigraph:host:Host"
	pkiType      = "aurigraph:pki:PKI"
	providerType = "pulumi:providers:"
	commandType  = "command:remote:Command"
)

// needs is the closure of targets plus every explicit provider over parents,
// dependencies and providers.
func needs(res *mockrun.Result, targets map[string]bool) map[string]bool {
	seen := map[string]bool{}
	var queue []string
	for urn := range targets {
		queue = append(queue, urn)
	}
	for _, r := range res.Resources {
		if strings.HasPrefix(r.Type, providerType) {
			queue = append(queue, r.URN)
		}
	}
	for len(queue) > 0 {
		urn := queue[0]
		queue = queue[1:]
		if urn == "" || seen[urn] {
			continue
		}
		seen[urn] = true
		if r := res.ByURN(urn); r != nil {
			queue = append(append(queue, r.Parent, r.Provider), r.DependsOn...)
		}
	}
	return seen
}

// subtree is root and every resource below it.
func subtree(res *mockrun.Result, root string) map[string]bool {
	out := map[string]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, r := range res.Resources {
			if !out[r.URN] && out[r.Parent] {
				out[r.URN], changed = true, true
			}
		}
	}
	return out
}

// outside lists what a targeted run needs beyond the targets, the stack and
// the providers, each with its type, sorted.
func outside(res *mockrun.Result, targets map[string]bool, allowed func(*mockrun.Resource) bool) []string {
	var out []string
	for urn := range needs(res, targets) {
		r := res.ByURN(urn)
		if r == nil || targets[urn] || strings.HasPrefix(r.Type, providerType) || (allowed != nil && allowed(r)) {
			continue // nil: the stack, which is never recorded
		}
		out = append(out, urn)
	}
	sort.Strings(out)
	return out
}

// few keeps a failure message readable: the first five and a count.
func few(urns []string) string {
	if len(urns) > 5 {
		return fmt.Sprintf("%s … and %d more", strings.Join(urns[:5], "\n"), len(urns)-5)
	}
	return strings.Join(urns, "\n")
}

func component(t *testing.T, res *mockrun.Result, typ string) *mockrun.Resource {
	t.Helper()
	all := res.OfType(typ)
	require.Len(t, all, 1, typ)
	return &all[0]
}

func TestTargetedPKINeedsOnlyThePKI(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			targets := subtree(res, component(t, res, pkiType).URN)
			for urn := range targets {
				r := res.ByURN(urn)
				assert.True(t, r.Type == pkiType || strings.HasPrefix(r.Type, "tls:"), "%s in the PKI", urn)
			}
			extra := outside(res, targets, nil)
			assert.Empty(t, len(extra), "pulumi up --target of the PKI would also have to create:\n%s", few(extra))
		})
	}
}

// hostOf names the host a resource belongs to: the host component above it,
// or the host a swarm step runs on; "" for none.
func hostOf(res *mockrun.Result, r *mockrun.Resource, hosts []string) string {
	for p := r; p != nil; p = res.ByURN(p.Parent) {
		if p.Type == hostType {
			return p.Name
		}
	}
	if r.Type == commandType {
		for _, h := range hosts {
			if r.Name == "swarm-init-"+h || r.Name == "swarm-join-"+h {
				return h
			}
		}
	}
	return ""
}

// A targeted run of one host's preparation needs from other hosts only the
// engine-restart chain: engine restarts go one host at a time, so a host's
// daemon-json step waits for the previous host's (and that one for what
// precedes it on its host). Those exist in every stack that has been up
// once; nothing else of another host is needed.
func TestTargetedHostPreparationNeedsOnlyEarlierEngineRestarts(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			var hosts []string
			for _, h := range res.OfType(hostType) {
				hosts = append(hosts, h.Name)
			}
			require.NotEmpty(t, hosts)
			for _, h := range hosts {
				hc := res.Named(hostType, h)
				// The host component, its preflight and its preparation steps.
				targets := map[string]bool{hc.URN: true}
				for _, r := range res.Resources {
					if r.Parent == hc.URN && r.Type == commandType {
						targets[r.URN] = true
					}
				}
				require.Len(t, targets, 2+len(host.Steps), "%s: component, preflight, steps", h)
				daemon := res.Named(commandType, h+"-prepare-"+host.DaemonJSONStep)
				require.NotNil(t, daemon)
				restarts := needs(res, map[string]bool{daemon.URN: true})
				earlierRestart := func(r *mockrun.Resource) bool {
					other := hostOf(res, r, hosts)
					return restarts[r.URN] && other != "" && other != h
				}
				var foreign []string
				for _, urn := range outside(res, targets, earlierRestart) {
					foreign = append(foreign, fmt.Sprintf("%s (host %q)", urn, hostOf(res, res.ByURN(urn), hosts)))
				}
				assert.Empty(t, len(foreign), "pulumi up --target of %s's preparation would also have to create:\n%s", h, few(foreign))
			}
		})
	}
}

// serviceOf names the service component above r ("" for none): its type's
// package, e.g. "grafana" for aurigraph:grafana:Grafana.
func serviceOf(res *mockrun.Result, r *mockrun.Resource) string {
	var svc string
	for p := r; p != nil; p = res.ByURN(p.Parent) {
		if parts := strings.Split(p.Type, ":"); len(parts) == 3 && parts[0] == "aurigraph" {
			switch parts[1] {
			case "host", "cluster", "network", "pki":
			default:
				svc = parts[1] // the outermost one wins: app, not its tiers
			}
		}
	}
	return svc
}

// Services that share no data with another service: a targeted run of one of
// them needs its host, the cluster, the network and the PKI, never another
// service. (Logstash and Kibana wait for Elasticsearch's setup, the
// application for PostgreSQL's pre-deployment backup, the gateway for the
// application, Prometheus for the Alertmanager it sends alerts to: those
// needs are real and documented in the README.)
var independentServices = []string{"postgres", "redis", "vault", "elasticsearch", "jaeger", "alertmanager", "grafana"}

func TestTargetedServiceNeedsNoOtherService(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			for _, svc := range independentServices {
				var root *mockrun.Resource
				for i := range res.Resources {
					r := &res.Resources[i]
					if strings.HasPrefix(r.Type, "aurigraph:"+svc+":") && r.Parent != "" && res.ByURN(r.Parent) == nil {
						root = r
					}
				}
				require.NotNil(t, root, "the %s component", svc)
				targets := subtree(res, root.URN)
				var others []string
				for _, urn := range outside(res, targets, nil) {
					if other := serviceOf(res, res.ByURN(urn)); other != "" {
						others = append(others, fmt.Sprintf("%s (%s)", urn, other))
					}
				}
				assert.Empty(t, len(others), "pulumi up --target of %s would also have to create these of other services:\n%s", svc, few(others))
			}
		})
	}
}

// No Docker resource reaches a host before it is prepared and in the swarm:
// every container, image and network depends, directly or through other
// resources, on its host's last preparation step and its swarm join.
func TestEveryDockerResourceWaitsForItsHostPreparedAndJoined(t *testing.T) {
	last := host.Steps[len(host.Steps)-1].Name
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			checked := 0
			for _, r := range res.Resources {
				if !strings.HasPrefix(r.Type, "docker:") {
					continue
				}
				prov := res.ByURN(r.Provider)
				require.NotNil(t, prov, "%s uses a host's Docker provider", r.URN)
				h := strings.TrimSuffix(prov.Name, "-docker")
				prepared := res.Named(commandType, h+"-prepare-"+last)
				require.NotNil(t, prepared, "%s's last preparation step", h)
				join := res.Named(commandType, "swarm-join-"+h)
				if join == nil {
					join = res.Named(commandType, "swarm-init-"+h)
				}
				require.NotNil(t, join, "%s's swarm join", h)
				assert.True(t, harness.Closure(res, r.URN)[prepared.URN], "%s waits for %s", r.URN, prepared.Name)
				assert.True(t, harness.Closure(res, r.URN)[join.URN], "%s waits for %s", r.URN, join.Name)
				checked++
			}
			assert.Greater(t, checked, 0)
		})
	}
}
