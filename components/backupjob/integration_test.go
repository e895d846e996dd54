//go:build integration

package backupjob

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

// The installer and the metrics functions pass shellcheck, and the file a
// run writes passes promtool's metrics lint (what node exporter accepts).
func TestIntegrationTimersAndMetricsPassTheirLinters(t *testing.T) {
	script, err := RenderTimers(TimerValues{Jobs: []Job{dumpJob, {Store: "vault", Kind: "snapshot", Description: "Vault snapshot",
		Command: "/bin/bash /srv/vault/bin/snapshot.sh", Every: "hourly", MaxAge: 2 * time.Hour}}, Packages: []string{"restic"}})
	require.NoError(t, err)
	scripttest.Shellcheck(t, "bash", "timers.sh", script)
	scripttest.Shellcheck(t, "bash", "record.sh", "#!/bin/bash\n"+RecordRun)

	scripttest.Need(t, "promtool")
	dir := t.TempDir()
	runRecord(t, dir, `record_run postgres dump 5400 "$(date +%s)" 0`)
	f, err := os.Open(filepath.Join(dir, "aurigraph-backup-postgres-dump.prom"))
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics: %s", out)
}
