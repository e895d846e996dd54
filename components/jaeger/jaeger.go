// Package jaeger deploys Jaeger all-in-one: the application's traces over
// Jaeger (UDP/HTTP/gRPC), Zipkin and OTLP, kept in persistent Badger storage
// for a bounded time. Its ports are reachable on the cluster network only.
package jaeger

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// Layout inside the container and on the host.
const (
	ContainerName = "jaeger"
	UID           = 10001 // the image's jaeger user
	dataMount     = "/badger"
)

// Ports of the all-in-one (v1.62: collector, query, admin and the embedded
// agent). Env sets each listener from these constants, so they, not the
// image's defaults, decide where Jaeger listens; the application and
// Prometheus reach them on the overlay by the container's name.
const (
	OTLPGRPCPort      = 4317  // OTLP over gRPC: the application's exporter
	OTLPHTTPPort      = 4318  // OTLP over HTTP/protobuf
	CollectorGRPCPort = 14250 // Jaeger model.proto over gRPC
	ThriftHTTPPort    = 14268 // Jaeger Thrift over HTTP (/api/traces)
	ZipkinPort        = 9411  // Zipkin v1/v2 JSON and protobuf (off unless set)
	UIPort            = 16686 // query UI and API
	AdminPort         = 14269 // health check and /metrics
	// The embedded agent (UDP, for legacy Jaeger/Zipkin clients) and its
	// sampling endpoint; deprecated upstream, still served by 1.62.
	AgentZipkinCompactPort = 5775
	AgentCompactPort       = 6831
	AgentBinaryPort        = 6832
	AgentConfigPort        = 5778
)

// UIURL is where the gateway and Grafana reach the query UI and API.
func UIURL() string { return fmt.Sprintf("http://%s:%d", ContainerName, UIPort) }

// AdminAddress is the health and /metrics endpoint Prometheus scrapes.
func AdminAddress() string { return fmt.Sprintf("%s:%d", ContainerName, AdminPort) }

// Endpoint is the URL of one of Jaeger's ports on the overlay, for the
// container named name; the component's outputs are built with it.
func Endpoint(name string, port int) string { return fmt.Sprintf("http://%s:%d", name, port) }

// ZipkinPath is where the Zipkin-compatible collector takes spans.
const ZipkinPath = "/api/v2/spans"

// PortSpec is a port the container listens on, and the variable (Jaeger
// reads every flag from the environment: collector.otlp.grpc.host-port is
// COLLECTOR_OTLP_GRPC_HOST_PORT) that sets its listen address.
type PortSpec struct {
	Port     int
	Protocol string
	Purpose  string
	Env      string
}

// Ports are the SPEC's ports plus OTLP and the admin port. None is
// published on the host: the application reaches them over the cluster
// network by the name "jaeger", and the gateway proxies the UI.
var Ports = []PortSpec{
	{AgentZipkinCompactPort, "udp", "Zipkin thrift compact (agent, legacy)", "PROCESSOR_ZIPKIN_COMPACT_SERVER_HOST_PORT"},
	{AgentCompactPort, "udp", "Jaeger thrift compact (agent)", "PROCESSOR_JAEGER_COMPACT_SERVER_HOST_PORT"},
	{AgentBinaryPort, "udp", "Jaeger thrift binary (agent)", "PROCESSOR_JAEGER_BINARY_SERVER_HOST_PORT"},
	{AgentConfigPort, "tcp", "agent sampling configuration", "HTTP_SERVER_HOST_PORT"},
	{UIPort, "tcp", "query UI and API", "QUERY_HTTP_SERVER_HOST_PORT"},
	{ThriftHTTPPort, "tcp", "collector HTTP (Jaeger thrift)", "COLLECTOR_HTTP_SERVER_HOST_PORT"},
	{CollectorGRPCPort, "tcp", "collector gRPC (model.proto)", "COLLECTOR_GRPC_SERVER_HOST_PORT"},
	{ZipkinPort, "tcp", "Zipkin-compatible collector", "COLLECTOR_ZIPKIN_HOST_PORT"},
	{OTLPGRPCPort, "tcp", "OTLP gRPC", "COLLECTOR_OTLP_GRPC_HOST_PORT"},
	{OTLPHTTPPort, "tcp", "OTLP HTTP", "COLLECTOR_OTLP_HTTP_HOST_PORT"},
	{AdminPort, "tcp", "admin: health check and metrics", "ADMIN_HTTP_HOST_PORT"},
}

// DataDir is the Badger directory on the host.
func DataDir(serviceDir string) string { return path.Join(serviceDir, "data") }

