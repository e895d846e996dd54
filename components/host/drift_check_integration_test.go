//go:build integration

package host

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/testhost"
)

// driftTestArgs is a host whose sysctl step runs inside a test host: no
// kernel settings (a container cannot write /proc/sys).
func driftTestArgs(h *testhost.Host) HostArgs {
	return HostArgs{
		Name: "it-drift-01", Address: h.Address, ClusterAddress: "127.0.0.1", Port: h.Port, User: h.User,
		HostKey: h.HostKey, DataPath: "/srv/aurigraph",
	}
}

// applyStep runs one rendered preparation step on the host as the program
// does: over SSH as the deploy user, the script on stdin, apply mode.
func applyStep(t *testing.T, h *testhost.Host, v PrepareValues, step string) StepResult {
	t.Helper()
	script, err := RenderStep(v, step)
	require.NoError(t, err)
	r := h.SSH(t, h.User, StepCommand("apply", ""), script)
	require.Equal(t, 0, r.Code, "step %s:\n%s\n%s", step, r.Stdout, r.Stderr)
	rs := ParseStepResults(r.Stdout)
	require.Len(t, rs, 1, r.Stdout)
	return rs[0]
}

var promLineRE = regexp.MustCompile(`(?m)^([a-z_]+)(\{[^}]*\})? (\S+)$`)

// driftMetrics reads the textfile node exporter would serve, checked by
// promtool, as "name{labels}" → value.
func driftMetrics(t *testing.T, h *testhost.Host) map[string]string {
	t.Helper()
	r := h.Exec(t, "cat "+TextfileDir+"/aurigraph_drift.prom")
	require.Equal(t, 0, r.Code, r.Stderr)
	cmd := exec.Command(need(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(r.Stdout)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s\n%s", out, r.Stdout)
	m := map[string]string{}
	for _, l := range promLineRE.FindAllStringSubmatch(r.Stdout, -1) {
		if l[1] != "aurigraph_drift_check_timestamp_seconds" {
			m[l[1]+l[2]] = l[3]
		}
	}
	return m
}

// The drift check on a real systemd host: the files the steps install are
// recorded, a hand edit shows in the metric, and applying the step again
// (what `pulumi up --replace` of the step does) brings it back to 0.
func TestIntegrationDriftCheckSeesHandEditsUntilTheStepRunsAgain(t *testing.T) {
	t.Parallel()
	h := testhost.Start(t)
	v, err := NewPrepareValues(driftTestArgs(h))
	require.NoError(t, err)

	require.True(t, applyStep(t, h, v, DriftCheckStep).Changed)
	require.True(t, applyStep(t, h, v, "sysctl").Changed)
	assert.Equal(t, "enabled active\n", h.Exec(t, "echo $(systemctl is-enabled "+DriftCheckUnit+".timer) $(systemctl is-active "+DriftCheckUnit+".timer)").Stdout)
	assert.Equal(t, 0, h.Exec(t, "sha256sum -c --quiet "+ManifestDir+"/*.sha256").Code, "the records are sha256sum -c lines an operator can check by hand")
	assert.Equal(t, map[string]string{
		"aurigraph_managed_files":         "4", // the check's script and two units, the sysctl file
		"aurigraph_managed_files_drifted": "0",
	}, driftMetrics(t, h), "the sysctl step ran the check after it changed files")

	// Idempotent: a second apply changes nothing, the records included.
	assert.False(t, applyStep(t, h, v, "sysctl").Changed)
	assert.False(t, applyStep(t, h, v, DriftCheckStep).Changed)

	// A hand edit and a removed unit file, seen at the timer's next run.
	h.Exec(t, "echo 'vm.swappiness = 1' >> /etc/sysctl.d/90-aurigraph.conf && rm /etc/systemd/system/"+DriftCheckUnit+".timer")
	require.Equal(t, 0, h.Exec(t, "systemctl start "+DriftCheckUnit+".service").Code)
	assert.Equal(t, map[string]string{
		"aurigraph_managed_files":         "4",
		"aurigraph_managed_files_drifted": "2",
		`aurigraph_managed_file_drifted{manifest="prepare-sysctl",path="/etc/sysctl.d/90-aurigraph.conf",state="changed"}`:                       "1",
		`aurigraph_managed_file_drifted{manifest="prepare-drift-check",path="/etc/systemd/system/` + DriftCheckUnit + `.timer",state="missing"}`: "1",
	}, driftMetrics(t, h))

	// The steps again: the files are rewritten and the metric is back to 0.
	assert.True(t, applyStep(t, h, v, "sysctl").Changed)
	assert.True(t, applyStep(t, h, v, DriftCheckStep).Changed)
	assert.NotContains(t, h.Exec(t, "cat /etc/sysctl.d/90-aurigraph.conf").Stdout, "swappiness")
	assert.Equal(t, map[string]string{
		"aurigraph_managed_files":         "4",
		"aurigraph_managed_files_drifted": "0",
	}, driftMetrics(t, h))
}
