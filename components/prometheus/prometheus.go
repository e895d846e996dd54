// Package prometheus deploys Prometheus: the scrape configuration of every
// application replica, data service, exporter and host, the SPEC's alert
// rules, and a container that reloads (SIGHUP) instead of being recreated
// when either changes.
package prometheus

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// URL is where Grafana and the gateway reach Prometheus on the network.
func URL() string { return fmt.Sprintf("http://%s:%d", ContainerName, Port) }

// Layout inside the container and on the host.
const (
	ContainerName = "prometheus"
	UID           = 65534 // nobody: the image's own user
	Port          = 9090
	configMount   = "/etc/prometheus"
	dataMount     = "/prometheus"
	configFile    = "prometheus.yml"
	rulesFile     = "alerts.yml"
	vaultCAFile   = "vault-ca.pem"
)

// ConfigDir is the host directory of the rendered files (mounted read-only).
func ConfigDir(serviceDir string) string { return path.Join(serviceDir, "config") }

// DataDir is the host directory of the TSDB, owned by UID.
func DataDir(serviceDir string) string { return path.Join(serviceDir, "data") }

// Dirs are the host directories the deployment needs under serviceDir.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: ConfigDir(serviceDir), UID: 0, GID: 0, Mode: "0755"},
		{Path: DataDir(serviceDir), UID: UID, GID: UID, Mode: "0750"},
	}
}

// Args configures Prometheus on one host.
type Args struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones         *network.Zones
	Resources     container.Resources
	RetentionDays int
	ServiceDir    string // e.g. /srv/aurigraph/prometheus
	ExternalURL   string // public URL the gateway serves the UI on (links in alerts)
	// Config is the scrape configuration; the component fills the file paths.
	Config ConfigValues
	Rules  RulesValues
	// VaultCACertPem is the CA that signed Vault's certificate. It is not a
	// secret, but it is an Output, so it travels as a secret file.
	VaultCACertPem pulumi.StringInput
	// Alertmanager receives the alerts (and is scraped); the server starts
	// after its container. Required: rules nobody receives are noise.
	Alertmanager *alertmanager.Alertmanager
}

// Prometheus is the deployed server.
type Prometheus struct {
	pulumi.ResourceState

	Container *docker.Container
	Files     *configfile.Set
	// URL is where the cluster reaches the server (Grafana's datasource).
	URL pulumi.StringOutput `pulumi:"url"`
	// ConfigHash identifies the rendered files; it changes on a reload.
	ConfigHash pulumi.StringOutput `pulumi:"configHash"`
}

// New renders the configuration, puts it on the host and runs the container.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Prometheus, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("prometheus %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.Alertmanager == nil || args.Alertmanager.Container == nil {
		return nil, fmt.Errorf("prometheus %s: an Alertmanager is required (its alerts reach no one otherwise)", name)
	}
	if args.RetentionDays <= 0 {
		return nil, fmt.Errorf("prometheus %s: retention must be at least one day", name)
	}
	cfgValues := args.Config
	cfgValues.RulesFile = path.Join(configMount, rulesFile)
	cfgValues.VaultCAFile = path.Join(configMount, vaultCAFile)
	cfgValues.Alertmanagers = []string{args.Alertmanager.Address}
	if args.VaultCACertPem == nil {
		cfgValues.Vault = ""
	}
	config, err := RenderConfig(cfgValues)
	if err != nil {
		return nil, err
	}
	rules, err := RenderRules(args.Rules)
	if err != nil {
		return nil, err
	}

	p := &Prometheus{}
	if err := ctx.RegisterComponentResource("aurigraph:prometheus:Prometheus", name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)
	hostDir := ConfigDir(args.ServiceDir)

	var ready []pulumi.Resource
	if args.VaultCACertPem != nil {
		ca, err := configfile.NewSecret(ctx, name+"-vault-ca", configfile.SecretArgs{
			Host: args.Engine.Host, Path: path.Join(hostDir, vaultCAFile), Content: args.VaultCACertPem,
			Owner: fmt.Sprintf("%d:%d", UID, UID), Mode: "0644",
		}, parent)
		if err != nil {
			return nil, err
		}
		ready = append(ready, ca)
	}
	files, err := configfile.New(ctx, name+"-config", configfile.Args{
		Host: args.Engine.Host,
		Files: []configfile.File{
			{Path: path.Join(hostDir, configFile), Content: config},
			{Path: path.Join(hostDir, rulesFile), Content: rules},
		},
		Container: ContainerName,
		Reload:    ReloadCommand,
		Validate:  &configfile.Validate{Dir: hostDir, Command: ValidateCommand, Image: args.Image},
	}, append([]pulumi.ResourceOption{parent}, pulumi.DependsOn(ready))...)
	if err != nil {
		return nil, err
	}
	p.Files = files
	ready = append(ready, files.Copies...)

	command := []string{
		"--config.file=" + path.Join(configMount, configFile),
		"--storage.tsdb.path=" + dataMount,
		fmt.Sprintf("--storage.tsdb.retention.time=%dd", args.RetentionDays),
		"--web.console.libraries=/usr/share/prometheus/console_libraries",
		"--web.console.templates=/usr/share/prometheus/consoles",
	}
	if args.ExternalURL != "" {
		command = append(command, "--web.external-url="+args.ExternalURL, "--web.route-prefix=/")
	}
	c, err := container.New(ctx, ContainerName, container.Spec{
		Service:        "prometheus",
		Name:           ContainerName,
		Image:          args.Image,
		Networks:       args.Zones.For(ContainerName),
		Resource:       args.Resources,
		User:           fmt.Sprintf("%d:%d", UID, UID),
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=64m"},
		Command:        command,
		Mounts: []container.Mount{
			{HostPath: hostDir, Target: configMount, ReadOnly: true},
			{HostPath: DataDir(args.ServiceDir), Target: dataMount},
		},
		Health: container.HTTPHealth(Port, "/-/healthy", 60*time.Second),
	}, parent, pulumi.Provider(args.Engine.Provider), pulumi.DependsOn(append(ready, args.Alertmanager.Container)))
	if err != nil {
		return nil, err
	}
	p.Container = c
	p.URL = pulumi.Sprintf("http://%s:%d", ContainerName, Port)
	p.ConfigHash = pulumi.String(files.Hash).ToStringOutput()
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{
		"url":        p.URL,
		"configHash": p.ConfigHash,
	})
}

// ReloadCommand reloads with SIGHUP: the files were checked before they
// were installed (ValidateCommand); the container is never recreated.
const ReloadCommand = "docker kill -s HUP " + ContainerName

// ValidateCommand checks a candidate configuration directory with the
// promtool of the server's own image before anything live changes: the
// configuration (with the rule files it names, which resolve inside the
// candidate mounted where the server reads its configuration) and the rules
// on their own. A throw-away container, since
// the running one cannot see the staging directory (nor exists on the first
// deployment); no network, as the checks read files only.
var ValidateCommand = fmt.Sprintf(`docker run --rm --network none --user %[1]d:%[1]d --read-only \
  -v "$CANDIDATE":%[2]s:ro --entrypoint promtool "$IMAGE" check config %[2]s/%[3]s
docker run --rm --network none --user %[1]d:%[1]d --read-only \
  -v "$CANDIDATE":%[2]s:ro --entrypoint promtool "$IMAGE" check rules %[2]s/%[4]s`, UID, configMount, configFile, rulesFile)
