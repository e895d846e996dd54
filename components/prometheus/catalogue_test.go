package prometheus

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/promql"
)

func TestTextfileMetricsReadsTypeLines(t *testing.T) {
	script := `#!/bin/sh
# Writes aurigraph_not_declared somewhere in a comment: not a metric.
{
  echo "# HELP aurigraph_restarts_total Restarts."
  echo "# TYPE aurigraph_restarts_total counter"
  print "# TYPE aurigraph_backup_age_seconds gauge"
  printf '# TYPE %s histogram\n' aurigraph_step_seconds
  echo "#TYPE aurigraph_sizes summary"
}`
	assert.Equal(t, []string{
		"aurigraph_backup_age_seconds", "aurigraph_restarts_total",
		"aurigraph_sizes", "aurigraph_sizes_count", "aurigraph_sizes_sum",
	}, TextfileMetrics(script), "a printf'd name is invisible: scripts write the name in the TYPE line")
	assert.Equal(t, []string{"aurigraph_step_seconds_bucket", "aurigraph_step_seconds_count", "aurigraph_step_seconds_sum"},
		TextfileMetrics("# TYPE aurigraph_step_seconds histogram"))
}

func TestTextfileMetricsOfTheHostScripts(t *testing.T) {
	names, err := TextfileMetricsIn(os.DirFS("../../components"))
	require.NoError(t, err)
	// One metric of each script the host preparation installs today.
	for _, n := range []string{"aurigraph_clock_offset_seconds", "container_memory_working_set_bytes",
		"aurigraph_managed_files_drifted", "aurigraph_reboot_required"} {
		assert.Contains(t, names, n)
	}
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func TestCatalogueIsWellFormed(t *testing.T) {
	jobs := map[string]bool{}
	for _, e := range Catalogue {
		assert.False(t, jobs[e.Job], "job %s listed twice", e.Job)
		jobs[e.Job] = true
		assert.NotEmpty(t, e.Source, e.Job)
		seen := map[string]bool{}
		for _, n := range e.Metrics {
			assert.Regexp(t, metricName, n, e.Job)
			assert.False(t, seen[n], "%s: %s listed twice", e.Job, n)
			seen[n] = true
		}
	}
}

// exporters is the full catalogue of this repository for the rendered rules.
func exporters(t *testing.T, rules string) map[string][]string {
	t.Helper()
	ex, err := ExportersWith(os.DirFS("../../components"), rules)
	require.NoError(t, err)
	return ex
}

func TestExportersWith(t *testing.T) {
	rules := "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n"
	ex := exporters(t, rules)
	assert.Equal(t, []string{AnyJob}, ex["job:up:sum"], "a recorded series is stored whatever the job")
	assert.Equal(t, []string{JobNode}, ex["aurigraph_reboot_required"], "node exporter serves the textfile metrics")
	assert.Equal(t, []string{JobCadvisor, JobNode}, ex["container_memory_working_set_bytes"], "cAdvisor, or the textfile script where there is none")
	assert.Equal(t, []string{AppJob}, ex["jvm_gc_pause_seconds_sum"])
}

// TestAlertRulesNameExportedMetrics reads the rendered rules, whatever
// alerts they hold: every expression parses with Prometheus's parser and
// each metric it names is exported by a job its selector accepts.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	out, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	rules, err := ParseRules(out)
	require.NoError(t, err)
	ex := exporters(t, out)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			name := fmt.Sprintf("%s/%s%s", g.Name, r.Alert, r.Record)
			require.NotEmpty(t, r.Expr, name)
			missing, err := promql.Unexported(r.Expr, ex, AnyJob)
			require.NoError(t, err, name)
			assert.Empty(t, missing, "%s names metrics no scrape job exports: add the exporter's names to Catalogue (catalogue.go) or fix the rule", name)
			n++
		}
	}
	require.NotZero(t, n)
	t.Logf("%d rules checked against %d exported names", n, len(ex))
}
