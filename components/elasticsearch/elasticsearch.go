// Package elasticsearch is the platform's log store: one single-node
// Elasticsearch 8 container with security and TLS on, its heap pinned
// (min = max), its data on the host, and an idempotent setup step that
// installs log retention (ILM + data stream template) and the credentials of
// Kibana and Logstash.
//
// The host must have vm.max_map_count >= 262144 (RequiredSysctls): host
// preparation sets it on the host placed for Elasticsearch, and the container
// enforces Elasticsearch's bootstrap checks, so a host without it makes the
// deployment fail at start instead of crashing under load later.
package elasticsearch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/internal/shell"
)

// Container facts shared with the tests and the other logging components.
const (
	Name     = "elasticsearch"
	HTTPPort = 9200
	// UID and GID the image runs as (elasticsearch:root); files it reads or
	// writes on the host belong to them.
	UID = 1000
	GID = 0
	// DefaultHeapMB is the SPEC's 2 GB heap.
	DefaultHeapMB = 2048
	// MinDataDiskGB is the SPEC's minimum for the data directory.
	MinDataDiskGB = 30

	homeDir = "/usr/share/elasticsearch"
	// imageConfDir is the image's config directory, read-only like the
	// rest of the root file system.
	imageConfDir = homeDir + "/config"
	// ConfDir is ES_PATH_CONF: a tmpfs that Command fills with the image's
	// config at every start. The entrypoint writes the keystore there
	// (bootstrap.password from ELASTIC_PASSWORD), and Elasticsearch may
	// rewrite the keystore or add files in its config directory, which
	// must also hold the certificates (it reads TLS files from there only).
	ConfDir  = "/run/elasticsearch/config"
	certsDir = ConfDir + "/certs"
	dataDir  = homeDir + "/data"
	// logsDir: the image's jvm.options write the GC log (up to 32 × 64 MB)
	// and fatal error logs there, so it lives on the host disk, not in memory.
	logsDir = homeDir + "/logs"
	// Paths relative to the config directory, as Elasticsearch wants them.
	certFile = "certs/elasticsearch.crt"
	keyFile  = "certs/elasticsearch.key"
	caFile   = "certs/ca.crt"
)

// CAPath is the CA certificate inside the container.
const CAPath = certsDir + "/ca.crt"

// PasswordFile is the container's secret file holding the elastic user's
// password: the image reads it (ELASTIC_PASSWORD_FILE), and the health
// check and the host's logging-metrics (docker exec) read it inside the
// container. PasswordPath is where the container sees it.
const PasswordFile = "elastic-password"

// PasswordPath is PasswordFile inside the container.
var PasswordPath = container.SecretPath(PasswordFile)

// SelfHost is the name Elasticsearch is reached by from inside its own
// container: its health check and the setup step (docker exec) use it.
const SelfHost = "localhost"

// TLSHosts are every host name Elasticsearch's HTTPS port is reached by:
// its overlay name (URL) and SelfHost (SelfURL). Its certificate holds
// exactly these, and every client verifies the name (curl, Kibana,
// Logstash, Grafana), so a URL built from another name cannot connect.
func TLSHosts() []string { return []string{Name, SelfHost} }

// RequiredSysctls are what the Elasticsearch host needs (mmapfs).
var RequiredSysctls = map[string]string{"vm.max_map_count": "262144"}

// ElasticsearchArgs configure the log store.
type ElasticsearchArgs struct {
	Engine *host.Engine
	Image  pulumi.StringInput // from Engine.Image: carries the pull
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Resources container.Resources
	HeapMB    int
	// HostDir is the service directory on the host, e.g. /srv/aurigraph/elasticsearch;
	// certs/ and data/ live under it (see Dirs).
	HostDir string
	// TLS: the server certificate (for TLSHosts) and the CA.
	CertPem   pulumi.StringInput
	KeyPem    pulumi.StringInput
	CACertPem pulumi.StringInput
	// Secrets.
	ElasticPassword        pulumi.StringInput
	KibanaSystemPassword   pulumi.StringInput
	LogstashWriterPassword pulumi.StringInput
	GrafanaReaderPassword  pulumi.StringInput
	// SnapshotPassword is SnapshotUser's, for the daily snapshots.
	SnapshotPassword pulumi.StringInput
	// WriterIndices are the data streams Logstash writes: its role may
	// create documents in these and no other index.
	WriterIndices []string
	// RetentionDays deletes log indices this long after rollover.
	RetentionDays int
}

