package prometheus

import (
	_ "embed"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/postgres"
)

const (
	// AppJob is the scrape job of the application replicas; rules and
	// dashboards select on it.
	AppJob = "aurigraph-v11"
)

// AppTarget is one application replica to scrape.
type AppTarget struct {
	Name  string // container / DNS name
	Tier  string
	Slot  string
	Group int
	Host  string
}

// HostTarget is one machine whose exporters are scraped.
type HostTarget struct {
	Name    string
	Address string // cluster address
}

// ServiceTarget is a plain-HTTP service endpoint scraped on /metrics unless
// MetricsPath says otherwise.
type ServiceTarget struct {
	Job         string
	Address     string // host:port on the cluster network
	MetricsPath string
}

// ConfigValues is everything prometheus.yml depends on, as plain values.
type ConfigValues struct {
	Environment        string
	ScrapeInterval     string
	ScrapeTimeout      string // at most ScrapeInterval; default 10s
	EvaluationInterval string
	RulesFile          string // path Prometheus reads the alert rules from
	VaultCAFile        string // path of the CA that signed Vault's certificate
	Vault              string // Vault address (host:port); empty: no Vault job
	// Alertmanagers receive the alerts (host:port each) and are scraped.
	// Empty: no alerting block (a renderer test of the scrape part alone).
	Alertmanagers []string
	Replicas      []AppTarget
	Services      []ServiceTarget
	Hosts         []HostTarget
}

// RulesValues is what the alert rules depend on.
// The drill's bounds (RestoreDrillSlow, RestoreDrillBackupStale): the
// SPEC's recovery time objective for a corrupted database, and how old the
// dump the drill restores from the off-host copy may be: the dumps are
// hourly and the copy runs every 5 minutes, so one missed dump plus the
// copy's delay.
const (
	DrillRTO          = 15 * time.Minute
	DrillMaxBackupAge = 2 * time.Hour
)

type RulesValues struct {
	// PoolMaxSize is the application's JDBC pool maximum: Micrometer's
	// agroal gauges carry no maximum, so utilisation divides by this.
	PoolMaxSize int
	// MaxClockOffsetMs is aurigraph:time.maxOffsetMs: ClockOffsetHigh
	// fires above it. 0 means host.DefaultMaxClockOffsetMs.
	MaxClockOffsetMs int
	// TestFor, test-only, replaces every rule's `for` duration, so an
	// end-to-end test sees an alert fire within seconds with the rules
	// otherwise as deployed. Empty (always, in a deployment): as written.
	TestFor string
}

type hostJob struct {
	Name    string
	Port    int
	Comment string
}

var (
	//go:embed prometheus.yml.tmpl
	configTemplate string
	//go:embed alerts.yml.tmpl
	rulesTemplate string

	funcs = template.FuncMap{
		// q quotes a value for YAML (a JSON-style double-quoted scalar).
		"q": strconv.Quote,
		// host is the host of a host:port address: the name Prometheus
		// verifies in the target's certificate.
		"host": func(hostPort string) (string, error) {
			h, _, err := net.SplitHostPort(hostPort)
			return h, err
		},
		"hostJobs": func() []hostJob {
			return []hostJob{
				// The ports host preparation binds and opens to the monitoring host.
				{JobNode, host.NodeExporterPort, "Node exporter"},
				{JobDocker, host.DockerMetricsPort, "Docker daemon metrics"},
				{JobCadvisor, host.CadvisorPort, "cAdvisor (per-container CPU, memory, limits)"},
			}
		},
	}
	configTmpl = template.Must(template.New("prometheus.yml").Funcs(funcs).Option("missingkey=error").Parse(configTemplate))
	rulesTmpl  = template.Must(template.New("alerts.yml").Funcs(template.FuncMap{"runbook": func(alert string) string { return strconv.Quote(RunbookURL(alert)) }}).Option("missingkey=error").Parse(rulesTemplate))
)

