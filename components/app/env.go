package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/container"
)

// Ports of every replica, reachable on the network only (the gateway and
// Prometheus reach them by name; nothing is published on the host).
const (
	RESTPort = 9003
	GRPCPort = 9004
)

// UID is the image's non-root user; the replica directories belong to it.
const UID = 1001

// Container paths of the two volumes.
const (
	DataMount = "/app/data"
	LogsMount = "/app/logs"
)

// Labels every replica carries, so operators, Prometheus and Logstash can
// tell tiers, slots and rolling groups apart.
const (
	TierLabel  = "com.aurigraph.tier"
	SlotLabel  = "com.aurigraph.slot"
	GroupLabel = "com.aurigraph.group"
	// Probe labels record the SPEC's liveness/readiness/startup probes:
	// Docker runs a single health check, orchestrators and the post-switch
	// readiness check read these.
	LivenessLabel  = "com.aurigraph.probe.liveness"
	ReadinessLabel = "com.aurigraph.probe.readiness"
	StartupLabel   = "com.aurigraph.probe.startup"
)

// Probe is one HTTP probe of the application.
type Probe struct {
	Path        string
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
	StartPeriod time.Duration
}

// String renders the probe for a label, e.g. "GET :9003/q/health/live interval=30s …".
func (p Probe) String() string {
	s := fmt.Sprintf("GET :%d%s interval=%s timeout=%s retries=%d", RESTPort, p.Path, p.Interval, p.Timeout, p.Retries)
	if p.StartPeriod > 0 {
		s += fmt.Sprintf(" start-period=%s", p.StartPeriod)
	}
	return s
}

// The SPEC's probes.

// ReadinessFailuresMetric{replica,slot} counts each replica's consecutive
// failed readiness probes, as the gateway's readiness gate makes them
// (components/gateway) and node exporter serves them: the application
// exports no readiness metric of its own. Readiness.Retries of them make a
// replica unready; the release analysis reads the new slot's.
const ReadinessFailuresMetric = "aurigraph_readiness_failures"

var (
	Liveness  = Probe{Path: "/q/health/live", Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 2, StartPeriod: 60 * time.Second}
	Readiness = Probe{Path: "/q/health/ready", Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 60 * time.Second}
	Startup   = Probe{Path: "/q/health/startup", Interval: 5 * time.Second, Timeout: 5 * time.Second, Retries: 30}
)

// StartupBudget is the longest start the SPEC's startup probe allows:
// 30 checks 5 s apart, 150 s.
func StartupBudget() time.Duration { return time.Duration(Startup.Retries) * Startup.Interval }

// HealthCheck is the Docker health check: the SPEC's three probes as Docker
// can enforce them with its single check (exec form, no shell in the image).
//   - Liveness: GET /q/health/live every 30 s, timeout 5 s, unhealthy after 2
//     failures in a row. Docker only reports it; the watchdog on every host
//     (components/host, step watchdog) restarts a container it reports
//     unhealthy. Readiness is deliberately not the health check: a replica
//     that is alive but not ready (its database is away) must leave the
//     gateway's rotation (components/gateway's readiness gate), not be
//     restarted with every other replica at once.
//   - Startup: the start period is the startup probe's budget (150 s):
//     failures during it do not count, and the first success ends it, so a
//     slow start is never taken for a dead replica; the rolling update waits
//     for that success (WaitHealthy). Docker 25's start interval would probe
//     every 5 s inside it, but the hosts run Docker 20.10+ (host.MinDocker),
//     which does not store it: the provider would see a difference on every
//     refresh.
func HealthCheck() container.Health {
	return container.Health{
		Test:        []string{"CMD", "curl", "-fsS", "-o", "/dev/null", fmt.Sprintf("http://localhost:%d%s", RESTPort, Liveness.Path)},
		Interval:    Liveness.Interval,
		Timeout:     Liveness.Timeout,
		StartPeriod: StartupBudget(),
		Retries:     Liveness.Retries,
	}
}

// Settings are the per-stack application values (SPEC production values by default).
type Settings struct {
	TargetTPS         int
	BatchSize         int
	ParallelThreads   int
	DatasourceMaxSize int
	DatasourceMinSize int
}