// Elasticsearch is the running log store.
type Elasticsearch struct {
	pulumi.ResourceState

	Container *docker.Container
	// Ready is the setup step: Logstash and Kibana start after it, when the
	// retention policy and their users exist.
	Ready pulumi.Resource
	// Backups is the snapshot repository, for the off-host copies.
	Backups backupjob.Source

	URL           pulumi.StringOutput `pulumi:"url"`
	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	HostName      pulumi.StringOutput `pulumi:"hostName"`
	IndexPattern  pulumi.StringOutput `pulumi:"indexPattern"`
	ILMPolicy     pulumi.StringOutput `pulumi:"ilmPolicy"`
	RetentionDays pulumi.IntOutput    `pulumi:"retentionDays"`
}

// URL is how services on the overlay network reach Elasticsearch.
func URL() string { return url(Name) }

// SelfURL is how the health check and the setup step reach Elasticsearch
// from inside its container.
func SelfURL() string { return url(SelfHost) }

func url(host string) string { return fmt.Sprintf("https://%s:%d", host, HTTPPort) }

// Dirs are the host directories the container needs, with the owner the
// image runs as.
func Dirs(hostDir string) []host.Dir {
	return []host.Dir{
		{Path: hostDir, UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "certs"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "data"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "logs"), UID: UID, GID: GID, Mode: "0750"},
		// The snapshot repository (path.repo): Elasticsearch writes it, the
		// off-host copies read it as root; nobody else.
		{Path: SnapshotsHostDir(hostDir), UID: UID, GID: GID, Mode: "0700"},
	}
}

// Command fills ConfDir with the image's config and starts the image's
// entrypoint as its default command would (eswrapper). cp -R, not -a: the
// image's files belong to root, the copies to the user Elasticsearch runs as.
func Command() []string {
	return []string{"bash", "-c", fmt.Sprintf("cp -R %s/. %s/ && exec /usr/local/bin/docker-entrypoint.sh eswrapper", imageConfDir, ConfDir)}
}

// Tmpfs are the in-memory directories of the read-only root, with why.
func Tmpfs() map[string]string {
	return map[string]string{
		// The config copy and the keystore (see ConfDir): small, never executed.
		ConfDir: fmt.Sprintf("rw,noexec,nosuid,nodev,size=16m,uid=%d,gid=%d,mode=0770", UID, GID),
		// ES_TMPDIR: JNA unpacks libjnidispatch here and maps it (memory
		// lock, system call filter), so it must allow exec; the machine
		// learning controller keeps its named pipes here.
		"/tmp": "rw,exec,nosuid,nodev,size=128m,mode=1777",
	}
}

// MinMemoryMB is the smallest memory limit for a heap: the heap is at most
// half the limit, Lucene needs the rest as page cache.
func MinMemoryMB(heapMB int) int { return heapMB * 2 }

// Env is the container's plain environment: single node, pinned heap,
// security and TLS on HTTP and transport.
func Env(heapMB int) map[string]string {
	return map[string]string{
		"ES_JAVA_OPTS": fmt.Sprintf("-Xms%[1]s -Xmx%[1]s -Des.enforce.bootstrap.checks=true", heapSize(heapMB)),
		"ES_PATH_CONF": ConfDir,
		"cluster.name": "aurigraph",
		"node.name":    Name,
		// One node: no discovery, no replicas (the template sets 0).
		"discovery.type": "single-node",
		// The one place fs snapshot repositories may live (Repository).
		"path.repo":             SnapshotsDir,
		"bootstrap.memory_lock": "true",
		// No outbound downloads from the log store.
		"ingest.geoip.downloader.enabled":                      "false",
		"xpack.license.self_generated.type":                    "basic",
		"xpack.security.enabled":                               "true",
		"xpack.security.enrollment.enabled":                    "false",
		"xpack.security.http.ssl.enabled":                      "true",
		"xpack.security.http.ssl.certificate":                  certFile,
		"xpack.security.http.ssl.key":                          keyFile,
		"xpack.security.http.ssl.certificate_authorities":      caFile,
		"xpack.security.transport.ssl.enabled":                 "true",
		"xpack.security.transport.ssl.certificate":             certFile,
		"xpack.security.transport.ssl.key":                     keyFile,
		"xpack.security.transport.ssl.certificate_authorities": caFile,
		// One node talks to itself: check the chain, not the name.
		"xpack.security.transport.ssl.verification_mode": "certificate",
	}
}

// heapSize formats megabytes as the JVM wants them: 2048 → "2g".
func heapSize(mb int) string {
	if mb%1024 == 0 {
		return fmt.Sprintf("%dg", mb/1024)
	}
	return fmt.Sprintf("%dm", mb)
}

// HealthCommand checks the cluster answers with at least yellow health. It
// runs in the container's shell and reads the password file there; the
// password reaches curl as a config on stdin, not as an argument.
func HealthCommand() []string {
	return []string{"CMD-SHELL", fmt.Sprintf(
		`printf 'user = "elastic:%%s"\n' "$(sed 's/[\\"]/\\&/g' %s)" | `+
			`curl -fsS -K - --cacert %s "%s/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null`,
		PasswordPath, CAPath, SelfURL())}
}

