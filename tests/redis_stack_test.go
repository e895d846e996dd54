package tests

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
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

			var hosts []stacks.Host
			require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
			var dataHost string
			for _, h := range hosts {
				if h.HasRole(stacks.RoleData) && dataHost == "" {
					dataHost = h.Name
				}
			}
			provider := res.Named("pulumi:providers:docker", dataHost+"-docker")
			require.NotNil(t, provider)

			srv := res.Named(harness.ContainerType, "redis")
			exp := res.Named(harness.ContainerType, "redis-exporter")
			require.NotNil(t, srv)
			require.NotNil(t, exp)
			for _, c := range []*mockrun.Resource{srv, exp} {
				assert.Equal(t, provider.URN, c.Provider)
				assert.Contains(t, c.Parent, "aurigraph:redis:Redis")
				assert.Empty(t, pgArray(c.Inputs["ports"]), "%s publishes no port", c.Name)
				for _, e := range pgArray(c.Inputs["envs"]) {
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
			var secretEnvs int
			for _, e := range pgArray(srv.Inputs["envs"]) {
				if e.IsSecret() {
					secretEnvs++
					assert.True(t, strings.HasPrefix(e.SecretValue().Element.StringValue(), "REDIS_PASSWORD="))
				}
			}
			assert.Equal(t, 1, secretEnvs)

			// maxmemory in the delivered redis.conf stays under the limit.
			cp := res.Named("command:remote:CopyToRemote", "redis-conf-redis-conf")
			require.NotNil(t, cp)
			conf := cp.Inputs["source"].AssetValue().Text
			assert.Contains(t, conf, "maxmemory "+strconv.Itoa(redis.MaxMemoryFor(want.MemoryMB))+"mb")

			var secrets []string
			for _, k := range s.SecretKeys {
				if v := s.Config[k]; strings.HasPrefix(v, "plan-placeholder-") {
					secrets = append(secrets, v)
				}
			}
			require.NotEmpty(t, secrets)
			for _, r := range res.Resources {
				var strs []string
				strs = append(strs, harness.PlainStrings(resource.NewObjectProperty(r.Inputs))...)
				for _, str := range strs {
					for _, p := range secrets {
						assert.NotContains(t, str, p, "%s leaks a secret", r.URN)
					}
				}
			}
		})
	}
}
