package stacks

import (
	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
)

// DefaultResources are the SPEC's limits and reservations; where the SPEC gives
// none, a sizing that fits the service's role. A stack overrides any of them
// under the `resources` key.
var DefaultResources = map[string]container.Resources{
	App:           {CPUs: 16, CPUsReservation: 8, MemoryMB: 32768, MemoryReservationMB: 16384},
	Postgres:      {CPUs: 4, CPUsReservation: 2, MemoryMB: 8192, MemoryReservationMB: 4096},
	Redis:         {CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048},
	Prometheus:    {CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048},
	Alertmanager:  {CPUs: 0.5, CPUsReservation: 0.1, MemoryMB: 256, MemoryReservationMB: 128},
	Grafana:       {CPUs: 1, CPUsReservation: 0.5, MemoryMB: 1024, MemoryReservationMB: 512},
	Jaeger:        {CPUs: 2, CPUsReservation: 0.5, MemoryMB: 2048, MemoryReservationMB: 1024},
	Nginx:         {CPUs: 2, CPUsReservation: 1, MemoryMB: 1024, MemoryReservationMB: 512},
	Vault:         {CPUs: 1, CPUsReservation: 0.5, MemoryMB: 1024, MemoryReservationMB: 512},
	Elasticsearch: {CPUs: 4, CPUsReservation: 2, MemoryMB: 4096, MemoryReservationMB: 4096},
	Kibana:        {CPUs: 1, CPUsReservation: 0.5, MemoryMB: 2048, MemoryReservationMB: 1024},
	Logstash:      {CPUs: 2, CPUsReservation: 1, MemoryMB: 2048, MemoryReservationMB: 1536},
	Exporter:      {CPUs: 0.5, CPUsReservation: 0.1, MemoryMB: 256, MemoryReservationMB: 64},
	// PgBouncer is one single-threaded process: one core. Each client costs
	// it a few kB of buffers, so 1 GB holds far more than 100,000 clients.
	Pooler: {CPUs: 1, CPUsReservation: 0.5, MemoryMB: 1024, MemoryReservationMB: 256},
}

// Exporter sizes the metrics sidecars (PostgreSQL and Redis exporters).
const Exporter = "exporter"

// Image keys besides the services: the exporters and the pooler.
const (
	ImagePostgresExporter  = "postgresExporter"
	ImageRedisExporter     = "redisExporter"
	ImagePgBouncer         = Pooler
	ImagePgBouncerExporter = "pgbouncerExporter"
)

// RequiredImages are the image keys every stack must pin.
var RequiredImages = append(append([]string{}, Services...), ImagePostgresExporter, ImageRedisExporter, ImagePgBouncer, ImagePgBouncerExporter)

// applyPoolerDefaults: 10,000 clients (more than 160 replicas of both
// slots at a pool of 30) and 100 + 20 server connections, within
// PostgreSQL's default 500. The reserve defaults only when the whole
// object is left out: 0 is a valid reserve.
func applyPoolerDefaults(p *PoolerSettings) {
	if *p == (PoolerSettings{}) {
		p.ReservePoolSize = 20
	}
	if p.MaxClientConn == 0 {
		p.MaxClientConn = 10000
	}
	if p.DefaultPoolSize == 0 {
		p.DefaultPoolSize = 100
	}
}

// applyTimeDefaults: Debian's NTP pool names and a 100 ms bound (the
// reasons are beside host.DefaultTimeServers and host.DefaultMaxClockOffsetMs).
func applyTimeDefaults(t *TimeSync) {
	if t.Servers == nil {
		t.Servers = append([]string{}, host.DefaultTimeServers...)
	}
	if t.MaxOffsetMs == 0 {
		t.MaxOffsetMs = host.DefaultMaxClockOffsetMs
	}
}

// applyAlertingDefaults: the timing of alertmanager.DefaultTiming (the
// Prometheus operator's and dockprom's figures).
func applyAlertingDefaults(a *Alerting) {
	t := alertmanager.Timing{GroupWait: a.GroupWait, GroupInterval: a.GroupInterval,
		RepeatInterval: a.RepeatInterval, CriticalRepeatInterval: a.CriticalRepeatInterval}.WithDefaults()
	a.GroupWait, a.GroupInterval, a.RepeatInterval, a.CriticalRepeatInterval = t.GroupWait, t.GroupInterval, t.RepeatInterval, t.CriticalRepeatInterval
}
