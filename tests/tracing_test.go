package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// envOf is a container's plain environment (secret elements left out).
func envOf(c mockrun.Resource) map[string]string {
	out := map[string]string{}
	for _, e := range harness.PlainStrings(c.Inputs["envs"]) {
		if k, v, ok := strings.Cut(e, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Every replica sends its traces to Jaeger's OTLP port at the address the
// Jaeger component exports for its container, and waits for that container
// (the value carries the dependency): in a normal run and in the first
// preview of a new stack alike.
func TestAppTracesGoToJaegersExportedOTLPAddress(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		for _, preview := range []bool{false, true} {
			name := stack
			if preview {
				name += "/preview"
			}
			t.Run(name, func(t *testing.T) {
				run := harness.Run
				if preview {
					run = harness.Preview
				}
				res := run(t, harness.Stack(t, stack))
				j := res.Named(harness.ContainerType, jaeger.ContainerName)
				require.NotNil(t, j)
				jname := harness.Str(j.Inputs, "name")
				require.NotEmpty(t, jname)
				otlp := jaeger.Endpoint(jname, jaeger.OTLPGRPCPort)
				collector := jaeger.Endpoint(jname, jaeger.CollectorGRPCPort)
				replicas := 0
				for cname, c := range harness.Containers(res) {
					if harness.Label(c, "com.aurigraph.service") != app.Service {
						continue
					}
					replicas++
					env := envOf(c)
					assert.Equal(t, otlp, env[app.EnvOTLPEndpoint], cname)
					assert.Equal(t, otlp, env[app.EnvOTLPTracesEndpoint], cname)
					assert.Equal(t, collector, env[app.EnvJaegerEndpoint], cname)
					assert.Contains(t, c.DependsOn, j.URN, "%s waits for Jaeger", cname)
				}
				assert.NotZero(t, replicas)
			})
		}
	}
}

// Jaeger publishes no port on any host: its collectors take spans without
// authentication, so they stay on the encrypted overlay, and the gateway
// proxies the UI.
func TestJaegerPublishesNoPort(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	j := res.Named(harness.ContainerType, jaeger.ContainerName)
	require.NotNil(t, j)
	if p, ok := j.Inputs["ports"]; ok && !p.IsNull() {
		assert.Empty(t, p.ArrayValue())
	}
	// On the zones its role lists only: the application's, the gateway's UI zone and metrics.
	assert.Equal(t, []string{"aurigraph-network", "aurigraph-network-ui", "aurigraph-network-metrics"}, harness.ContainerNetworks(*j))
}

// The hosts' firewalls open none of Jaeger's ports: spans from replicas on
// other hosts cross in the overlay's data plane (VXLAN 4789/udp inside ESP),
// which only cluster peers may send.
func TestFirewallsOpenNoJaegerPortAndCarryTheOverlay(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	var scripts []string
	for _, r := range res.Resources {
		for _, v := range r.Inputs {
			for _, s := range harness.PlainStrings(v) {
				if strings.Contains(s, "table inet aurigraph {") {
					scripts = append(scripts, s)
				}
			}
		}
	}
	require.NotEmpty(t, scripts, "no host firewall found in the recording")
	t.Logf("%d host firewalls checked", len(scripts))
	for _, s := range scripts {
		assert.Contains(t, s, "ip saddr @cluster_peers_v4 udp dport { 4789, 7946 } accept")
		assert.Contains(t, s, "ip saddr @cluster_peers_v4 meta l4proto esp accept")
		for _, p := range jaeger.Ports {
			assert.NotRegexp(t, fmt.Sprintf(`dport [^\n]*\b%d\b`, p.Port), s, "%s (%d) opened on a host", p.Purpose, p.Port)
		}
	}
}
