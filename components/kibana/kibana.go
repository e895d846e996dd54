// Package kibana is the log UI: Kibana 8 over TLS, connected to Elasticsearch
// as kibana_system with the stack's CA, reached only through the gateway
// (no published port), with data views over the log indices Elasticsearch
// names.
package kibana

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/network"
)

// Container facts shared with the tests and the wiring.
const (
	Name = "kibana"
	Port = 5601
	UID  = 1000
	GID  = 0

	configDir = "/usr/share/kibana/aurigraph/config"
	certsDir  = "/usr/share/kibana/aurigraph/certs"
	// dataDir is the image's path.data: Kibana keeps its server UUID
	// there (task manager ownership), so it lives on the host and survives
	// a new container. Everything else under the root is read-only.
	dataDir = "/usr/share/kibana/data"
	// CAPath, CertPath, KeyPath are inside the container.
	CAPath   = certsDir + "/ca.crt"
	CertPath = certsDir + "/kibana.crt"
	KeyPath  = certsDir + "/kibana.key"

	// Secret environment variables kibana.yml refers to. Their names are
	// not Kibana settings, so the image passes them on as environment
	// only, never as command-line flags.
	PasswordEnv        = "AURIGRAPH_ES_PASSWORD"
	SecurityKeyEnv     = "AURIGRAPH_SECURITY_KEY"
	SavedObjectsKeyEnv = "AURIGRAPH_SAVED_OBJECTS_KEY"
	ReportingKeyEnv    = "AURIGRAPH_REPORTING_KEY"
)

// EncryptionKeys are Kibana's three 32+ character keys. Rotating the
// saved-objects key makes existing encrypted saved objects unreadable
// unless the old key is kept as a decryption-only key.
type EncryptionKeys struct {
	Security, SavedObjects, Reporting pulumi.StringInput
}

// KibanaArgs configure the UI.
type KibanaArgs struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Resources container.Resources
	HostDir   string // e.g. /srv/aurigraph/kibana: config/ and certs/
	// PublicBaseURL is the gateway's name for Kibana, https://….
	PublicBaseURL    string
	ElasticsearchURL string
	Username         string // kibana_system
	Password         pulumi.StringInput
	Keys             EncryptionKeys
	CertPem          pulumi.StringInput // for TLSHosts
	KeyPem           pulumi.StringInput
	CACertPem        pulumi.StringInput
	// Logs is the log store: Kibana starts after its setup (kibana_system's
	// password), and the data view of all logs searches its IndexPattern.
	Logs *elasticsearch.Elasticsearch
	// Streams are Logstash's streams with their indices: one data view each.
	Streams []Stream
	// ElasticPassword is the elastic superuser's, for the data view step
	// only (on its stdin), as the Elasticsearch setup uses it.
	ElasticPassword pulumi.StringInput
}

// Kibana is the running UI.
type Kibana struct {
	pulumi.ResourceState

	Container *docker.Container
	// DataViews is the step that writes the data views.
	DataViews pulumi.Resource

	URL           pulumi.StringOutput `pulumi:"url"`
	PublicURL     pulumi.StringOutput `pulumi:"publicUrl"`
	ContainerName pulumi.StringOutput `pulumi:"containerName"`
}

// TLSHosts are every host name Kibana's HTTPS port is reached by: the
// gateway and the health check (which resolves Name to 127.0.0.1) both use
// Name. Its certificate holds exactly these.
func TLSHosts() []string { return []string{Name} }

// URL is how the gateway reaches Kibana on the overlay network (TLS, name Name).
func URL() string { return fmt.Sprintf("https://%s:%d", Name, Port) }

// Dirs are the host directories the container needs.
func Dirs(hostDir string) []host.Dir {
	return []host.Dir{
		{Path: hostDir, UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "config"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "certs"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(hostDir, "data"), UID: UID, GID: GID, Mode: "0750"},
	}
}