// Dirs are the host directories the deployment needs under serviceDir.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: DataDir(serviceDir), UID: UID, GID: UID, Mode: "0750"},
	}
}

// Args configures Jaeger on one host.
type Args struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones      *network.Zones
	Resources  container.Resources
	ServiceDir string
	// SpanRetention is how long spans are kept (Badger TTL).
	SpanRetention time.Duration
}

// Jaeger is the deployed tracing backend.
type Jaeger struct {
	pulumi.ResourceState

	Container *docker.Container
	// Endpoints where services send traces, on the overlay by the
	// container's name output: a container configured with one waits for
	// Jaeger's container (the app's OTLP exporter, QUARKUS_OTEL_...).
	OTLPEndpoint          pulumi.StringOutput `pulumi:"otlpEndpoint"`     // OTLP gRPC
	OTLPHTTPEndpoint      pulumi.StringOutput `pulumi:"otlpHttpEndpoint"` // OTLP HTTP
	CollectorGRPCEndpoint pulumi.StringOutput `pulumi:"collectorGrpcEndpoint"`
	ThriftHTTPEndpoint    pulumi.StringOutput `pulumi:"thriftHttpEndpoint"`
	ZipkinEndpoint        pulumi.StringOutput `pulumi:"zipkinEndpoint"`
	UIURL                 pulumi.StringOutput `pulumi:"uiUrl"`
}

// Env is the container environment: Badger on disk with a TTL, every
// listener on its port from Ports. Zipkin is off in 1.62 unless its
// host-port is set; OTLP is on by default since 1.46, stated anyway so a
// pin to an older image keeps it.
func Env(retention time.Duration) map[string]string {
	env := map[string]string{
		"SPAN_STORAGE_TYPE":      "badger",
		"BADGER_EPHEMERAL":       "false",
		"BADGER_DIRECTORY_KEY":   dataMount + "/key",
		"BADGER_DIRECTORY_VALUE": dataMount + "/data",
		"BADGER_SPAN_STORE_TTL":  fmt.Sprintf("%dh", int(retention.Hours())),
		"COLLECTOR_OTLP_ENABLED": "true",
	}
	for _, p := range Ports {
		env[p.Env] = fmt.Sprintf(":%d", p.Port)
	}
	return env
}

// New runs the all-in-one container.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Jaeger, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("jaeger %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.SpanRetention < time.Hour {
		return nil, fmt.Errorf("jaeger %s: span retention must be at least one hour", name)
	}
	j := &Jaeger{}
	if err := ctx.RegisterComponentResource("aurigraph:jaeger:Jaeger", name, j, opts...); err != nil {
		return nil, err
	}
	c, err := container.New(ctx, ContainerName, container.Spec{
		Service:        "jaeger",
		Name:           ContainerName,
		Image:          args.Image,
		Networks:       args.Zones.For(ContainerName),
		Resource:       args.Resources,
		User:           fmt.Sprintf("%d:%d", UID, UID),
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=64m"},
		Env:            Env(args.SpanRetention),
		Mounts:         []container.Mount{{HostPath: DataDir(args.ServiceDir), Target: dataMount}},
		Health:         container.HTTPHealth(AdminPort, "/", 30*time.Second),
	}, pulumi.Parent(j), pulumi.Provider(args.Engine.Provider), pulumi.DependsOn([]pulumi.Resource{args.Engine.Prepared}))
	if err != nil {
		return nil, err
	}
	j.Container = c
	at := func(port int, path string) pulumi.StringOutput {
		return c.Name.ApplyT(func(n string) string { return Endpoint(n, port) + path }).(pulumi.StringOutput)
	}
	j.OTLPEndpoint = at(OTLPGRPCPort, "")
	j.OTLPHTTPEndpoint = at(OTLPHTTPPort, "")
	j.CollectorGRPCEndpoint = at(CollectorGRPCPort, "")
	j.ThriftHTTPEndpoint = at(ThriftHTTPPort, "/api/traces")
	j.ZipkinEndpoint = at(ZipkinPort, ZipkinPath)
	j.UIURL = at(UIPort, "")
	return j, ctx.RegisterResourceOutputs(j, pulumi.Map{
		"otlpEndpoint": j.OTLPEndpoint, "otlpHttpEndpoint": j.OTLPHTTPEndpoint,
		"collectorGrpcEndpoint": j.CollectorGRPCEndpoint, "thriftHttpEndpoint": j.ThriftHTTPEndpoint,
		"zipkinEndpoint": j.ZipkinEndpoint, "uiUrl": j.UIURL,
	})
}
