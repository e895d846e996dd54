// Package logstash is the log shipper: it receives every host's journal,
// container logs and service log files (JSON lines over mutual TLS from
// rsyslog, fields in components/host/logging.go), applications' JSON lines
// and GELF, parses NGINX, PostgreSQL and application JSON lines, and writes
// each event to the data stream its routing table (Services.Routes) gives,
// in Elasticsearch over TLS as a least-privilege user.
package logstash

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// Container facts shared with the tests and the wiring.
const (
	Name = "logstash"
	// SyslogPort is where every host's rsyslog forwards (JSON lines over
	// TLS); published on the logging host's cluster address only.
	SyslogPort    = 5514
	JSONPort      = 5000 // overlay network only
	GELFPort      = 12201
	APIPort       = 9600
	UID           = 1000
	GID           = 0
	DefaultHeapMB = 1024
	// PasswordEnv holds the writer's password; the pipeline refers to it.
	PasswordEnv = "LOGSTASH_WRITER_PASSWORD"

	homeDir     = "/usr/share/logstash"
	pipelineDir = homeDir + "/pipeline"
	settingsDir = homeDir + "/aurigraph-settings"
	// imageConfDir is the image's settings directory, read-only like the
	// rest of the root file system.
	imageConfDir = homeDir + "/config"
	// runSettingsDir is --path.settings: a tmpfs that Command fills at every
	// start with the image's jvm.options, log4j2.properties and
	// pipelines.yml and the rendered logstash.yml.
	runSettingsDir = "/run/logstash/settings"
	certsDir       = homeDir + "/config/certs"
	dataDir        = homeDir + "/data"
	// CAPath is the CA certificate inside the container.
	CAPath = certsDir + "/ca.crt"
	// ServerCertPath and ServerKeyPath (PKCS#8) are Logstash's TLS
	// certificate and key for the hosts' input, inside the container.
	ServerCertPath = certsDir + "/logstash.crt"
	ServerKeyPath  = certsDir + "/logstash.key"
)

// LogstashArgs configure the shipper.
type LogstashArgs struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Resources container.Resources
	HeapMB    int
	HostDir   string // e.g. /srv/aurigraph/logstash: pipeline/, settings/, certs/, data/
	// SyslogAddress is the logging host's cluster address: 5514/tcp is
	// published there and nowhere else.
	SyslogAddress string
	Services      Services
	// Elasticsearch output.
	ElasticsearchURL string
	WriterUser       string
	WriterPassword   pulumi.StringInput
	CACertPem        pulumi.StringInput
	// TLS of the hosts' input: Logstash's certificate from the stack's CA
	// for TLSHosts, and its key in PKCS#8 (pki.Cert.KeyPkcs8Pem).
	ServerCertPem pulumi.StringInput
	ServerKeyPem  pulumi.StringInput
	// DependsOn: the Elasticsearch setup (the writer user must exist).
	DependsOn []pulumi.Resource
}

// Logstash is the running shipper.
type Logstash struct {
	pulumi.ResourceState

	Container *docker.Container

	ContainerName  pulumi.StringOutput `pulumi:"containerName"`
	SyslogEndpoint pulumi.StringOutput `pulumi:"syslogEndpoint"`
	JSONEndpoint   pulumi.StringOutput `pulumi:"jsonEndpoint"`
	GELFEndpoint   pulumi.StringOutput `pulumi:"gelfEndpoint"`
	PipelineHash   pulumi.StringOutput `pulumi:"pipelineHash"`
}

// TLSName is the name in Logstash's certificate that every host's rsyslog
// checks (x509/name) before it sends.
const TLSName = Name

// TLSHosts are the names and addresses in Logstash's certificate: TLSName,
// and the logging host's cluster address the hosts connect to.
func TLSHosts(clusterAddress string) []string {
	if clusterAddress == "" {
		return []string{TLSName}
	}
	return []string{TLSName, clusterAddress}
}

// Dirs are the host directories the container needs.
func Dirs(hostDir string) []host.Dir {
	var dirs []host.Dir
	for _, p := range []string{hostDir, path.Join(hostDir, "pipeline"), path.Join(hostDir, "settings"),
		path.Join(hostDir, "certs"), path.Join(hostDir, "data")} {
		dirs = append(dirs, host.Dir{Path: p, UID: UID, GID: GID, Mode: "0750"})
	}
	return dirs
}

// Pipeline renders the pipeline for args.
func (a LogstashArgs) Pipeline() (string, error) {
	if err := a.Services.validate(); err != nil {
		return "", err
	}
	return RenderPipeline(a.pipelineValues())
}

