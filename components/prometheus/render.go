package prometheus

import (
	_ "embed"
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/host"
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
	EvaluationInterval string
	RulesFile          string // path Prometheus reads the alert rules from
	VaultCAFile        string // path of the CA that signed Vault's certificate
	Vault              string // Vault address (host:port); empty: no Vault job
	Replicas           []AppTarget
	Services           []ServiceTarget
	Hosts              []HostTarget
}

// RulesValues is what the alert rules depend on.
type RulesValues struct {
	// PoolMaxSize is the application's JDBC pool maximum: Micrometer's
	// agroal gauges carry no maximum, so utilisation divides by this.
	PoolMaxSize int
	// MaxClockOffsetMs is aurigraph:time.maxOffsetMs: ClockOffsetHigh
	// fires above it. 0 means host.DefaultMaxClockOffsetMs.
	MaxClockOffsetMs int
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
				{"node", host.NodeExporterPort, "Node exporter"},
				{"docker", host.DockerMetricsPort, "Docker daemon metrics"},
				{"cadvisor", host.CadvisorPort, "cAdvisor (per-container CPU, memory, limits)"},
			}
		},
	}
	configTmpl = template.Must(template.New("prometheus.yml").Funcs(funcs).Option("missingkey=error").Parse(configTemplate))
	rulesTmpl  = template.Must(template.New("alerts.yml").Option("missingkey=error").Parse(rulesTemplate))
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
		v.ScrapeInterval = "15s"
	}
	if v.EvaluationInterval == "" {
		v.EvaluationInterval = "15s"
	}
	data := struct {
		ConfigValues
		AppJob         string
		AppMetricsPort int
	}{v, AppJob, app.RESTPort} // the REST port serves /q/metrics
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
		// The watchdog's metrics, named by components/host.
		WatchdogRestarts, WatchdogGaveUp string
	}{v, AppJob, clock, strconv.FormatFloat(float64(clock)/1000, 'f', -1, 64), host.WatchdogRestartsMetric, host.WatchdogGaveUpMetric}
	var b strings.Builder
	if err := rulesTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
