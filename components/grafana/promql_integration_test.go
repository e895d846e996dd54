//go:build integration

package grafana

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type recordingRule struct {
	Record string `yaml:"record"`
	Expr   string `yaml:"expr"`
}

// TestIntegrationDashboardPromQL wraps every PromQL query of every dashboard
// (panel targets, rows' panels and query variables, variables replaced by
// sample values: dashboardQueries) into a recording rule and has the real
// promtool parse them all, so the Go parser of the unit tests and the
// Prometheus that will run them agree.
func TestIntegrationDashboardPromQL(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is required for the integration tests: apt-get install prometheus")

	var rules []recordingRule
	for i, q := range dashboardQueries(t) {
		rules = append(rules, recordingRule{Record: fmt.Sprintf("dashboard:query:%d", i), Expr: q.Expr})
	}
	file := map[string]any{"groups": []map[string]any{{"name": "dashboards", "rules": rules}}}
	raw, err := yaml.Marshal(file)
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "dashboards.rules.yml")
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	require.NoError(t, err, "promtool check rules on the dashboards' PromQL:\n%s", out)
	require.Contains(t, string(out), fmt.Sprintf("SUCCESS: %d rules found", len(rules)))
	t.Logf("%d dashboard queries parsed by promtool", len(rules))
}
