package host

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// Metrics the host's textfile scripts write (node exporter, job "node",
// labelled with the host by the scrape): the alert rules
// (components/prometheus) select on these names.
const (
	// ContainerRestartsMetric{name} is Docker's RestartCount of every
	// container (scripts/container-metrics.sh).
	ContainerRestartsMetric = "aurigraph_container_restarts_total"
)

// Certificate and log pipeline metrics.
const (
	// CertExpiryMetric{path} is the notAfter (Unix seconds) of every
	// certificate file under the host's data path (scripts/cert-metrics.sh).
	CertExpiryMetric = "aurigraph_certificate_expiry_timestamp_seconds"
	// ElasticsearchHealthMetric{color} is 1 for the cluster's colour, 0 for
	// the others (scripts/logging-metrics.sh, where Elasticsearch runs).
	ElasticsearchHealthMetric = "aurigraph_elasticsearch_cluster_health_status"
	// LogstashEventsMetric counts the events Logstash's inputs received
	// (scripts/logging-metrics.sh, where Logstash runs).
	LogstashEventsMetric = "aurigraph_logstash_events_in_total"
)

// The certificate and log pipeline scripts, installed on every host by the
// exporters step beside the container metrics.
const (
	CertMetricsPath     = "/usr/local/lib/aurigraph/cert-metrics"
	CertMetricsUnit     = "aurigraph-cert-metrics"
	CertMetricsInterval = "1h" // certificates live for months; the alerts wait 10m
	// LoggingMetricsInterval: the Elasticsearch alerts wait 5 and 10
	// minutes, Logstash's looks at 10-minute rates.
	LoggingMetricsPath     = "/usr/local/lib/aurigraph/logging-metrics"
	LoggingMetricsUnit     = "aurigraph-logging-metrics"
	LoggingMetricsInterval = "1min"
)

// CertMetricsScript writes CertExpiryMetric for every certificate file
// under the data path.
//
//go:embed scripts/cert-metrics.sh
var CertMetricsScript string

// LoggingMetricsScript writes ElasticsearchHealthMetric and
// LogstashEventsMetric for the containers of LogProbe on its host.
//
//go:embed scripts/logging-metrics.sh
var LoggingMetricsScript string

// LogProbe says how logging-metrics asks the log pipeline on this host
// (through docker exec): elasticsearch and logstash build on host, so the
// stack fills it from their constants. Empty container names: nothing of
// that service on this host.
type LogProbe struct {
	ElasticsearchContainer string
	ElasticsearchURL       string // inside the container, e.g. https://localhost:9200
	ElasticsearchCA        string // CA file inside the container
	PasswordFile           string // the container's file holding the elastic user's password
	LogstashContainer      string
	LogstashAPI            string // inside the container, e.g. http://127.0.0.1:9600
}

// MetricsScript is one textfile script the exporters step installs with its
// service and timer.
type MetricsScript struct {
	Path, Unit             string
	Script, Service, Timer string
}

// probeValueRE: the values reach systemd Environment= lines unquoted.
var probeValueRE = regexp.MustCompile(`^[A-Za-z0-9_./:@-]*$`)

// extraMetrics are the certificate and log pipeline scripts of host a.
func extraMetrics(a HostArgs) ([]MetricsScript, error) {
	p := a.LogProbe
	var env []string
	for _, kv := range [][2]string{
		{"ES_CONTAINER", p.ElasticsearchContainer}, {"ES_URL", p.ElasticsearchURL}, {"ES_CA", p.ElasticsearchCA},
		{"ES_PASSWORD_FILE", p.PasswordFile}, {"LOGSTASH_CONTAINER", p.LogstashContainer}, {"LOGSTASH_API", p.LogstashAPI},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	for _, e := range append([]string{"CERT_ROOT=" + a.DataPath}, env...) {
		if !probeValueRE.MatchString(e[strings.IndexByte(e, '=')+1:]) {
			return nil, fmt.Errorf("metrics setting %q: only letters, digits and _./:@- can reach the unit", e)
		}
	}
	// cert-metrics reads files only; root for the service-owned 0600 ones.
	certs := metricsUnits{
		Measures: "certificate expiry metrics", Script: CertMetricsPath, Env: []string{"CERT_ROOT=" + a.DataPath},
		Every: CertMetricsInterval, BootDelay: "2min",
	}
	// logging-metrics needs the Docker socket.
	logging := metricsUnits{
		Measures: "log pipeline metrics (Elasticsearch health, Logstash events)", Script: LoggingMetricsPath, After: "docker.service",
		Env: env, Every: LoggingMetricsInterval, BootDelay: "2min",
	}
	return []MetricsScript{
		{Path: CertMetricsPath, Unit: CertMetricsUnit, Script: CertMetricsScript, Service: certs.service(), Timer: certs.timer()},
		{Path: LoggingMetricsPath, Unit: LoggingMetricsUnit, Script: LoggingMetricsScript, Service: logging.service(), Timer: logging.timer()},
	}, nil
}