// Endpoints are the other services the application talks to, by network
// name; each comes from the component that owns it (see stacks/wire_app.go).
type Endpoints struct {
	PostgresJDBC string // jdbc:postgresql://pgbouncer:6432/aurigraph: through the pooler
	PostgresUser string // aurigraph_app: the role that owns the application's schema
	RedisHosts   string // redis://redis:6379
	RedisUser    string // aurigraph: the Redis ACL user of the application's key prefixes
	// OTLP and JaegerGRPC are the Jaeger component's address outputs
	// (OTLPEndpoint, CollectorGRPCEndpoint): through them every replica
	// waits for Jaeger's container.
	OTLP       pulumi.StringInput // http://jaeger:4317 (OpenTelemetry gRPC)
	JaegerGRPC pulumi.StringInput // http://jaeger:14250 (Jaeger-native gRPC collector)
}

// Tracing environment variables: Quarkus's OpenTelemetry exporter (OTLP
// over gRPC, its default protocol) and the OpenTelemetry SDK's Jaeger one.
const (
	EnvOTLPEndpoint       = "QUARKUS_OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "QUARKUS_OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvJaegerEndpoint     = "OTEL_EXPORTER_JAEGER_ENDPOINT"
)

// OutputEnvironment are the variables whose values are other components'
// outputs: the tracing endpoints.
func OutputEnvironment(e Endpoints) map[string]pulumi.StringInput {
	return map[string]pulumi.StringInput{
		EnvOTLPEndpoint:       e.OTLP,
		EnvOTLPTracesEndpoint: e.OTLP,
		EnvJaegerEndpoint:     e.JaegerGRPC,
	}
}

// EnvDeploymentSlot is the SPEC's name for the replica's slot, blue or green.
const EnvDeploymentSlot = "DEPLOYMENT_SLOT"

// The passwords reach Quarkus in a secret properties file, named by
// QUARKUS_CONFIG_LOCATIONS (a runtime property): never in the environment.
const (
	EnvConfigLocations = "QUARKUS_CONFIG_LOCATIONS"
	SecretsFile        = "application.properties"
	PropPostgresPass   = "quarkus.datasource.password"
	PropRedisPass      = "quarkus.redis.password"
	// secretsOrdinal ranks the file above every other properties file
	// (application.properties in the classpath is 250, in $PWD/config 260)
	// and below the environment (300).
	secretsOrdinal = 270
)

