package prometheus

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/alertmanager"
)

// sampleValues is a small deployment: n application replicas on two hosts.
func sampleValues(n int) ConfigValues {
	v := ConfigValues{
		Environment: "test",
		RulesFile:   "/etc/prometheus/alerts.yml",
		VaultCAFile: "/etc/prometheus/vault-ca.pem",
		Vault:       "vault:8200",
		Services:    []ServiceTarget{{Job: "postgres", Address: "postgres-exporter:9187"}, {Job: "redis", Address: "redis-exporter:9121"}},
		Hosts:       []HostTarget{{Name: "h1", Address: "10.0.0.1"}, {Name: "h2", Address: "10.0.0.2"}},
	}
	for i := 1; i <= n; i++ {
		v.Replicas = append(v.Replicas, AppTarget{Name: fmt.Sprintf("aurigraph-v11-blue-slim-%d", i), Tier: "slim", Slot: "blue", Group: 1, Host: fmt.Sprintf("h%d", i%2+1)})
	}
	return v
}

// parsedConfig is the part of prometheus.yml the tests read back.
type parsedConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string              `yaml:"job_name"`
		MetricsPath   string              `yaml:"metrics_path"`
		Scheme        string              `yaml:"scheme"`
		Params        map[string][]string `yaml:"params"`
		TLSConfig     map[string]string   `yaml:"tls_config"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func parse(t *testing.T, out string) parsedConfig {
	t.Helper()
	var p parsedConfig
	require.NoError(t, yaml.Unmarshal([]byte(out), &p), out)
	return p
}

// Targets returns job → targets of a rendered prometheus.yml.
func Targets(t *testing.T, out string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, sc := range parse(t, out).ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			got[sc.JobName] = append(got[sc.JobName], st.Targets...)
		}
	}
	return got
}

func TestRenderConfigScrapesEveryReplicaWithLabels(t *testing.T) {
	v := sampleValues(3)
	out, err := RenderConfig(v)
	require.NoError(t, err)
	p := parse(t, out)
	var app bool
	for _, sc := range p.ScrapeConfigs {
		if sc.JobName != AppJob {
			continue
		}
		app = true
		assert.Equal(t, "/q/metrics", sc.MetricsPath)
		require.Len(t, sc.StaticConfigs, 3)
		for i, st := range sc.StaticConfigs {
			r := v.Replicas[i]
			assert.Equal(t, []string{r.Name + ":9003"}, st.Targets)
			assert.Equal(t, map[string]string{"tier": r.Tier, "slot": r.Slot, "group": "1", "host": r.Host}, st.Labels)
		}
	}
	assert.True(t, app, "no application job")
	assert.Equal(t, []string{"/etc/prometheus/alerts.yml"}, p.RuleFiles)
}

func TestRenderConfigScaleUpAddsTargets(t *testing.T) {
	small, err := RenderConfig(sampleValues(3))
	require.NoError(t, err)
	big, err := RenderConfig(sampleValues(5))
	require.NoError(t, err)
	assert.Len(t, Targets(t, small)[AppJob], 3)
	assert.Len(t, Targets(t, big)[AppJob], 5)
	assert.Subset(t, Targets(t, big)[AppJob], Targets(t, small)[AppJob])
}

func TestRenderConfigHostsServicesAndVault(t *testing.T) {
	out, err := RenderConfig(sampleValues(1))
	require.NoError(t, err)
	tg := Targets(t, out)
	assert.Equal(t, []string{"10.0.0.1:9100", "10.0.0.2:9100"}, tg["node"])
	assert.Equal(t, []string{"10.0.0.1:9323", "10.0.0.2:9323"}, tg["docker"])
	assert.Equal(t, []string{"10.0.0.1:9280", "10.0.0.2:9280"}, tg["cadvisor"])
	assert.Equal(t, []string{"postgres-exporter:9187"}, tg["postgres"])
	assert.Equal(t, []string{"localhost:9090"}, tg["prometheus"])
	for _, sc := range parse(t, out).ScrapeConfigs {
		if sc.JobName == "vault" {
			assert.Equal(t, "https", sc.Scheme)
			assert.Equal(t, "/v1/sys/metrics", sc.MetricsPath)
			assert.Equal(t, []string{"prometheus"}, sc.Params["format"])
			assert.Equal(t, "/etc/prometheus/vault-ca.pem", sc.TLSConfig["ca_file"])
		}
	}
	assert.Equal(t, []string{"vault:8200"}, tg["vault"])
	for _, absent := range []string{"elasticsearch", "logstash", "kibana"} {
		assert.NotContains(t, tg, absent, "no invented targets")
	}
}

func TestRenderConfigIsDeterministic(t *testing.T) {
	a, err := RenderConfig(sampleValues(7))
	require.NoError(t, err)
	b, err := RenderConfig(sampleValues(7))
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestRenderConfigRefusesMissingPaths(t *testing.T) {
	v := sampleValues(1)
	v.RulesFile = ""
	_, err := RenderConfig(v)
	assert.Error(t, err)
	v = sampleValues(1)
	v.VaultCAFile = ""
	_, err = RenderConfig(v)
	assert.Error(t, err)
}

// alertNames are the alerts a rendered rules file defines, in file order: the
// integration tests expect promtool to find exactly these.
func alertNames(t *testing.T, rules string) []string {
	t.Helper()
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(rules), &rf))
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	return names
}

func TestRenderRules(t *testing.T) {
	out, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &rf))
	seen := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = r.Labels["severity"]
			assert.NotEmpty(t, r.For, r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
			assert.NotEmpty(t, r.Annotations["description"], r.Alert)
			if r.Alert == "DBPoolExhausted" {
				assert.Contains(t, r.Expr, "/ 30")
			}
			if r.Alert == "BackupTooOld" {
				assert.Contains(t, r.Expr, `> max by (host, store, kind) (aurigraph_backup_max_age_seconds{job="node",kind!="drill"})`,
					"each job's own allowance, from its metrics")
			}
			if r.Alert == "DiskWillFillIn4Hours" {
				assert.Contains(t, r.Expr, `fstype!~"tmpfs|ramfs|overlay|`)
			}
			if r.Alert == "ClockOffsetHigh" {
				assert.Contains(t, r.Expr, "> 0.1\n", "host.DefaultMaxClockOffsetMs when unset")
			}
		}
	}
	assert.Equal(t, map[string]string{
		"HighErrorRateCritical": "critical", "HighLatencyP99Critical": "critical", "DBPoolExhausted": "critical",
		"ContainerMemoryNearLimit": "critical", "ApplicationUnavailable": "critical", "AvailabilityErrorBudgetBurn": "critical",
		"HighErrorRateWarning": "warning", "HighLatencyP95Warning": "warning", "DBConnectionsHigh": "warning", "PgBouncerClientsWaiting": "warning",
		"ConsensusLeaderElectionsHigh": "warning", "TargetDown": "warning", "VaultSealed": "critical", "AvailabilityBelowSLO": "warning",
		"ClockOffsetHigh": "critical", "ClockNotSynchronised": "warning",
		"ManagedFilesDrifted": "warning", "DriftCheckNotRunning": "warning",
		"HostRebootRequired": "warning",
		"HostDown":           "critical", "DiskWillFillIn4Hours": "warning", "ContainerRestartLoop": "warning",
		"CertificateExpiringSoon": "warning", "CertificateExpiringCritical": "critical",
		"BackupTooOld": "critical", "BackupFailed": "warning", "RestoreDrillFailed": "warning", "RestoreDrillOverdue": "warning",
		"RestoreDrillSlow": "warning", "RestoreDrillBackupStale": "warning",
		"ElasticsearchClusterNotGreen": "warning", "ElasticsearchClusterRed": "critical", "LogstashNotReceiving": "warning",
		"ContainerRestartedByWatchdog": "warning", "WatchdogGaveUp": "critical",
	}, seen)
	assert.False(t, strings.Contains(out, "<no value>"))
	_, err = RenderRules(RulesValues{})
	assert.Error(t, err)
}

