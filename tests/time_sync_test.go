package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/tests/harness"
)

// aurigraph:time reaches every host: chrony's servers and the bound in the
// time-sync step, the bound in preflight; the time-sync step runs before
// any other preparation step.
func TestTimeSettingsReachEveryHost(t *testing.T) {
	s := harness.Stack(t, "prod").Set("time", `{"servers":["ntp1.example.net","192.0.2.123"],"maxOffsetMs":250}`)
	res := harness.Run(t, s)
	hosts := harness.HostNames(t, s)
	for _, h := range hosts {
		step := res.Named("command:remote:Command", h+"-prepare-"+host.TimeSyncStep)
		require.NotNil(t, step, "%s has no %s step", h, host.TimeSyncStep)
		script := harness.Str(step.Inputs, "stdin")
		assert.Contains(t, script, "\nserver ntp1.example.net iburst\nserver 192.0.2.123 iburst\nkeyfile", h)
		assert.NotContains(t, script, "debian.pool.ntp.org", h)
		assert.Contains(t, script, "MAX_OFFSET='0.250'", h)
		pre := res.Named("command:remote:Command", h+"-preflight")
		require.NotNil(t, pre)
		assert.Contains(t, harness.Str(pre.Inputs, "stdin"), "\nmax_clock_offset_ms=250\n", h)
		docker := res.Named("command:remote:Command", h+"-prepare-docker")
		require.NotNil(t, docker)
		assert.True(t, harness.Closure(res, docker.URN)[step.URN], "%s installs Docker after its clock is synchronised", h)
	}

	rules := 0
	for path, content := range harness.InstalledFiles(res) {
		if strings.HasSuffix(path, "alerts.yml") {
			rules++
			assert.Contains(t, content, "(abs(aurigraph_clock_offset_seconds{job=\"node\"}))\n            > 0.25\n", "ClockOffsetHigh fires above the stack's bound")
		}
	}
	assert.Equal(t, 1, rules, "one Prometheus rules file")

	// Unset: Debian's pool and 100 ms.
	res = harness.Run(t, harness.Stack(t, "prod"))
	step := res.Named("command:remote:Command", hosts[0]+"-prepare-"+host.TimeSyncStep)
	require.NotNil(t, step)
	assert.Contains(t, harness.Str(step.Inputs, "stdin"), "\nserver 0.debian.pool.ntp.org iburst\nserver 1.debian.pool.ntp.org iburst\nserver 2.debian.pool.ntp.org iburst\nserver 3.debian.pool.ntp.org iburst\n")
	assert.Contains(t, harness.Str(step.Inputs, "stdin"), "MAX_OFFSET='0.100'")
}
