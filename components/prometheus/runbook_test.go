package prometheus

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// renderedAlert is one rule of the rendered rules file, as the runbook and
// case checks read it.
type renderedAlert struct {
	Alert       string            `yaml:"alert"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func renderedAlerts(t *testing.T) []renderedAlert {
	t.Helper()
	out, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	var rf struct {
		Groups []struct {
			Rules []renderedAlert `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &rf))
	var all []renderedAlert
	for _, g := range rf.Groups {
		all = append(all, g.Rules...)
	}
	require.NotEmpty(t, all)
	return all
}

// ruleCases reads a promtool test file: for each alert name, whether some
// case expects it to fire (non-empty exp_alerts) and whether some case
// expects it silent (empty exp_alerts).
func ruleCases(t *testing.T, path string) (fires, quiet map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	require.NoError(t, yaml.Unmarshal(b, &tf))
	fires, quiet = map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	return fires, quiet
}

// TestEveryAlertHasRunbookAndCases: an operator paged by any alert finds
// its runbook page through runbook_url, and promtool proves the alert both
// fires at its threshold and stays silent below it (testdata/alerts_test.yml,
// run by TestIntegrationPromtoolTestRules).
func TestEveryAlertHasRunbookAndCases(t *testing.T) {
	root := filepath.Join("..", "..")
	fires, quiet := ruleCases(t, filepath.Join("testdata", "alerts_test.yml"))
	index, err := os.ReadFile(filepath.Join(root, RunbookDir, "README.md"))
	require.NoError(t, err, "the runbook index")
	names := map[string]bool{}
	for _, a := range renderedAlerts(t) {
		names[a.Alert] = true
		assert.Equal(t, RunbookURL(a.Alert), a.Annotations["runbook_url"], "%s: runbook_url", a.Alert)
		assert.Contains(t, []string{"critical", "warning"}, a.Labels["severity"], a.Alert)
		page, err := os.ReadFile(filepath.Join(root, RunbookDir, a.Alert+".md"))
		if assert.NoError(t, err, "%s: no runbook page %s/%s.md", a.Alert, RunbookDir, a.Alert) {
			assert.True(t, strings.HasPrefix(string(page), "# "+a.Alert+"\n"), "%s: the page's title is the alert's name", a.Alert)
		}
		assert.Contains(t, string(index), "("+a.Alert+".md)", "%s: not listed in %s/README.md", a.Alert, RunbookDir)
		assert.True(t, fires[a.Alert], "%s: no case in testdata/alerts_test.yml where it fires (non-empty exp_alerts)", a.Alert)
		assert.True(t, quiet[a.Alert], "%s: no case in testdata/alerts_test.yml where it stays silent (exp_alerts: [])", a.Alert)
	}
	// No case or page for an alert that no longer exists.
	for n := range fires {
		assert.True(t, names[n], "testdata/alerts_test.yml tests %s, which no rule defines", n)
	}
	for n := range quiet {
		assert.True(t, names[n], "testdata/alerts_test.yml tests %s, which no rule defines", n)
	}
	// Pages that are procedures, not alerts: the index, the release and restore runbooks
	// (restore-offsite-s3: from the bucket of backupObjectStore).
	procedures := map[string]bool{"README": true, "release": true, "restore": true, "restore-offsite-s3": true}
	pages, err := filepath.Glob(filepath.Join(root, RunbookDir, "*.md"))
	require.NoError(t, err)
	var orphans []string
	for _, p := range pages {
		n := strings.TrimSuffix(filepath.Base(p), ".md")
		if !procedures[n] && !names[n] {
			orphans = append(orphans, n)
		}
	}
	sort.Strings(orphans)
	assert.Empty(t, orphans, "runbook pages for alerts no rule defines")
}

// A warning/critical pair of one condition shares its condition label, so
// Alertmanager's inhibition can hold the warning back while the critical
// fires; a condition label on a lone alert would mean a missing partner.
func TestConditionLabelsPairWarningWithCritical(t *testing.T) {
	bySeverity := map[string]map[string]bool{}
	for _, a := range renderedAlerts(t) {
		c := a.Labels["condition"]
		if c == "" {
			continue
		}
		if bySeverity[c] == nil {
			bySeverity[c] = map[string]bool{}
		}
		bySeverity[c][a.Labels["severity"]] = true
	}
	for c, s := range bySeverity {
		assert.Equal(t, map[string]bool{"warning": true, "critical": true}, s, "condition %s", c)
	}
	assert.Contains(t, bySeverity, "certificate_expiry")
	assert.Contains(t, bySeverity, "elasticsearch_health")
}

func TestRunbookURL(t *testing.T) {
	assert.Equal(t, "https://github.com/aurigraph/infra/blob/main/docs/runbooks/HostDown.md", RunbookURL("HostDown"))
}
