package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// aurigraph:selfHealing reaches the watchdog step of every host: the check
// interval in its timer, the per-service thresholds, the back-off and the
// ceiling in its script; the stacks' own thresholds hold when unset.
func TestSelfHealingSettingsReachEveryHost(t *testing.T) {
	s := harness.Stack(t, "prod").Set("selfHealing",
		`{"intervalSeconds":20,"unhealthyChecks":{"default":4,"redis":7,"aurigraph-v11":2},"backoffSeconds":90,"maxRestartsPerHour":3}`)
	res := harness.Run(t, s)
	hosts := harness.HostNames(t, s)
	for _, h := range hosts {
		step := res.Named("command:remote:Command", h+"-prepare-"+host.WatchdogStep)
		require.NotNil(t, step, "%s has no %s step", h, host.WatchdogStep)
		script := harness.Str(step.Inputs, "stdin")
		assert.Contains(t, script, "\nDEFAULT_CHECKS=4\n", h)
		assert.Contains(t, script, "\nCHECKS='aurigraph-v11=2 redis=7'\n", h)
		assert.Contains(t, script, "\nBACKOFF=90\nMAX_PER_HOUR=3\n", h)
		assert.Contains(t, script, "\nOnUnitActiveSec=20s\n", h)
		assert.Contains(t, script, "ensure_file "+host.WatchdogPath+" 0755 0:0", h)
	}

	// Unset in the prod stack file but for the data services.
	res = harness.Run(t, harness.Stack(t, "prod"))
	step := res.Named("command:remote:Command", hosts[0]+"-prepare-"+host.WatchdogStep)
	require.NotNil(t, step)
	script := harness.Str(step.Inputs, "stdin")
	assert.Contains(t, script, "\nDEFAULT_CHECKS=3\n")
	assert.Contains(t, script, "\nCHECKS='elasticsearch=6 postgres=6 vault=6'\n")
	assert.Contains(t, script, "\nOnUnitActiveSec=15s\n")
}

// Every application replica declares the SPEC's probes the way Docker
// enforces them: liveness as the health check, the startup probe's budget
// as its start period; and it carries the label the watchdog tends, so an
// unhealthy replica is restarted. Every container of the stack carries it.
func TestReplicasDeclareTheSpecProbesForDockerAndTheWatchdog(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		res := harness.Run(t, harness.Stack(t, stack))
		replicas := 0
		for name, c := range harness.Containers(res) {
			assert.Equal(t, container.ManagedByValue, harness.Label(c, container.ManagedByLabel), "%s %s: the watchdog tends only labelled containers", stack, name)
			if harness.Label(c, container.ServiceLabel) != app.Service {
				continue
			}
			replicas++
			hc := harness.Plain(c.Inputs["healthcheck"])
			assert.Equal(t, []string{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:9003/q/health/live"}, harness.PlainStrings(harness.Field(hc, "tests")), name)
			assert.Equal(t, "30s", harness.Field(hc, "interval").StringValue(), name)
			assert.Equal(t, "5s", harness.Field(hc, "timeout").StringValue(), name)
			assert.Equal(t, 2.0, harness.Field(hc, "retries").NumberValue(), name)
			assert.Equal(t, "2m30s", harness.Field(hc, "startPeriod").StringValue(), name, "30 startup checks 5 s apart")
		}
		assert.NotZero(t, replicas, stack)
	}
}

// The gateway's host runs the readiness gate over every application
// replica of both slots (REST probed, gRPC following), installed after
// nginx runs its configuration.
func TestGatewayReadinessGateCoversEveryReplica(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	var gate *mockrun.Resource
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.Name, "-readiness-gate") {
			require.Nil(t, gate, "one readiness gate")
			r := r
			gate = &r
		}
	}
	require.NotNil(t, gate, "no readiness gate step")
	install := harness.Str(gate.Inputs, "stdin")
	assert.Contains(t, install, "systemctl enable --now 'aurigraph-readiness-gate.timer'")
	replicas := 0
	for name, c := range harness.Containers(res) {
		if harness.Label(c, container.ServiceLabel) != app.Service {
			continue
		}
		replicas++
		assert.Contains(t, install, fmt.Sprintf("%s:%d,%s:%d", name, app.RESTPort, name, app.GRPCPort), "%s is probed", name)
	}
	assert.NotZero(t, replicas)
	assert.Equal(t, replicas, strings.Count(install, fmt.Sprintf(":%d,", app.RESTPort)), "each replica once")
	nginx := harness.Containers(res)["nginx"]
	assert.True(t, harness.Closure(res, gate.URN)[nginx.URN], "installed after nginx runs")
}
