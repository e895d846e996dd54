package rules

import (
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const stackURN = "urn:pulumi:prod::aurigraph::pulumi:pulumi:Stack::aurigraph-prod"

func hostURN(h string) string { return "urn:pulumi:prod::aurigraph::" + HostType + "::" + h }
func providerURN(h string) string {
	return "urn:pulumi:prod::aurigraph::" + HostType + "$" + DockerProviderType + "::" + h + "-docker"
}

// cluster builds hosts (component + Docker provider) and places containers
// on them: placement maps container name → host.
func cluster(hosts []string, containers map[string]M, placement map[string]string, hostInputs map[string]M) []policyx.AnalyzerResource {
	var out []policyx.AnalyzerResource
	for _, h := range hosts {
		out = append(out,
			policyx.AnalyzerResource{Type: HostType, Name: h, URN: hostURN(h), Parent: stackURN, Properties: property.NewMap(hostInputs[h])},
			policyx.AnalyzerResource{Type: DockerProviderType, Name: h + "-docker", URN: providerURN(h), Parent: hostURN(h),
				Properties: property.NewMap(M{"host": s("ssh://deploy@" + h)})},
		)
	}
	for name, m := range containers {
		r := container(name, m)
		r.Provider = policyx.AnalyzerProviderResource{Type: DockerProviderType, URN: providerURN(placement[name]), Name: placement[name] + "-docker"}
		out = append(out, r)
	}
	return out
}

func app(i int) M {
	m := goodContainer(App)
	m["name"] = s(fmt.Sprintf("aurigraph-v11-blue-slim-%d", i))
	m["memory"], m["memoryReservation"], m["cpus"], m["cpuShares"] = n(32768), n(16384), s("16"), n(8*1024)
	return m
}

func facts(hosts ...HostFacts) Facts { return Facts{Environment: "prod", Hosts: hosts} }

func capHost(name string, cpus, memGB float64, roles ...string) HostFacts {
	return HostFacts{Name: name, Roles: roles, Capacity: &Capacity{CPUs: cpus, MemoryGB: memGB, DiskGB: 200},
		Thresholds: &Thresholds{MinCPUs: 32, MinMemoryGB: 64, MinDiskGB: 200}}
}

func runStack(t *testing.T, name string, rs []policyx.AnalyzerResource, env Env) []Finding {
	t.Helper()
	var got []Finding
	require.NotPanics(t, func() { got = rule(t, name).Stack(rs, env) })
	return got
}

func TestHostCapacity(t *testing.T) {
	hosts := []string{"a1", "a2"}
	two := map[string]M{"r1": app(1), "r2": app(2)}
	spread := map[string]string{"r1": "a1", "r2": "a2"}
	packed := map[string]string{"r1": "a1", "r2": "a1"}
	f := facts(capHost("a1", 12, 64, "app"), capHost("a2", 24, 64, "app"))

	assert.Empty(t, runStack(t, "host-capacity", cluster(hosts, two, spread, nil), Env{Facts: f}), "8 cores/16 GB each fit 12/64")
	got := runStack(t, "host-capacity", cluster(hosts, two, packed, nil), Env{Facts: f})
	require.Len(t, got, 1, "16 reserved cores overflow 12; 32 GB fit 64")
	assert.Contains(t, got[0].Message, "host a1")
	assert.Contains(t, got[0].Message, "cores")

	small := facts(capHost("a1", 8, 64, "app"), capHost("a2", 24, 64, "app"))
	got = runStack(t, "host-capacity", cluster(hosts, two, spread, nil), Env{Facts: small})
	require.Len(t, got, 0, "8 reserved cores fit exactly in 8")
	tiny := facts(capHost("a1", 7, 15, "app"), capHost("a2", 24, 64, "app"))
	got = runStack(t, "host-capacity", cluster(hosts, two, spread, nil), Env{Facts: tiny})
	assert.Len(t, got, 2, "cores and memory both overflow on a1: %v", got)

	// Capacity from the host component's inputs wins over config.
	inputs := map[string]M{"a1": {"capacity": obj_(M{"cpus": n(7), "memoryGb": n(256), "diskGb": n(500)})}}
	rs := cluster(hosts, two, spread, inputs)
	got = runStack(t, "host-capacity", rs, Env{Facts: f.WithResources(rs)})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "cores")

	// No stated capacity: cannot verify, so it fails.
	got = runStack(t, "host-capacity", cluster(hosts, two, spread, nil), Env{Facts: facts()})
	assert.Len(t, got, 2)

	// Unknown reservation (preview): no verdict.
	unk := map[string]M{"r1": set(app(1), "memoryReservation", computed()), "r2": app(2)}
	assert.Empty(t, runStack(t, "host-capacity", cluster(hosts, unk, packed, nil), Env{Facts: tiny}))
	// Secret reservations are read.
	sec := map[string]M{"r1": set(app(1), "cpuShares", secret(n(64*1024))), "r2": app(2)}
	assert.NotEmpty(t, runStack(t, "host-capacity", cluster(hosts, sec, spread, nil), Env{Facts: f}))
}