func TestClockOffsetAlertFollowsTheConfiguredBound(t *testing.T) {
	out, err := RenderRules(RulesValues{PoolMaxSize: 30, MaxClockOffsetMs: 250})
	require.NoError(t, err)
	assert.Contains(t, out, "max by (host) (abs(aurigraph_clock_offset_seconds{job=\"node\"}))\n            > 0.25\n")
	assert.Contains(t, out, "off by more than 250 ms")
	_, err = RenderRules(RulesValues{PoolMaxSize: 30, MaxClockOffsetMs: -1})
	assert.Error(t, err)
}

// The pairs Alertmanager inhibits (a critical silences the warning of the
// same condition) share the label it keys on: every condition has exactly
// one critical and one warning, and the error-rate pair is one of them.
func TestWarningCriticalPairsShareACondition(t *testing.T) {
	out, err := RenderRules(RulesValues{PoolMaxSize: 20})
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &doc))
	bySeverity := map[string]map[string][]string{} // condition → severity → alerts
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			c := r.Labels[alertmanager.ConditionLabel]
			if c == "" {
				continue
			}
			if bySeverity[c] == nil {
				bySeverity[c] = map[string][]string{}
			}
			sev := r.Labels[alertmanager.SeverityLabel]
			bySeverity[c][sev] = append(bySeverity[c][sev], r.Alert)
		}
	}
	require.Contains(t, bySeverity, "high_error_rate")
	assert.Equal(t, map[string][]string{"critical": {"HighErrorRateCritical"}, "warning": {"HighErrorRateWarning"}}, bySeverity["high_error_rate"])
	for c, sev := range bySeverity {
		assert.Len(t, sev["critical"], 1, "condition %s: one critical", c)
		assert.Len(t, sev["warning"], 1, "condition %s: one warning", c)
		assert.Len(t, sev, 2, "condition %s: critical and warning only", c)
	}
}