// SetupStdin is what the setup script reads: one password per line.
func SetupStdin(elastic, kibanaSystem, logstashWriter, grafanaReader pulumi.StringInput) pulumi.StringOutput {
	out := pulumi.Sprintf("%s\n%s\n%s\n%s\n", elastic, kibanaSystem, logstashWriter, grafanaReader)
	return pulumi.ToSecret(out).(pulumi.StringOutput)
}

// ContainerSpec is the Elasticsearch container: a read-only root that
// writes only to its tmpfs (Tmpfs) and the host's data and logs.
func ContainerSpec(args ElasticsearchArgs) container.Spec {
	// The memory limit holds the heap (MinMemoryMB): stacks validates it.
	heap := args.HeapMB
	if heap == 0 {
		heap = DefaultHeapMB
	}
	return container.Spec{
		Service:     Name,
		Name:        Name,
		Image:       args.Image,
		Networks:    args.Zones.For(Name),
		Resource:    args.Resources,
		Env:         Env(heap),
		SecretFiles: []container.SecretFile{{Name: PasswordFile, Content: args.ElasticPassword, Env: "ELASTIC_PASSWORD_FILE"}},
		SecretsDir:  container.SecretsDir(args.HostDir, Name),
		User:        fmt.Sprintf("%d:%d", UID, GID),
		Command:     Command(),
		// Writes go to the tmpfs (Tmpfs) and the host's data and logs only.
		ReadOnlyRootFS: true,
		Tmpfs:          Tmpfs(),
		// memory_lock keeps the heap out of swap; nofile comes from the defaults.
		Ulimits: map[string]int{"memlock": -1},
		Mounts: []container.Mount{
			{HostPath: path.Join(args.HostDir, "data"), Target: dataDir},
			{HostPath: path.Join(args.HostDir, "logs"), Target: logsDir},
			{HostPath: SnapshotsHostDir(args.HostDir), Target: SnapshotsDir},
			// Inside the ConfDir tmpfs: Docker mounts it first (shorter path).
			{HostPath: path.Join(args.HostDir, "certs"), Target: certsDir, ReadOnly: true},
		},
		Health: container.Health{
			Test: HealthCommand(), Interval: 30 * time.Second, Timeout: 10 * time.Second,
			StartPeriod: 3 * time.Minute, Retries: 5,
		},
		WaitHealthy: true,
		WaitTimeout: 10 * time.Minute,
	}
}