func TestReplicaSpread(t *testing.T) {
	params := map[string]any{"minReplicas": 3.0, "minHosts": 2.0}
	hosts := []string{"a1", "a2"}
	three := map[string]M{"r1": app(1), "r2": app(2), "r3": app(3)}
	assert.Empty(t, runStack(t, "app-replicas-spread", cluster(hosts, three, map[string]string{"r1": "a1", "r2": "a2", "r3": "a1"}, nil), Env{Params: params}))

	got := runStack(t, "app-replicas-spread", cluster(hosts, three, map[string]string{"r1": "a1", "r2": "a1", "r3": "a1"}, nil), Env{Params: params})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "1 host(s)")

	two := map[string]M{"r1": app(1), "r2": app(2)}
	got = runStack(t, "app-replicas-spread", cluster(hosts, two, map[string]string{"r1": "a1", "r2": "a2"}, nil), Env{Params: params})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "2 replica(s)")

	// Replicas whose labels are unknown still count by name; secret labels are read.
	odd := map[string]M{"r1": set(app(1), "labels", computed()), "r2": set(app(2), "labels", secret(goodContainer(App)["labels"])), "r3": app(3)}
	assert.Empty(t, runStack(t, "app-replicas-spread", cluster(hosts, odd, map[string]string{"r1": "a1", "r2": "a2", "r3": "a1"}, nil), Env{Params: params}))
}

func TestSinglePublicEdgeAndEdgeTLS(t *testing.T) {
	hosts := []string{"e1", "a1"}
	one := map[string]M{"gw": goodContainer(Gateway), "g": goodContainer(Grafana)}
	place := map[string]string{"gw": "e1", "g": "a1", "gw2": "a1"}
	f := facts(capHost("e1", 32, 64, "edge"), capHost("a1", 32, 64, "app"))
	assert.Empty(t, runStack(t, "single-public-edge", cluster(hosts, one, place, nil), Env{Facts: f}))
	assert.Empty(t, runStack(t, "edge-tls", cluster(hosts, one, place, nil), Env{Facts: f}))

	two := map[string]M{"gw": goodContainer(Gateway), "gw2": goodContainer(Gateway)}
	assert.NotEmpty(t, runStack(t, "single-public-edge", cluster(hosts, two, place, nil), Env{Facts: f}))
	twoEdgeHosts := facts(capHost("e1", 32, 64, "edge"), capHost("a1", 32, 64, "edge"))
	assert.NotEmpty(t, runStack(t, "single-public-edge", cluster(hosts, one, place, nil), Env{Facts: twoEdgeHosts}))

	plain := map[string]M{"gw": set(goodContainer(Gateway), "ports", arr_(obj_(M{"internal": n(80), "external": n(80), "ip": s("0.0.0.0")})))}
	got := runStack(t, "edge-tls", cluster(hosts, plain, place, nil), Env{Facts: f})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "443")
	assert.NotEmpty(t, runStack(t, "edge-tls", cluster(hosts, map[string]M{"g": goodContainer(Grafana)}, place, nil), Env{Facts: f}))

	// Unknown ports (preview): no verdict; secret ports are read.
	unk := map[string]M{"gw": set(goodContainer(Gateway), "ports", computed())}
	assert.Empty(t, runStack(t, "edge-tls", cluster(hosts, unk, place, nil), Env{Facts: f}))
	assert.Empty(t, runStack(t, "single-public-edge", cluster(hosts, unk, place, nil), Env{Facts: f}))
	sec := map[string]M{"gw": set(goodContainer(Gateway), "ports", secret(goodContainer(Gateway)["ports"]))}
	assert.Empty(t, runStack(t, "edge-tls", cluster(hosts, sec, place, nil), Env{Facts: f}))
}