func TestTestForReplacesEveryForAndNothingElse(t *testing.T) {
	asWritten, err := RenderRules(RulesValues{PoolMaxSize: 20})
	require.NoError(t, err)
	fast, err := RenderRules(RulesValues{PoolMaxSize: 20, TestFor: "1s"})
	require.NoError(t, err)
	fors := regexp.MustCompile(`(?m)^\s+for: (\S+)$`)
	require.NotEmpty(t, fors.FindAllString(asWritten, -1))
	assert.Len(t, fors.FindAllString(fast, -1), len(fors.FindAllString(asWritten, -1)))
	for _, m := range fors.FindAllStringSubmatch(fast, -1) {
		assert.Equal(t, "1s", m[1])
	}
	assert.Equal(t, fors.ReplaceAllString(asWritten, ""), fors.ReplaceAllString(fast, ""), "only the for lines differ")
	assert.Equal(t, alertNames(t, asWritten), alertNames(t, fast))
	_, err = RenderRules(RulesValues{PoolMaxSize: 20, TestFor: "1s\n        labels: {}"})
	assert.Error(t, err)
}

func TestScrapeTimeoutDefaultsTo10sAndFollowsTheValue(t *testing.T) {
	out, err := RenderConfig(sampleValues(1))
	require.NoError(t, err)
	assert.Contains(t, out, "\n  scrape_timeout: 10s\n")
	v := sampleValues(1)
	v.ScrapeInterval, v.ScrapeTimeout = "1s", "1s" // Prometheus refuses a timeout above the interval
	out, err = RenderConfig(v)
	require.NoError(t, err)
	assert.Contains(t, out, "\n  scrape_interval: 1s\n  scrape_timeout: 1s\n")
}
