package tests

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/redis"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

func TestStackRedis(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)

			srv := res.Named(harness.ContainerType, "redis")
			exp := res.Named(harness.ContainerType, "redis-exporter")
			assertInternalOnDataHost(t, res, s, "aurigraph:redis:Redis", srv, exp)
			for _, c := range []*mockrun.Resource{srv, exp} {
				for _, e := range propArray(c.Inputs["envs"]) {
					if e.IsSecret() {
						continue
					}
					assert.False(t, strings.HasPrefix(e.StringValue(), "REDIS_PASSWORD="), "%s: password in clear", c.Name)
				}
			}
			// SPEC: 2/1 cores, 4/2 GB (no stack overrides redis).
			want := stacks.DefaultResources[stacks.Redis]
			assert.Equal(t, float64(want.MemoryMB), srv.Inputs["memory"].NumberValue())
			assert.Equal(t, float64(want.MemoryReservationMB), srv.Inputs["memoryReservation"].NumberValue())
			assert.Equal(t, container.FormatCPUs(want.CPUs), srv.Inputs["cpus"].StringValue())
			for _, c := range []*mockrun.Resource{srv, exp} {
				for _, e := range propArray(c.Inputs["envs"]) {
					assert.False(t, e.IsSecret(), "%s: the password is a file, not a variable", c.Name)
				}
			}

			// maxmemory in the delivered redis.conf stays under the limit.
			cp := res.Named("command:remote:CopyToRemote", "redis-conf-redis-conf")
			require.NotNil(t, cp)
			conf := cp.Inputs["source"].AssetValue().Text
			assert.Contains(t, conf, "maxmemory "+strconv.Itoa(redis.MaxMemoryFor(want.MemoryMB))+"mb")

			// No placeholder secret appears in clear anywhere in the stack.
			assertNoPlaceholderInClear(t, s, res)
		})
	}
}
