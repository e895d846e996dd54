//go:build integration

package host

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/testhost"
)

// The watchdog step on a real systemd host: it installs the script, its
// state directory and units, the timer runs, and the service runs the
// script under its sandbox, writing the textfile node exporter reads. The
// test host has no Docker Engine: a stand-in `docker` that lists no
// container takes its place (the script against the real engine is
// TestIntegrationWatchdogRestartsOnlyOwnedUnhealthyContainers).
func TestIntegrationWatchdogStepRunsUnderSystemd(t *testing.T) {
	t.Parallel()
	h := testhost.Start(t)
	a := driftTestArgs(h)
	a.Name = "it-watchdog-01"
	a.SelfHealing = SelfHealing{IntervalSeconds: 5}
	v, err := NewPrepareValues(a)
	require.NoError(t, err)

	require.True(t, applyStep(t, h, v, WatchdogStep).Changed)
	assert.Equal(t, "enabled active\n", h.Exec(t, "echo $(systemctl is-enabled "+WatchdogUnit+".timer) $(systemctl is-active "+WatchdogUnit+".timer)").Stdout)
	assert.Equal(t, "700 0:0\n", h.Exec(t, "stat -c '%a %u:%g' "+WatchdogStateDir).Stdout)
	assert.False(t, applyStep(t, h, v, WatchdogStep).Changed, "a second apply changes nothing")

	require.Equal(t, 0, h.Exec(t, "printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/docker && chmod 0755 /usr/local/bin/docker").Code)
	r := h.Exec(t, "systemctl start "+WatchdogUnit+".service")
	require.Equal(t, 0, r.Code, "%s\n%s\n%s", r.Stdout, r.Stderr, h.Exec(t, "journalctl -u "+WatchdogUnit+".service --no-pager | tail -20").Stdout)
	prom := h.Exec(t, "cat "+TextfileDir+"/"+WatchdogFile)
	require.Equal(t, 0, prom.Code, prom.Stderr)
	assert.Contains(t, prom.Stdout, "# TYPE "+WatchdogRestartsMetric+" counter\n")
	assert.Regexp(t, `(?m)^`+WatchdogLastRunMetric+` [0-9]+$`, prom.Stdout)
	assert.Equal(t, "644\n", h.Exec(t, "stat -c '%a' "+TextfileDir+"/"+WatchdogFile).Stdout, "node exporter's user reads it")
	// The timer runs it again by itself.
	first := h.Exec(t, "grep '^"+WatchdogLastRunMetric+"' "+TextfileDir+"/"+WatchdogFile).Stdout
	require.Eventually(t, func() bool {
		return h.Exec(t, "grep '^"+WatchdogLastRunMetric+"' "+TextfileDir+"/"+WatchdogFile).Stdout != first
	}, 30*time.Second, time.Second, "the timer did not run the watchdog again")
}