func (a LogstashArgs) pipelineValues() PipelineValues {
	return PipelineValues{
		SyslogPort: SyslogPort, JSONPort: JSONPort, GELFPort: GELFPort,
		ServerCertPath: ServerCertPath, ServerKeyPath: ServerKeyPath,
		DatasetContainer: host.DatasetContainer, DatasetJournal: host.DatasetJournal,
		NginxService: a.Services.Nginx, PostgresService: a.Services.Postgres, LogstashService: Name,
		AppService: a.Services.App, SystemService: SystemService,
		Routes: a.Services.Routes(), DefaultStream: StreamPlatform,
		ElasticsearchHosts: []string{a.ElasticsearchURL}, CAPath: CAPath,
		WriterUser: a.WriterUser, PasswordEnv: PasswordEnv,
		IndexPrefix: elasticsearch.IndexPrefix, PolicyName: elasticsearch.PolicyName,
	}
}

// Settings renders logstash.yml.
func Settings() (string, error) {
	return RenderSettings(SettingsValues{
		NodeName: Name, DataPath: dataDir, ReloadInterval: "5s",
		QueueMaxBytes: "1gb", DLQMaxBytes: "512mb", APIHost: APIHost, APIPort: APIPort,
	})
}

// MinMemoryMB is the smallest memory limit for a heap: above it, for the
// JVM's own memory besides the heap.
func MinMemoryMB(heapMB int) int { return heapMB + 1 }

// JavaOpts pins the heap (min = max): 1024 → "-Xms1g -Xmx1g".
func JavaOpts(heapMB int) string {
	size := fmt.Sprintf("%dm", heapMB)
	if heapMB%1024 == 0 {
		size = fmt.Sprintf("%dg", heapMB/1024)
	}
	return fmt.Sprintf("-Xms%[1]s -Xmx%[1]s", size)
}

// APIHost: the monitoring API listens inside the container only; its
// health check and the host's logging-metrics (docker exec) ask it there.
const APIHost = "127.0.0.1"

// APIURL is the monitoring API inside the container.
func APIURL() string { return fmt.Sprintf("http://%s:%d", APIHost, APIPort) }

// HealthCommand asks the local API; it answers once the pipeline runs.
func HealthCommand() []string {
	return []string{"CMD-SHELL", fmt.Sprintf("curl -fsS -o /dev/null %s/", APIURL())}
}

// Command assembles the settings directory (the rendered logstash.yml is
// mounted as a directory, so a changed file is seen by the restart that
// follows it) and starts Logstash on it. The image's entrypoint runs first;
// it rewrites config/logstash.yml only when a variable names a Logstash
// setting (env2yaml), which none of this container's do.
func Command() []string {
	return []string{"bash", "-c", fmt.Sprintf(
		"cp %[1]s/jvm.options %[1]s/log4j2.properties %[1]s/pipelines.yml %[2]s/logstash.yml %[3]s/ && exec logstash --path.settings %[3]s",
		imageConfDir, settingsDir, runSettingsDir)}
}

// Tmpfs are the in-memory directories of the read-only root, with why.
func Tmpfs() map[string]string {
	return map[string]string{
		// The assembled settings (Command): small, never executed.
		runSettingsDir: fmt.Sprintf("rw,noexec,nosuid,nodev,size=4m,uid=%d,gid=%d,mode=0770", UID, GID),
		// java.io.tmpdir: JRuby's jffi unpacks its native stub here and maps
		// it, so it must allow exec.
		"/tmp": "rw,exec,nosuid,nodev,size=64m,mode=1777",
	}
}

