//go:build integration

package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/tests/harness"
)

var backupTimers = []string{"aurigraph-backup-postgres-dump.timer", "aurigraph-backup-postgres-base.timer", "aurigraph-backup-postgres-drill.timer"}

// timerStep is one of the backup-timers command's steps, exactly as the
// program registers it: the command line and what it gets on stdin.
type timerStep struct{ command, stdin string }

func timerSteps(t *testing.T, res *mockrun.Result) (create, del timerStep, r *mockrun.Resource) {
	t.Helper()
	r = res.Named("command:remote:Command", "postgres-backup-timers")
	require.NotNil(t, r)
	create = timerStep{r.Inputs["create"].StringValue(), r.Inputs["stdin"].StringValue()}
	del = timerStep{r.Inputs["delete"].StringValue(), ""}
	require.NotEmpty(t, create.command)
	require.NotEmpty(t, del.command)
	return create, del, r
}

// run runs a step over SSH as the deploy user (not root: the scripts sudo).
func (s timerStep) run(t *testing.T, h *testhost.Host) {
	t.Helper()
	res := h.SSH(t, h.User, s.command, s.stdin)
	require.Equal(t, 0, res.Code, "%s\nstdout: %s\nstderr: %s", s.command, res.Stdout, res.Stderr)
}

// standInDocker gives the test host the docker.service every real host has.
// The units Require it: without it, a timer that elapses during the test (the
// hourly backup at the turn of the hour) fails to start its service and turns
// "failed" itself, so the test failed a few runs an hour.
func standInDocker(t *testing.T, h *testhost.Host) {
	t.Helper()
	r := h.Exec(t, "printf '[Unit]\\nDescription=stand-in for the Docker Engine of a real host\\n[Service]\\nType=oneshot\\nRemainAfterExit=yes\\nExecStart=/bin/true\\n' > /etc/systemd/system/docker.service && systemctl daemon-reload && systemctl start docker.service")
	require.Equal(t, 0, r.Code, "stand-in docker.service: %s", r.Stderr)
}

// timerStates is is-enabled and is-active of each timer, read as root
// through docker exec, independently of the SSH session.
func timerStates(t *testing.T, h *testhost.Host) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range backupTimers {
		out[u] = h.Exec(t, "s=$(systemctl is-enabled "+u+" 2>/dev/null); echo ${s:-no-unit-file} $(systemctl is-active "+u+")").Stdout
	}
	return out
}

func allTimers(state string) map[string]string {
	out := map[string]string{}
	for _, u := range backupTimers {
		out[u] = state + "\n"
	}
	return out
}

func TestIntegrationBackupTimersOnRealSystemd(t *testing.T) {
	t.Parallel()
	create, del, _ := timerSteps(t, harness.Run(t, harness.Stack(t, "prod")))
	h := testhost.Start(t)
	standInDocker(t, h)

	create.run(t, h)
	assert.Equal(t, allTimers("enabled active"), timerStates(t, h))
	// A job that never ran counts from its installation: its allowance and
	// a last success of now are there for the alert, and no run is invented.
	seeded := h.Exec(t, "cat "+host.TextfileDir+"/aurigraph-backup-postgres-dump.prom").Stdout
	assert.Contains(t, seeded, `aurigraph_backup_max_age_seconds{store="postgres",kind="dump"} 5400`)
	assert.Contains(t, seeded, `aurigraph_backup_last_success_timestamp_seconds{store="postgres",kind="dump"} `)
	assert.NotContains(t, seeded, "aurigraph_backup_last_run_success")
	listed := h.Exec(t, "systemctl list-timers --no-pager --no-legend").Stdout
	for _, s := range []string{"aurigraph-backup-postgres-dump.timer", "aurigraph-backup-postgres-dump.service", "aurigraph-backup-postgres-drill.timer", "aurigraph-backup-postgres-drill.service"} {
		assert.Contains(t, listed, s)
	}
	verify := h.Exec(t, "systemd-analyze verify /etc/systemd/system/aurigraph-backup-postgres-*.timer 2>&1 | grep -v docker.service || true")
	assert.Empty(t, verify.Stdout, "systemd accepts the units (docker.service is absent on the test host)")

	create.run(t, h) // an update runs the same script: idempotent
	assert.Equal(t, allTimers("enabled active"), timerStates(t, h))

	del.run(t, h)
	assert.Equal(t, allTimers("no-unit-file inactive"), timerStates(t, h))
	assert.NotEqual(t, 0, h.Exec(t, "ls /etc/systemd/system/aurigraph-backup-postgres-*").Code, "the unit files are gone")

	del.run(t, h) // deleting twice (a retried destroy) still succeeds
}

// A change to the backup jobs (a new drill schedule) changes the command's triggers, so the
// engine replaces it: create-before-delete unless the resource is
// DeleteBeforeReplace (shared/notes/real-engine.md). Replayed in that order
// on a real systemd, the timers must still be there afterwards.
func TestIntegrationBackupTimersSurviveReplacement(t *testing.T) {
	t.Parallel()
	base := harness.Stack(t, "prod")
	oldCreate, oldDelete, old := timerSteps(t, harness.Run(t, base))
	// A new drill schedule rewrites the drill's timer unit, so the timers
	// step is replaced. (The scripts are the scripts step's: a retention
	// change no longer touches the timers.)
	newCreate, _, next := timerSteps(t, harness.Run(t, base.Set("backupDrill", `{"schedule": "Sat *-*-01..07 02:30:00"}`)))
	require.NotEqual(t, old.Inputs["triggers"], next.Inputs["triggers"], "a new drill schedule replaces the timers command")
	require.Contains(t, newCreate.stdin, "OnCalendar=Sat *-*-01..07 02:30:00")

	h := testhost.Start(t)
	standInDocker(t, h)
	oldCreate.run(t, h)
	require.Equal(t, allTimers("enabled active"), timerStates(t, h))

	if next.DeleteBeforeReplace {
		oldDelete.run(t, h)
		newCreate.run(t, h)
	} else {
		newCreate.run(t, h)
		oldDelete.run(t, h)
	}
	assert.Equal(t, allTimers("enabled active"), timerStates(t, h), "after the replacement the backups are still scheduled")
	assert.Contains(t, h.Exec(t, "systemctl cat aurigraph-backup-postgres-drill.timer").Stdout, "OnCalendar=Sat *-*-01..07 02:30:00", "on the new schedule")
}