func TestPreflightThresholds(t *testing.T) {
	params := map[string]any{"minCpus": 32.0, "minMemoryGb": 64.0, "minDiskGb": 200.0}
	good := facts(capHost("h1", 32, 64))
	assert.Empty(t, runStack(t, "host-preflight-thresholds", nil, Env{Params: params, Facts: good}))

	weak := good
	weak.Hosts = []HostFacts{{Name: "h1", Thresholds: &Thresholds{MinCPUs: 8, MinMemoryGB: 64, MinDiskGB: 100}}}
	got := runStack(t, "host-preflight-thresholds", nil, Env{Params: params, Facts: weak})
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "8 cores")
	assert.Contains(t, got[0].Message, "100 GB disk")

	// The preflight script's own figures win over config.
	script := "#!/bin/bash\nmin_cpus=16\nmin_memory_gb=64\nmin_disk_gb=200\n"
	pre := policyx.AnalyzerResource{Type: RemoteCommandType, URN: hostURN("h1") + "-preflight", Parent: hostURN("h1"),
		Properties: property.NewMap(M{"create": s("exec bash -s"), "stdin": s(script)})}
	pre.URN = "urn:pulumi:prod::aurigraph::" + HostType + "$" + RemoteCommandType + "::h1-preflight"
	got = runStack(t, "host-preflight-thresholds", []policyx.AnalyzerResource{pre}, Env{Params: params, Facts: good})
	require.Len(t, got, 1)
	assert.Equal(t, pre.URN, got[0].URN)
	assert.Contains(t, got[0].Message, "16 cores")

	// Unknown or secret script: the secret one is read, the unknown one falls back to config.
	pre.Properties = property.NewMap(M{"stdin": secret(s(script))})
	assert.Len(t, runStack(t, "host-preflight-thresholds", []policyx.AnalyzerResource{pre}, Env{Params: params, Facts: good}), 1)
	pre.Properties = property.NewMap(M{"stdin": computed()})
	assert.Empty(t, runStack(t, "host-preflight-thresholds", []policyx.AnalyzerResource{pre}, Env{Params: params, Facts: good}))

	// No thresholds anywhere: fails.
	assert.NotEmpty(t, runStack(t, "host-preflight-thresholds", nil, Env{Params: params, Facts: facts(HostFacts{Name: "h1"})}))
}

func TestFactsFromConfig(t *testing.T) {
	f := FactsFromConfig(map[string]string{
		"aurigraph:environment": "prod",
		"aurigraph:hosts":       `[{"name":"h1","address":"203.0.113.1","privateAddress":"10.0.0.1","roles":["edge"],"capacity":{"cpus":32,"memoryGb":64,"diskGb":200}}]`,
		"aurigraph:preflight":   `{"minCpus":32,"minMemoryGb":64,"minDiskGb":200,"dataPath":"/srv"}`,
	})
	require.Len(t, f.Hosts, 1)
	assert.Equal(t, "prod", f.Environment)
	assert.Equal(t, 32.0, f.Hosts[0].Capacity.CPUs)
	assert.Equal(t, 200.0, f.Hosts[0].Thresholds.MinDiskGB)
	assert.True(t, isPublicAddress("203.0.113.1", f))
	assert.False(t, isPublicAddress("10.0.0.1", f))
	assert.Empty(t, FactsFromConfig(map[string]string{"aurigraph:hosts": "not json"}).Hosts)
}