// RenderConfig renders prometheus.yml.
func RenderConfig(v ConfigValues) (string, error) {
	if v.RulesFile == "" {
		return "", fmt.Errorf("prometheus config: the rules file path is required")
	}
	if v.Vault != "" && v.VaultCAFile == "" {
		return "", fmt.Errorf("prometheus config: scraping Vault needs its CA file")
	}
	if v.ScrapeInterval == "" {
		v.ScrapeInterval = DefaultScrapeInterval.String()
	}
	if v.ScrapeTimeout == "" {
		v.ScrapeTimeout = "10s"
	}
	if v.EvaluationInterval == "" {
		v.EvaluationInterval = "15s"
	}
	data := struct {
		ConfigValues
		AppJob         string
		AppMetricsPort int
		JobPrometheus  string
		JobVault       string
	}{v, AppJob, app.RESTPort, JobPrometheus, JobVault} // the REST port serves /q/metrics
	var b strings.Builder
	if err := configTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// RenderRules renders the alert rules file.
func RenderRules(v RulesValues) (string, error) {
	if v.PoolMaxSize <= 0 {
		return "", fmt.Errorf("prometheus rules: the DB pool max size must be positive")
	}
	clock := v.MaxClockOffsetMs
	if clock == 0 {
		clock = host.DefaultMaxClockOffsetMs
	}
	if clock < 0 || clock > host.MaxClockOffsetBoundMs {
		return "", fmt.Errorf("prometheus rules: the clock offset bound must be 1-%d ms, got %d", host.MaxClockOffsetBoundMs, clock)
	}
	data := struct {
		RulesValues
		AppJob             string
		ClockOffsetMs      int
		ClockOffsetSeconds string
		// FilesystemFilter leaves out the file systems that cannot fill the
		// host's disks: memory-backed ones and containers' overlays.
		FilesystemFilter                         string
		RestartsMetric, CertExpiryMetric         string
		ESHealthMetric, LogstashEventsMetric     string
		BackupSuccessMetric, BackupRunMetric     string
		BackupDurationMetric, BackupMaxAgeMetric string
		DrillKind                                string
		// The off-host drill's metrics (components/postgres) and bounds, in seconds.
		DrillTimeToUsableMetric, DrillBackupAgeMetric string
		DrillRTOSeconds, DrillMaxBackupAgeSeconds     int
		// The watchdog's metrics, named by components/host.
		WatchdogRestarts, WatchdogGaveUp string
	}{
		RulesValues: v, AppJob: AppJob, ClockOffsetMs: clock, ClockOffsetSeconds: strconv.FormatFloat(float64(clock)/1000, 'f', -1, 64),
		FilesystemFilter: `fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs"`,
		RestartsMetric:   host.ContainerRestartsMetric, CertExpiryMetric: host.CertExpiryMetric,
		ESHealthMetric: host.ElasticsearchHealthMetric, LogstashEventsMetric: host.LogstashEventsMetric,
		BackupSuccessMetric: backupjob.SuccessMetric, BackupRunMetric: backupjob.RunMetric,
		BackupDurationMetric: backupjob.DurationMetric, BackupMaxAgeMetric: backupjob.MaxAgeMetric, DrillKind: backupjob.DrillKind,
		DrillTimeToUsableMetric: postgres.TimeToUsableMetric, DrillBackupAgeMetric: postgres.BackupAgeMetric,
		DrillRTOSeconds: int(DrillRTO.Seconds()), DrillMaxBackupAgeSeconds: int(DrillMaxBackupAge.Seconds()),
		WatchdogRestarts: host.WatchdogRestartsMetric, WatchdogGaveUp: host.WatchdogGaveUpMetric,
	}
	var b strings.Builder
	if err := rulesTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	if v.TestFor != "" {
		if !testForRE.MatchString(v.TestFor) {
			return "", fmt.Errorf("prometheus rules: test duration %q is not a duration such as 1s", v.TestFor)
		}
		return forLine.ReplaceAllString(b.String(), "${1}"+v.TestFor), nil
	}
	return b.String(), nil
}

var (
	forLine   = regexp.MustCompile(`(?m)^(\s+for: )\S+$`)
	testForRE = regexp.MustCompile(`^[0-9]+(ms|s|m)$`)
)