// NewElasticsearch creates the certificates on the host, the container and
// the setup step.
func NewElasticsearch(ctx *pulumi.Context, name string, args ElasticsearchArgs, opts ...pulumi.ResourceOption) (*Elasticsearch, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("elasticsearch %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.HostDir == "" || !path.IsAbs(args.HostDir) {
		return nil, fmt.Errorf("elasticsearch %s: an absolute host directory is required", name)
	}
	if args.ElasticPassword == nil || args.KibanaSystemPassword == nil || args.LogstashWriterPassword == nil || args.GrafanaReaderPassword == nil ||
		args.SnapshotPassword == nil {
		return nil, fmt.Errorf("elasticsearch %s: the elastic, kibana_system, logstash_writer, grafana_reader and snapshot_manager passwords are required", name)
	}
	setup, err := RenderSetupScript(SetupValues{
		Logs: DefaultLogs(args.RetentionDays, args.WriterIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s: %w", name, err)
	}

	es := &Elasticsearch{}
	if err := ctx.RegisterComponentResource("aurigraph:elasticsearch:Elasticsearch", name, es, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(es)

	var files []pulumi.Resource
	for _, f := range []struct {
		file    string
		content pulumi.StringInput
	}{{"elasticsearch.crt", args.CertPem}, {"elasticsearch.key", args.KeyPem}, {"ca.crt", args.CACertPem}} {
		cmd, err := configfile.NewSecret(ctx, name+"-"+sanitize(f.file), configfile.SecretArgs{
			Host: args.Engine.Host, Path: path.Join(args.HostDir, "certs", f.file), Content: f.content,
			Owner: fmt.Sprintf("%d:%d", UID, GID), Mode: "0600",
		}, parent)
		if err != nil {
			return nil, err
		}
		files = append(files, cmd)
	}

	spec := ContainerSpec(args)
	secrets, err := configfile.NewContainerSecrets(ctx, name+"-secrets", args.Engine.Host, spec, parent)
	if err != nil {
		return nil, err
	}
	c, err := container.New(ctx, name, spec, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append(files, secrets.Copies...)))
	if err != nil {
		return nil, err
	}
	es.Container = c

	stdin := SetupStdin(args.ElasticPassword, args.KibanaSystemPassword, args.LogstashWriterPassword, args.GrafanaReaderPassword)
	sum := sha256.Sum256([]byte(setup))
	ready, err := hostcmd.New(ctx, name+"-setup", hostcmd.Args{
		Connection:  args.Engine.Connection,
		Run:         pulumi.String(setup),
		Stdin:       stdin,
		SecretStdin: true,
		// A retention change (the rendered JSON) re-applies it; a new password
		// changes stdin, which runs the update. No secret goes into triggers.
		Triggers: pulumi.StringArray{pulumi.String(hex.EncodeToString(sum[:]))},
	}, parent, pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return nil, err
	}
	es.Ready = ready

	backups, err := newSnapshots(ctx, name, args, c, parent)
	if err != nil {
		return nil, err
	}
	es.Backups = backups

	es.URL = pulumi.String(URL()).ToStringOutput()
	es.ContainerName = c.Name
	es.HostName = pulumi.String(args.Engine.Name).ToStringOutput()
	es.IndexPattern = pulumi.String(IndexPattern).ToStringOutput()
	es.ILMPolicy = pulumi.String(PolicyName).ToStringOutput()
	es.RetentionDays = pulumi.Int(args.RetentionDays).ToIntOutput()
	return es, ctx.RegisterResourceOutputs(es, pulumi.Map{
		"url":           es.URL,
		"containerName": es.ContainerName,
		"hostName":      es.HostName,
		"indexPattern":  es.IndexPattern,
		"ilmPolicy":     es.ILMPolicy,
		"retentionDays": es.RetentionDays,
	})
}

func sanitize(s string) string {
	out := []byte(s)
	for i, b := range out {
		if b == '.' || b == '_' || b == '/' {
			out[i] = '-'
		}
	}
	return string(out)
}

// newSnapshots installs the snapshot user's password file, the scripts, the
// repository and user (a setup step) and the daily timer. The Source's Ready
// are the setup (Elasticsearch has verified it can write the repository) and
// the timer that fills it.
func newSnapshots(ctx *pulumi.Context, name string, args ElasticsearchArgs, c pulumi.Resource, parent pulumi.ResourceOption) (backupjob.Source, error) {
	v := DefaultSnapshots(args.HostDir)
	setup, err := RenderSnapshotSetup(v)
	if err != nil {
		return backupjob.Source{}, fmt.Errorf("elasticsearch %s: %w", name, err)
	}
	var files []configfile.File
	for _, s := range []struct {
		file   string
		render func(SnapshotValues) (string, error)
	}{{"snapshot.sh", RenderSnapshot}, {"restore.sh", RenderRestore}} {
		content, err := s.render(v)
		if err != nil {
			return backupjob.Source{}, fmt.Errorf("elasticsearch %s: %w", name, err)
		}
		files = append(files, configfile.File{Path: path.Join(BinDir(args.HostDir), s.file), Content: content, Mode: "0750"})
	}
	scripts, err := configfile.New(ctx, name+"-snapshot-scripts", configfile.Args{Host: args.Engine.Host, Files: files}, parent)
	if err != nil {
		return backupjob.Source{}, err
	}
	// Root's alone: the snapshot job runs as root and reads it with a builtin.
	password, err := configfile.NewSecret(ctx, name+"-snapshot-password", configfile.SecretArgs{
		Host: args.Engine.Host, Path: v.PasswordFile, Content: args.SnapshotPassword, Owner: "0:0", Mode: "0600",
	}, parent)
	if err != nil {
		return backupjob.Source{}, err
	}
	sum := sha256.Sum256([]byte(setup))
	registered, err := hostcmd.New(ctx, name+"-snapshot-setup", hostcmd.Args{
		Connection:  args.Engine.Connection,
		Run:         pulumi.String("bash -c " + shell.Quote(setup)),
		Stdin:       SnapshotSetupStdin(args.ElasticPassword, args.SnapshotPassword),
		SecretStdin: true,
		Triggers:    pulumi.StringArray{pulumi.String(hex.EncodeToString(sum[:]))},
	}, parent, pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return backupjob.Source{}, err
	}
	timers, err := backupjob.NewTimers(ctx, name+"-snapshot-timers", backupjob.TimersArgs{
		Connection:  args.Engine.Connection,
		TimerValues: backupjob.TimerValues{Jobs: Jobs(args.HostDir)},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{registered, password}, scripts.Copies...)))
	if err != nil {
		return backupjob.Source{}, err
	}
	return backupjob.Source{
		Store: Store, Engine: args.Engine, Paths: []string{SnapshotsHostDir(args.HostDir)},
		Ready: []pulumi.Resource{registered, timers},
	}, nil
}
