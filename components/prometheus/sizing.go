package prometheus

import (
	"math"
	"time"
)

// DefaultScrapeInterval is how often every target is scraped unless
// ConfigValues.ScrapeInterval says otherwise.
const DefaultScrapeInterval = 15 * time.Second

// Estimates of the active series each kind of target exports, rounded up
// from what these exporters show on hosts of this platform's shape: the
// sizing below is for refusing a stack that cannot work, not for tuning.
const (
	// SeriesPerReplica: Quarkus + Micrometer (JVM, HTTP, gRPC, agroal)
	// and the application's own meters, with its cAdvisor share.
	SeriesPerReplica = 1000
	// SeriesPerHost: node exporter with its textfile metrics (~1,000),
	// dockerd (~300) and cAdvisor's machine and service containers.
	SeriesPerHost = 2000
	// SeriesPerService: an exporter or a service's own /metrics.
	SeriesPerService = 1000
)

// Memory and disk per series, after Prometheus's own storage guide
// (prometheus.io/docs/prometheus/latest/storage, "Operational aspects":
// 1-2 bytes per sample on disk) and the usual head-block figure of about
// 4 KiB per active series, doubled for queries, compaction and WAL replay.
const (
	BytesPerSeries = 8 << 10
	BytesPerSample = 2
	// baseMemoryMB is Prometheus's own footprint with no series.
	baseMemoryMB = 256
)

// Series estimates the active series the configuration v scrapes.
func Series(v ConfigValues) int {
	services := len(v.Services) + len(v.Alertmanagers) + 1 // Prometheus itself
	if v.Vault != "" {
		services++
	}
	return len(v.Replicas)*SeriesPerReplica + len(v.Hosts)*SeriesPerHost + services*SeriesPerService
}

// MemoryMBNeeded is the memory limit series active series need.
func MemoryMBNeeded(series int) int {
	return baseMemoryMB + int(math.Ceil(float64(series)*BytesPerSeries/(1<<20)))
}

// DiskGBNeeded is the TSDB's size for series scraped every interval and
// kept retentionDays: retention × samples per second × bytes per sample.
func DiskGBNeeded(series int, interval time.Duration, retentionDays int) int {
	samplesPerSecond := float64(series) / interval.Seconds()
	bytes := samplesPerSecond * float64(retentionDays) * 86400 * BytesPerSample
	return int(math.Ceil(bytes / (1 << 30)))
}
