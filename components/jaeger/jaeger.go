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
)

// Layout inside the container and on the host.
const (
	ContainerName = "jaeger"
	UID           = 10001 // the image's jaeger user
	AdminPort     = 14269 // health check and /metrics
	UIPort        = 16686
	// OTLPPort and CollectorGRPCPort receive spans (OpenTelemetry and Jaeger-native gRPC).
	OTLPPort          = 4317
	CollectorGRPCPort = 14250
	dataMount         = "/badger"
)

// UIURL is where the gateway and Grafana reach the query UI and API.
func UIURL() string { return fmt.Sprintf("http://%s:%d", ContainerName, UIPort) }

// OTLPURL is where services send spans over OTLP gRPC.
func OTLPURL() string { return fmt.Sprintf("http://%s:%d", ContainerName, OTLPPort) }

// CollectorURL is the Jaeger-native gRPC collector.
func CollectorURL() string { return fmt.Sprintf("http://%s:%d", ContainerName, CollectorGRPCPort) }

// AdminAddress is the health and /metrics endpoint Prometheus scrapes.
func AdminAddress() string { return fmt.Sprintf("%s:%d", ContainerName, AdminPort) }

// PortSpec is a port the container listens on.
type PortSpec struct {
	Port     int
	Protocol string
	Purpose  string
}

// Ports are the SPEC's ports plus OTLP and the admin port. None is
// published on the host: the application reaches them over the cluster
// network by the name "jaeger", and the gateway proxies the UI.
var Ports = []PortSpec{
	{5775, "udp", "Zipkin thrift compact (agent, legacy)"},
	{6831, "udp", "Jaeger thrift compact (agent)"},
	{6832, "udp", "Jaeger thrift binary (agent)"},
	{5778, "tcp", "agent sampling configuration"},
	{UIPort, "tcp", "query UI and API"},
	{14268, "tcp", "collector HTTP (Jaeger thrift)"},
	{CollectorGRPCPort, "tcp", "collector gRPC (model.proto)"},
	{9411, "tcp", "Zipkin-compatible collector"},
	{OTLPPort, "tcp", "OTLP gRPC"},
	{4318, "tcp", "OTLP HTTP"},
	{AdminPort, "tcp", "admin: health check and metrics"},
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
	Host  *host.Host
	Image pulumi.StringInput
	// Network is the overlay's Name output, so the containers wait for it.
	Network    pulumi.StringInput
	Resources  container.Resources
	ServiceDir string
	// SpanRetention is how long spans are kept (Badger TTL).
	SpanRetention time.Duration
}

// Jaeger is the deployed tracing backend.
type Jaeger struct {
	pulumi.ResourceState

	Container *docker.Container
	// Endpoints where the application sends traces, and the UI.
	OTLPEndpoint   pulumi.StringOutput `pulumi:"otlpEndpoint"`
	ZipkinEndpoint pulumi.StringOutput `pulumi:"zipkinEndpoint"`
	UIURL          pulumi.StringOutput `pulumi:"uiUrl"`
}

// Env is the container environment: Badger on disk with a TTL, Zipkin and
// OTLP collectors on.
func Env(retention time.Duration) map[string]string {
	return map[string]string{
		"SPAN_STORAGE_TYPE":          "badger",
		"BADGER_EPHEMERAL":           "false",
		"BADGER_DIRECTORY_KEY":       dataMount + "/key",
		"BADGER_DIRECTORY_VALUE":     dataMount + "/data",
		"BADGER_SPAN_STORE_TTL":      fmt.Sprintf("%dh", int(retention.Hours())),
		"COLLECTOR_ZIPKIN_HOST_PORT": ":9411",
		"COLLECTOR_OTLP_ENABLED":     "true",
	}
}

// New runs the all-in-one container.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Jaeger, error) {
	if args.Host == nil || args.Host.Docker == nil {
		return nil, fmt.Errorf("jaeger %s: a host with a Docker provider is required", name)
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
		Network:        args.Network,
		Resource:       args.Resources,
		User:           fmt.Sprintf("%d:%d", UID, UID),
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=64m"},
		Env:            Env(args.SpanRetention),
		Mounts:         []container.Mount{{HostPath: DataDir(args.ServiceDir), Target: dataMount}},
		Health: container.Health{
			Test:        []string{"CMD", "wget", "-q", "--spider", fmt.Sprintf("http://localhost:%d/", AdminPort)},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 30 * time.Second,
			Retries:     3,
		},
	}, pulumi.Parent(j), pulumi.Provider(args.Host.Docker), pulumi.DependsOn([]pulumi.Resource{args.Host.Prepared}))
	if err != nil {
		return nil, err
	}
	j.Container = c
	j.OTLPEndpoint = pulumi.String(OTLPURL()).ToStringOutput()
	j.ZipkinEndpoint = pulumi.Sprintf("http://%s:9411/api/v2/spans", ContainerName)
	j.UIURL = pulumi.String(UIURL()).ToStringOutput()
	return j, ctx.RegisterResourceOutputs(j, pulumi.Map{
		"otlpEndpoint": j.OTLPEndpoint, "zipkinEndpoint": j.ZipkinEndpoint, "uiUrl": j.UIURL,
	})
}