// RenderSecrets is the secret properties file: each value escaped as the
// properties format reads it back (backslash, line breaks, a leading space).
func RenderSecrets(postgresPassword, redisPassword string) string {
	esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\f", `\f`)
	value := func(v string) string {
		v = esc.Replace(v)
		if strings.HasPrefix(v, " ") {
			v = `\` + v
		}
		return v
	}
	return fmt.Sprintf("config_ordinal=%d\n%s=%s\n%s=%s\n", secretsOrdinal,
		PropPostgresPass, value(postgresPassword), PropRedisPass, value(redisPassword))
}

// Environment is a replica's plain environment. It holds nothing that
// depends on an image, so a tier's image change never touches another
// tier's containers; passwords are added as secret values by the component.
func Environment(s Settings, e Endpoints, r Replica) map[string]string {
	itoa := func(i int) string { return fmt.Sprint(i) }
	env := map[string]string{
		// Node identity.
		"AURIGRAPH_NODE_NAME":    r.Name,
		"AURIGRAPH_NODE_TIER":    r.Tier,
		"AURIGRAPH_RELEASE_SLOT": r.Slot,
		// The SPEC's names. DEPLOYMENT_SLOT is fixed for a container's life
		// (a replica never changes slot). TRAFFIC_WEIGHT is deliberately not
		// here: a weight step would recreate every replica, where it must
		// change only the gateway. The gateway sends the serving slot's
		// weight with each request instead (gateway.TrafficWeightHeader).
		EnvDeploymentSlot:         r.Slot,
		"AURIGRAPH_ROLLING_GROUP": itoa(r.Group),

		// Consensus and features (SPEC production values).
		"CONSENSUS_TARGET_TPS":       itoa(s.TargetTPS),
		"CONSENSUS_BATCH_SIZE":       itoa(s.BatchSize),
		"CONSENSUS_PARALLEL_THREADS": itoa(s.ParallelThreads),
		"AI_OPTIMIZATION_ENABLED":    "true",
		"QUANTUM_CRYPTO_ENABLED":     "true",
		"BRIDGE_VALIDATORS":          "21",
		"HMS_ENABLED":                "true",
		"CBDC_ENABLED":               "true",
		"QUARKUS_PROFILE":            "prod",
		"QUARKUS_HTTP_PORT":          itoa(RESTPort),
		"QUARKUS_GRPC_SERVER_PORT":   itoa(GRPCPort),

		// Connection pool. The SPEC names QUARKUS_DATASOURCE_MAX_SIZE/MIN_SIZE;
		// Quarkus itself reads quarkus.datasource.jdbc.max-size/min-size: both
		// are set to the same value.
		"QUARKUS_DATASOURCE_DB_KIND":                          "postgresql",
		"QUARKUS_DATASOURCE_JDBC_URL":                         e.PostgresJDBC,
		"QUARKUS_DATASOURCE_USERNAME":                         e.PostgresUser,
		"QUARKUS_DATASOURCE_MAX_SIZE":                         itoa(s.DatasourceMaxSize),
		"QUARKUS_DATASOURCE_MIN_SIZE":                         itoa(s.DatasourceMinSize),
		"QUARKUS_DATASOURCE_JDBC_MAX_SIZE":                    itoa(s.DatasourceMaxSize),
		"QUARKUS_DATASOURCE_JDBC_MIN_SIZE":                    itoa(s.DatasourceMinSize),
		"QUARKUS_DATASOURCE_JDBC_IDLE_REMOVAL_INTERVAL":       "10M",
		"QUARKUS_DATASOURCE_JDBC_TRANSACTION_ISOLATION_LEVEL": "read-committed",
		// The pool's agroal_* meters (off by default): DBPoolExhausted and
		// the DB pool panels read them.
		"QUARKUS_DATASOURCE_METRICS_ENABLED": "true",

		// Bulkheads and retries.
		"EXECUTOR_API_POOL_SIZE":   "10",
		"EXECUTOR_DB_POOL_SIZE":    "20",
		"EXECUTOR_CACHE_POOL_SIZE": "5",
		"RETRY_MAX_ATTEMPTS":       "5",
		"RETRY_INITIAL_DELAY_MS":   "100",
		"RETRY_MAX_DELAY_MS":       "30000",
		"RETRY_MULTIPLIER":         "2.0",

		// Cache: caffeine, blockchain-metrics 1000 entries, 5 minutes.
		"QUARKUS_CACHE_TYPE": "caffeine",
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__MAXIMUM_SIZE":       "1000",
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__EXPIRE_AFTER_WRITE": "5M",
		// cache_gets_total{result} for the cache-hit panels (off by default).
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__METRICS_ENABLED": "true",

		// Redis, as the application's ACL user; the password is a secret variable.
		"QUARKUS_REDIS_HOSTS":    e.RedisHosts,
		"QUARKUS_REDIS_USERNAME": e.RedisUser,

		// Tracing to Jaeger: the endpoints are OutputEnvironment's.
		"OTEL_SERVICE_NAME": "aurigraph-v11",
		"OTEL_RESOURCE_ATTRIBUTES": strings.Join([]string{
			"service.instance.id=" + r.Name, "aurigraph.tier=" + r.Tier, "aurigraph.slot=" + r.Slot,
		}, ","),

		// Logs: console (json-file → Logstash) and a rotated file in /app/logs.
		"QUARKUS_LOG_FILE_ENABLE":                    "true",
		"QUARKUS_LOG_FILE_PATH":                      LogsMount + "/aurigraph-v11.log",
		"QUARKUS_LOG_FILE_ROTATION_MAX_FILE_SIZE":    "50M",
		"QUARKUS_LOG_FILE_ROTATION_MAX_BACKUP_INDEX": "5",
	}
	return env
}
