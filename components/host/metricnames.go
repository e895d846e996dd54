package host

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
