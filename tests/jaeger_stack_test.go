package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/tests/harness"
)

func TestStackJaeger(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
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
