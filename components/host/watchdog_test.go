package host

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
)

func TestWatchdogRendersTheSettingsAndOnlyOwnedContainers(t *testing.T) {
	script, err := RenderWatchdog(SelfHealing{UnhealthyChecks: map[string]int{"postgres": 6, "aurigraph-v11": 2}})
	require.NoError(t, err)
	for _, want := range []string{
		// Defaults fill what is unset.
		"\nDEFAULT_CHECKS=3\n", "\nCHECKS='aurigraph-v11=2 postgres=6'\n", "\nBACKOFF=60\nMAX_PER_HOUR=5\n",
		// Docker's filter and the label read again name the owner label.
		"\nMANAGED_LABEL='" + container.ManagedByLabel + "'\nMANAGED_VALUE='" + container.ManagedByValue + "'\n",
		`{{with index .Config.Labels "` + container.ServiceLabel + `"}}{{.}}{{else}}-{{end}}`,
		"STATE_DIR=${STATE_DIR:-" + WatchdogStateDir + "}",
		"-v restarts=" + WatchdogRestartsMetric + " -v gaveup=" + WatchdogGaveUpMetric,
	} {
		assert.Contains(t, script, want)
	}

	v, err := NewPrepareValues(func() HostArgs { a := sampleArgs(); a.SelfHealing = SelfHealing{IntervalSeconds: 30}; return a }())
	require.NoError(t, err)
	step, err := RenderStep(v, WatchdogStep)
	require.NoError(t, err)
	for _, want := range []string{
		"ensure_dir " + WatchdogStateDir + " 0700 0:0",
		"ensure_file " + WatchdogPath + " 0755 0:0",
		"[Timer]\nOnBootSec=2min\nOnUnitActiveSec=30s\nAccuracySec=1s\n",
		"After=docker.service\n",
		"Environment=STATE_DIR=" + WatchdogStateDir + "\nEnvironment=TEXTFILE_DIR=" + TextfileDir + "\nExecStart=" + WatchdogPath + "\n",
	} {
		assert.Contains(t, step, want)
	}
}

func TestWatchdogRefusesOutOfBoundSettings(t *testing.T) {
	_, err := RenderWatchdog(SelfHealing{IntervalSeconds: 1, UnhealthyChecks: map[string]int{"x;rm": 2, "redis": 0}, BackoffSeconds: -1, MaxRestartsPerHour: 61})
	require.Error(t, err)
	for _, want := range []string{"intervalSeconds: 1 is outside 5-300", "unhealthyChecks.x;rm: is not a service name", "unhealthyChecks.redis: 0 is outside 1-100", "backoffSeconds: -1", "maxRestartsPerHour: 61"} {
		assert.True(t, strings.Contains(err.Error(), want), "%s lacks %q", err, want)
	}
}