// Tmpfs are the in-memory directories of the read-only root: Node's
// os.tmpdir(), where reporting's headless Chromium keeps its profile.
// Nothing there is executed.
func Tmpfs() map[string]string {
	return map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=256m,mode=1777"}
}

// Config renders kibana.yml for args.
func (a KibanaArgs) Config() (string, error) {
	return RenderConfig(ConfigValues{
		ServerName: Name, Port: Port, PublicBaseURL: a.PublicBaseURL,
		CertPath: CertPath, KeyPath: KeyPath, ElasticsearchURL: a.ElasticsearchURL,
		Username: a.Username, CAPath: CAPath,
		PasswordEnv: PasswordEnv, SecurityKeyEnv: SecurityKeyEnv,
		SavedObjectsKeyEnv: SavedObjectsKeyEnv, ReportingKeyEnv: ReportingKeyEnv,
	})
}

// HealthCommand asks the status API over TLS under the certificate's name.
func HealthCommand() []string {
	return []string{"CMD-SHELL", fmt.Sprintf(
		"curl -fsS -o /dev/null --cacert %s --resolve %s:%d:127.0.0.1 %s/api/status",
		CAPath, Name, Port, URL())}
}

// Setup are the data view step's values for the log index pattern.
func (a KibanaArgs) Setup(pattern string) SetupValues {
	return SetupValues{
		Pattern: pattern, Views: LogDataViews(pattern, a.Streams), Container: Name, CAPath: CAPath,
		Host: Name, Port: Port,
		// The container is healthy before the step runs: this covers a
		// slow saved-objects migration, not a start.
		WaitAttempts: 60, WaitSeconds: 5,
	}
}

// SetupStdin is what the data view step reads: the elastic password.
func SetupStdin(elastic pulumi.StringInput) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.Sprintf("%s\n", elastic)).(pulumi.StringOutput)
}