// NewLogstash writes the pipeline, settings and CA to the host and runs the container.
func NewLogstash(ctx *pulumi.Context, name string, args LogstashArgs, opts ...pulumi.ResourceOption) (*Logstash, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("logstash %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.HostDir == "" || !path.IsAbs(args.HostDir) {
		return nil, fmt.Errorf("logstash %s: an absolute host directory is required", name)
	}
	if args.SyslogAddress == "" || args.SyslogAddress == "0.0.0.0" || args.SyslogAddress == "::" {
		return nil, fmt.Errorf("logstash %s: the syslog port needs the logging host's cluster address, got %q", name, args.SyslogAddress)
	}
	// The memory limit holds the heap (MinMemoryMB): stacks validates it.
	heap := args.HeapMB
	if heap == 0 {
		heap = DefaultHeapMB
	}
	if args.CACertPem == nil || args.ServerCertPem == nil || args.ServerKeyPem == nil {
		return nil, fmt.Errorf("logstash %s: the CA, and the certificate and key of the hosts' input, are required", name)
	}
	owner := fmt.Sprintf("%d:%d", UID, GID)
	pipeline, err := args.Pipeline()
	if err != nil {
		return nil, fmt.Errorf("logstash %s: %w", name, err)
	}
	settings, err := Settings()
	if err != nil {
		return nil, fmt.Errorf("logstash %s: %w", name, err)
	}

	ls := &Logstash{}
	if err := ctx.RegisterComponentResource("aurigraph:logstash:Logstash", name, ls, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(ls)

	// The pipeline reloads in place (SIGHUP, and config.reload.automatic);
	// settings are read at start, so they restart the container.
	pipelineFiles, err := configfile.New(ctx, name+"-pipeline", configfile.Args{
		Host:      args.Engine.Host,
		Files:     []configfile.File{{Path: path.Join(args.HostDir, "pipeline", "aurigraph.conf"), Content: pipeline}},
		Container: Name, Reload: "docker kill --signal HUP " + Name,
	}, parent)
	if err != nil {
		return nil, err
	}
	settingsFiles, err := configfile.New(ctx, name+"-settings", configfile.Args{
		Host:      args.Engine.Host,
		Files:     []configfile.File{{Path: path.Join(args.HostDir, "settings", "logstash.yml"), Content: settings}},
		Container: Name, Reload: "docker restart " + Name,
	}, parent)
	if err != nil {
		return nil, err
	}
	// The CA (for Elasticsearch and the hosts' client certificates) and
	// the certificate and key of the hosts' input: the tcp input reads them
	// when it starts, so a rotation restarts Logstash.
	tlsFiles, err := configfile.NewSecrets(ctx, name+"-tls", configfile.SecretsArgs{
		Host: args.Engine.Host,
		Files: []configfile.Secret{
			{Path: path.Join(args.HostDir, "certs", "ca.crt"), Content: args.CACertPem, Owner: owner, Mode: "0600"},
			{Path: path.Join(args.HostDir, "certs", "logstash.crt"), Content: args.ServerCertPem, Owner: owner, Mode: "0600"},
			{Path: path.Join(args.HostDir, "certs", "logstash.key"), Content: args.ServerKeyPem, Owner: owner, Mode: "0600"},
		},
		KeyPair:   &configfile.KeyPair{Cert: path.Join(args.HostDir, "certs", "logstash.crt"), Key: path.Join(args.HostDir, "certs", "logstash.key")},
		Container: Name, Reload: "docker restart " + Name,
	}, parent)
	if err != nil {
		return nil, err
	}
	deps := append(append(append(append([]pulumi.Resource{}, tlsFiles.Copies...), pipelineFiles.Copies...), settingsFiles.Copies...), args.DependsOn...)

	c, err := container.New(ctx, name, container.Spec{
		Service:   Name,
		Name:      Name,
		Image:     args.Image,
		Networks:  args.Zones.For(Name),
		Resource:  args.Resources,
		Env:       map[string]string{"LS_JAVA_OPTS": JavaOpts(heap)},
		SecretEnv: map[string]pulumi.StringInput{PasswordEnv: args.WriterPassword},
		User:      fmt.Sprintf("%d:%d", UID, GID),
		Command:   Command(),
		// Writes go to the tmpfs (Tmpfs) and the host's data directory
		// (persisted queue, dead letter queue, UUID) only.
		ReadOnlyRootFS: true,
		Tmpfs:          Tmpfs(),
		Ports:          []container.Port{{Internal: SyslogPort, External: SyslogPort, IP: args.SyslogAddress, Protocol: "tcp"}},
		Mounts: []container.Mount{
			{HostPath: path.Join(args.HostDir, "pipeline"), Target: pipelineDir, ReadOnly: true},
			{HostPath: path.Join(args.HostDir, "settings"), Target: settingsDir, ReadOnly: true},
			{HostPath: path.Join(args.HostDir, "certs"), Target: certsDir, ReadOnly: true},
			{HostPath: path.Join(args.HostDir, "data"), Target: dataDir},
		},
		Health: container.Health{
			Test: HealthCommand(), Interval: 30 * time.Second, Timeout: 10 * time.Second,
			StartPeriod: 2 * time.Minute, Retries: 5,
		},
		WaitHealthy: true,
		WaitTimeout: 5 * time.Minute,
	}, parent, pulumi.Provider(args.Engine.Provider), pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	ls.Container = c
	ls.ContainerName = c.Name
	ls.SyslogEndpoint = pulumi.Sprintf("%s:%d", args.SyslogAddress, SyslogPort)
	ls.JSONEndpoint = pulumi.Sprintf("%s:%d", Name, JSONPort)
	ls.GELFEndpoint = pulumi.Sprintf("%s:%d/udp", Name, GELFPort)
	ls.PipelineHash = pulumi.String(pipelineFiles.Hash).ToStringOutput()
	return ls, ctx.RegisterResourceOutputs(ls, pulumi.Map{
		"containerName":  ls.ContainerName,
		"syslogEndpoint": ls.SyslogEndpoint,
		"jsonEndpoint":   ls.JSONEndpoint,
		"gelfEndpoint":   ls.GELFEndpoint,
		"pipelineHash":   ls.PipelineHash,
	})
}
