//go:build integration

package grafana

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// grafanaVars are Grafana's built-in interval variables, replaced by a
// value Prometheus parses; any other $variable is a test failure.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

type recordingRule struct {
	Record string `yaml:"record"`
	Expr   string `yaml:"expr"`
}

// TestIntegrationDashboardPromQL wraps every panel query of every dashboard
// into a recording rule and has the real promtool parse them all.
func TestIntegrationDashboardPromQL(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is required for the integration tests: apt-get install prometheus")

	var rules []recordingRule
	for _, db := range loadDashboards(t) {
		for _, p := range db.Panels {
			for _, tg := range p.Targets {
				expr := grafanaVars.Replace(tg.Expr)
				require.NotContains(t, expr, "$", "%s / %s: unknown variable in %q", db.Title, p.Title, tg.Expr)
				rules = append(rules, recordingRule{
					Record: fmt.Sprintf("dashboard:%s:panel%d_%s", strings.ReplaceAll(db.UID, "-", "_"), p.ID, tg.RefID),
					Expr:   expr,
				})
			}
		}
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
	t.Logf("%d panel queries parsed by promtool", len(rules))
}