// NewKibana writes the settings and certificates, runs the container and
// writes the data views of the logs.
func NewKibana(ctx *pulumi.Context, name string, args KibanaArgs, opts ...pulumi.ResourceOption) (*Kibana, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("kibana %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.HostDir == "" || !path.IsAbs(args.HostDir) {
		return nil, fmt.Errorf("kibana %s: an absolute host directory is required", name)
	}
	if args.Password == nil || args.Keys.Security == nil || args.Keys.SavedObjects == nil || args.Keys.Reporting == nil {
		return nil, fmt.Errorf("kibana %s: the password and the three encryption keys are required", name)
	}
	if args.Logs == nil || args.ElasticPassword == nil {
		return nil, fmt.Errorf("kibana %s: the log store and the elastic password are required", name)
	}
	// The streams' views are checked now: the whole script is rendered
	// once the log store's index pattern is known.
	for _, v := range LogDataViews("", args.Streams)[1:] {
		if _, err := RenderDataView(v); err != nil {
			return nil, fmt.Errorf("kibana %s: %w", name, err)
		}
	}
	cfg, err := args.Config()
	if err != nil {
		return nil, fmt.Errorf("kibana %s: %w", name, err)
	}
	nodeOpts, err := RenderNodeOptions(NodeOptionsValues{HeapMB: args.Resources.MemoryMB / 2})
	if err != nil {
		return nil, fmt.Errorf("kibana %s: %w", name, err)
	}

	k := &Kibana{}
	if err := ctx.RegisterComponentResource("aurigraph:kibana:Kibana", name, k, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(k)

	// Kibana reads its settings at start only: a change restarts it.
	files, err := configfile.New(ctx, name+"-config", configfile.Args{
		Host: args.Engine.Host,
		Files: []configfile.File{
			{Path: path.Join(args.HostDir, "config", "kibana.yml"), Content: cfg},
			{Path: path.Join(args.HostDir, "config", "node.options"), Content: nodeOpts},
		},
		Container: Name, Reload: "docker restart " + Name,
	}, parent)
	if err != nil {
		return nil, err
	}
	deps := append([]pulumi.Resource{}, files.Copies...)
	// Kibana reads its certificates at start only: a rotation restarts it.
	certs := path.Join(args.HostDir, "certs")
	owner := fmt.Sprintf("%d:%d", UID, GID)
	tls, err := configfile.NewSecrets(ctx, name+"-tls", configfile.SecretsArgs{
		Host: args.Engine.Host,
		Files: []configfile.Secret{
			{Path: path.Join(certs, "kibana.crt"), Content: args.CertPem, Owner: owner, Mode: "0600"},
			{Path: path.Join(certs, "kibana.key"), Content: args.KeyPem, Owner: owner, Mode: "0600"},
			{Path: path.Join(certs, "ca.crt"), Content: args.CACertPem, Owner: owner, Mode: "0600"},
		},
		Container: Name,
		Reload:    "docker restart " + Name,
		// A certificate and key that do not match never replace the live ones.
		KeyPair: &configfile.KeyPair{Cert: path.Join(certs, "kibana.crt"), Key: path.Join(certs, "kibana.key")},
	}, parent)
	if err != nil {
		return nil, err
	}
	deps = append(deps, tls.Copies...)
	deps = append(deps, args.Logs.Ready)

	c, err := container.New(ctx, name, container.Spec{
		Service:  Name,
		Name:     Name,
		Image:    args.Image,
		Networks: args.Zones.For(Name),
		Resource: args.Resources,
		Env:      map[string]string{"KBN_PATH_CONF": configDir},
		SecretEnv: map[string]pulumi.StringInput{
			PasswordEnv:        args.Password,
			SecurityKeyEnv:     args.Keys.Security,
			SavedObjectsKeyEnv: args.Keys.SavedObjects,
			ReportingKeyEnv:    args.Keys.Reporting,
		},
		User: fmt.Sprintf("%d:%d", UID, GID),
		// The image's entrypoint (kibana-docker) writes nothing; Kibana
		// writes its data directory and temporary files only.
		ReadOnlyRootFS: true,
		Tmpfs:          Tmpfs(),
		Mounts: []container.Mount{
			{HostPath: path.Join(args.HostDir, "config"), Target: configDir, ReadOnly: true},
			{HostPath: path.Join(args.HostDir, "certs"), Target: certsDir, ReadOnly: true},
			{HostPath: path.Join(args.HostDir, "data"), Target: dataDir},
		},
		Health: container.Health{
			Test: HealthCommand(), Interval: 30 * time.Second, Timeout: 10 * time.Second,
			StartPeriod: 3 * time.Minute, Retries: 5,
		},
		WaitHealthy: true,
		WaitTimeout: 10 * time.Minute,
	}, parent, pulumi.Provider(args.Engine.Provider), pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	k.Container = c

	// The script names the index pattern Elasticsearch's output gives; a
	// change of it (the rendered script) rewrites the views, a new password
	// changes stdin only. No secret goes into triggers.
	setup := args.Logs.IndexPattern.ApplyT(func(pattern string) (string, error) {
		return RenderSetupScript(args.Setup(pattern))
	}).(pulumi.StringOutput)
	sum := setup.ApplyT(func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}).(pulumi.StringOutput)
	views, err := hostcmd.New(ctx, name+"-data-views", hostcmd.Args{
		Connection:  args.Engine.Connection,
		Run:         setup,
		Stdin:       SetupStdin(args.ElasticPassword),
		SecretStdin: true,
		Triggers:    pulumi.StringArray{sum},
	}, parent, pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return nil, err
	}
	k.DataViews = views

	k.URL = pulumi.String(URL()).ToStringOutput()
	k.PublicURL = pulumi.String(args.PublicBaseURL).ToStringOutput()
	k.ContainerName = c.Name
	return k, ctx.RegisterResourceOutputs(k, pulumi.Map{
		"url":           k.URL,
		"publicUrl":     k.PublicURL,
		"containerName": k.ContainerName,
	})
}
