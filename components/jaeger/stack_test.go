package jaeger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

func TestEnv(t *testing.T) {
	env := jaeger.Env(72 * time.Hour)
	assert.Equal(t, "badger", env["SPAN_STORAGE_TYPE"])
	assert.Equal(t, "false", env["BADGER_EPHEMERAL"])
	assert.Equal(t, "72h", env["BADGER_SPAN_STORE_TTL"])
	assert.Equal(t, ":9411", env["COLLECTOR_ZIPKIN_HOST_PORT"])
	assert.Equal(t, "true", env["COLLECTOR_OTLP_ENABLED"])
}

func TestEveryPortSetsItsListener(t *testing.T) {
	env := jaeger.Env(time.Hour)
	ports, vars := map[string]bool{}, map[string]bool{}
	for _, p := range jaeger.Ports {
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		assert.False(t, ports[key], "%s listed twice", key)
		ports[key] = true
		require.NotEmpty(t, p.Env, key)
		assert.False(t, vars[p.Env], "%s sets two ports", p.Env)
		vars[p.Env] = true
		assert.Equal(t, fmt.Sprintf(":%d", p.Port), env[p.Env], "%s listens on %s", p.Purpose, key)
	}
	// The collectors the application and legacy clients use, and the admin port.
	for _, p := range []int{jaeger.OTLPGRPCPort, jaeger.OTLPHTTPPort, jaeger.CollectorGRPCPort, jaeger.ThriftHTTPPort,
		jaeger.ZipkinPort, jaeger.UIPort, jaeger.AdminPort} {
		assert.True(t, ports[fmt.Sprintf("%d/tcp", p)], "%d", p)
	}
	for _, p := range []int{jaeger.AgentCompactPort, jaeger.AgentBinaryPort, jaeger.AgentZipkinCompactPort} {
		assert.True(t, ports[fmt.Sprintf("%d/udp", p)], "%d", p)
	}
	assert.Equal(t, "http://jaeger:4317", jaeger.Endpoint(jaeger.ContainerName, jaeger.OTLPGRPCPort))
}

func TestSPECPortsListed(t *testing.T) {
	have := map[string]bool{}
	for _, p := range jaeger.Ports {
		have[strings.TrimSuffix(fmt.Sprintf("%d/%s", p.Port, p.Protocol), "/tcp")] = true
	}
	for _, p := range []string{"5775/udp", "6831/udp", "6832/udp", "5778", "16686", "14268", "14250", "9411"} {
		assert.True(t, have[p], p)
	}
}

func TestStackJaeger(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s, err := stackfile.Load("../..", stack)
			require.NoError(t, err)
			res, err := mockrun.RunStack(stacks.Run, s.WithPlaceholders())
			require.NoError(t, err)
			c := res.Named("docker:index/container:Container", jaeger.ContainerName)
			require.NotNil(t, c)
			assert.Contains(t, c.Parent, "aurigraph:jaeger:Jaeger")
			if p, ok := c.Inputs["ports"]; ok && !p.IsNull() {
				assert.Empty(t, p.ArrayValue(), "reachable on the network, not published on the host")
			}
			var env []string
			for _, e := range c.Inputs["envs"].ArrayValue() {
				env = append(env, e.StringValue())
			}
			assert.Contains(t, env, "SPAN_STORAGE_TYPE=badger")
			assert.Contains(t, env, "COLLECTOR_OTLP_GRPC_HOST_PORT=:4317")
			assert.Contains(t, env, "COLLECTOR_ZIPKIN_HOST_PORT=:9411")
			assert.Contains(t, env, "BADGER_SPAN_STORE_TTL=168h")
			hc := c.Inputs["healthcheck"].ObjectValue()
			var test []string
			for _, v := range hc["tests"].ArrayValue() {
				test = append(test, v.StringValue())
			}
			assert.Contains(t, strings.Join(test, " "), "localhost:14269/")
			m := c.Inputs["mounts"].ArrayValue()
			require.Len(t, m, 1)
			assert.Equal(t, "/srv/aurigraph/jaeger/data", m[0].ObjectValue()["source"].StringValue())
			assert.Equal(t, "/badger", m[0].ObjectValue()["target"].StringValue())
		})
	}
}
