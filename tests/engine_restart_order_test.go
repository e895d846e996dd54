package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/tests/harness"
)

// Restarting dockerd stops every container on its host (live-restore is
// refused in Swarm mode), so engine restarts go one host at a time: each
// host's daemon-json step waits for the previous host's, which returns only
// when that host's containers are back, and never for a later host's.
func TestEngineRestartsGoOneHostAtATime(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			var hosts []struct {
				Name string `json:"name"`
			}
			require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
			require.GreaterOrEqual(t, len(hosts), 2, "a chain needs two hosts")

			steps := make([]string, len(hosts))
			for i, h := range hosts {
				r := res.Named("command:remote:Command", h.Name+"-prepare-"+host.DaemonJSONStep)
				require.NotNil(t, r, "%s has no %s step", h.Name, host.DaemonJSONStep)
				steps[i] = r.URN
				if i > 0 {
					assert.Contains(t, r.DependsOn, steps[i-1], "%s's engine restart waits directly for %s's", h.Name, hosts[i-1].Name)
				}
			}
			for i, h := range hosts {
				closure := harness.Closure(res, steps[i])
				for j, other := range hosts {
					if j < i {
						assert.True(t, closure[steps[j]], "%s's engine restart runs after %s's", h.Name, other.Name)
					} else if j > i {
						assert.False(t, closure[steps[j]], "%s's engine restart must not wait for the later host %s", h.Name, other.Name)
					}
				}
			}
		})
	}
}
