package jaeger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/jaeger"
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
