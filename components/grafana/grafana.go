// Package grafana deploys Grafana with provisioned datasources (Prometheus,
// Elasticsearch, Jaeger, Redis) and the SPEC's five dashboards, and the
// hourly copies of its database (backup.go). Passwords reach it only as
// secret files.
package grafana

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// URL is where the gateway reaches Grafana; Address is its /metrics endpoint.
func URL() string     { return "http://" + Address() }
func Address() string { return fmt.Sprintf("%s:%d", ContainerName, Port) }

// Layout inside the container and on the host.
const (
	ContainerName = "grafana"
	UID           = 472 // the image's grafana user (group root)
	GID           = 0
	Port          = 3000
	// RedisPlugin is the Redis datasource plugin, pinned.
	RedisPlugin = "redis-datasource 2.2.0"

	provisioningMount = "/etc/grafana/provisioning"
	dashboardsMount   = "/etc/grafana/dashboards"
	certsMount        = "/etc/grafana/certs"
	dataMount         = "/var/lib/grafana"
	caFile            = "ca.pem"
)

// Host directories under the service directory.
func provisioningDir(serviceDir string) string { return path.Join(serviceDir, "provisioning") }
func dashboardsDir(serviceDir string) string   { return path.Join(serviceDir, "dashboards") }
func certsDir(serviceDir string) string        { return path.Join(serviceDir, "certs") }
func dataDir(serviceDir string) string         { return path.Join(serviceDir, "data") }

// Dirs are the host directories the deployment needs under serviceDir.
func Dirs(serviceDir string) []host.Dir {
	prov := provisioningDir(serviceDir)
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: prov, UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(prov, "datasources"), UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(prov, "dashboards"), UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(prov, "plugins"), UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(prov, "alerting"), UID: 0, GID: 0, Mode: "0755"},
		{Path: dashboardsDir(serviceDir), UID: 0, GID: 0, Mode: "0755"},
		{Path: certsDir(serviceDir), UID: 0, GID: 0, Mode: "0755"},
		{Path: dataDir(serviceDir), UID: UID, GID: GID, Mode: "0750"},
		{Path: binDir(serviceDir), UID: 0, GID: 0, Mode: "0750"},
		// The database copies: root's alone.
		{Path: backupDir(serviceDir), UID: 0, GID: 0, Mode: "0700"},
	}
}

// Args configures Grafana on one host.
type Args struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones      *network.Zones
	Resources  container.Resources
	ServiceDir string
	RootURL    string // public URL the gateway serves Grafana on
	// Datasources; CAFile is filled by the component.
	Datasources DatasourceValues

	AdminPassword pulumi.StringInput // secret
	// ElasticsearchPassword is the logs data source user's (a read-only
	// user, never elastic). Secret.
	ElasticsearchPassword pulumi.StringInput
	RedisPassword         pulumi.StringInput // secret
	// CACertPem is the CA of Elasticsearch's certificate (an Output).
	CACertPem pulumi.StringInput
}

// Grafana is the deployed server.
type Grafana struct {
	pulumi.ResourceState

	Container  *docker.Container
	Provision  *configfile.Set
	Dashboards *configfile.Set
	URL        pulumi.StringOutput `pulumi:"url"`

	// Backups are the database copies, for the off-host copies.
	Backups backupjob.Source
}

// New renders the provisioning, puts it on the host and runs the container.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Grafana, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("grafana %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.AdminPassword == nil || args.ElasticsearchPassword == nil || args.RedisPassword == nil || args.CACertPem == nil {
		return nil, fmt.Errorf("grafana %s: the admin, Elasticsearch and Redis passwords and the CA are required", name)
	}
	ds := args.Datasources
	ds.CAFile = path.Join(certsMount, caFile)
	datasources, err := RenderDatasources(ds)
	if err != nil {
		return nil, err
	}
	provider, err := RenderDashboardProvider(ProviderValues{Path: dashboardsMount})
	if err != nil {
		return nil, err
	}
	dashboards, err := Dashboards()
	if err != nil {
		return nil, err
	}

	g := &Grafana{}
	if err := ctx.RegisterComponentResource("aurigraph:grafana:Grafana", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	prov := provisioningDir(args.ServiceDir)

	ca, err := configfile.NewSecret(ctx, name+"-ca", configfile.SecretArgs{
		Host: args.Engine.Host, Path: path.Join(certsDir(args.ServiceDir), caFile), Content: args.CACertPem,
		Owner: fmt.Sprintf("%d:%d", UID, GID), Mode: "0644",
	}, parent)
	if err != nil {
		return nil, err
	}
	// Datasources are read at start only: a change restarts (never recreates) Grafana.
	g.Provision, err = configfile.New(ctx, name+"-provisioning", configfile.Args{
		Host: args.Engine.Host,
		Files: []configfile.File{
			{Path: path.Join(prov, "datasources", "datasources.yml"), Content: datasources},
			{Path: path.Join(prov, "dashboards", "dashboards.yml"), Content: provider},
		},
		Container: ContainerName,
		Reload:    "docker restart " + ContainerName,
	}, parent)
	if err != nil {
		return nil, err
	}
	// Dashboards are re-read by the provider every 30 s: no reload needed.
	var files []configfile.File
	for _, d := range dashboards {
		files = append(files, configfile.File{Path: path.Join(dashboardsDir(args.ServiceDir), d.File), Content: d.JSON})
	}
	g.Dashboards, err = configfile.New(ctx, name+"-dashboards", configfile.Args{Host: args.Engine.Host, Files: files}, parent)
	if err != nil {
		return nil, err
	}
	ready := append([]pulumi.Resource{ca}, g.Provision.Copies...)
	ready = append(ready, g.Dashboards.Copies...)

	spec := container.Spec{
		Service:        "grafana",
		Name:           ContainerName,
		Image:          args.Image,
		Networks:       args.Zones.For(ContainerName),
		Resource:       args.Resources,
		User:           fmt.Sprintf("%d:%d", UID, GID),
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=128m"},
		Env: map[string]string{
			"GF_SERVER_ROOT_URL":             args.RootURL,
			"GF_SECURITY_ADMIN_USER":         "admin",
			"GF_SECURITY_COOKIE_SECURE":      "true",
			"GF_SECURITY_DISABLE_GRAVATAR":   "true",
			"GF_AUTH_ANONYMOUS_ENABLED":      "false",
			"GF_USERS_ALLOW_SIGN_UP":         "false",
			"GF_USERS_ALLOW_ORG_CREATE":      "false",
			"GF_ANALYTICS_REPORTING_ENABLED": "false",
			"GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
			"GF_PATHS_PROVISIONING":          provisioningMount,
			"GF_INSTALL_PLUGINS":             RedisPlugin,
			"GF_LOG_MODE":                    "console",
			"GF_METRICS_ENABLED":             "true",
		},
		SecretFiles: []container.SecretFile{
			{Name: AdminPasswordFile, Content: args.AdminPassword, Env: "GF_SECURITY_ADMIN_PASSWORD__FILE"},
			{Name: ElasticPasswordFile, Content: args.ElasticsearchPassword},
			{Name: RedisPasswordFile, Content: args.RedisPassword},
		},
		SecretsDir: container.SecretsDir(args.ServiceDir, ContainerName),
		Mounts: []container.Mount{
			{HostPath: prov, Target: provisioningMount, ReadOnly: true},
			{HostPath: dashboardsDir(args.ServiceDir), Target: dashboardsMount, ReadOnly: true},
			{HostPath: certsDir(args.ServiceDir), Target: certsMount, ReadOnly: true},
			{HostPath: dataDir(args.ServiceDir), Target: dataMount},
		},
		Health: container.HTTPHealth(Port, "/api/health", 90*time.Second), // first start installs the plugin
	}
	secrets, err := configfile.NewContainerSecrets(ctx, name+"-secrets", args.Engine.Host, spec, parent)
	if err != nil {
		return nil, err
	}
	c, err := container.New(ctx, ContainerName, spec, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append(ready, secrets.Copies...)))
	if err != nil {
		return nil, err
	}
	timers, err := newBackups(ctx, name, args, c, parent)
	if err != nil {
		return nil, err
	}
	// Host preparation creates backups/ (Dirs); the timer fills it.
	g.Backups = backupjob.Source{Store: Store, Engine: args.Engine, Paths: BackupPaths(args.ServiceDir),
		Ready: []pulumi.Resource{args.Engine.Prepared, timers}}
	g.Container = c
	g.URL = pulumi.Sprintf("http://%s:%d", ContainerName, Port)
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{"url": g.URL})
}

// newBackups installs backup.sh and restore.sh and the hourly timer (with
// sqlite3 on the host); it returns the timers step.
func newBackups(ctx *pulumi.Context, name string, args Args, c pulumi.Resource, parent pulumi.ResourceOption) (pulumi.Resource, error) {
	bv := Backup(args.ServiceDir)
	backup, err := RenderBackup(bv)
	if err != nil {
		return nil, err
	}
	restore, err := RenderRestore(bv)
	if err != nil {
		return nil, err
	}
	bin := binDir(args.ServiceDir)
	scripts, err := configfile.New(ctx, name+"-scripts", configfile.Args{
		Host: args.Engine.Host, Files: []configfile.File{
			{Path: path.Join(bin, "backup.sh"), Content: backup, Mode: "0750"},
			{Path: path.Join(bin, "restore.sh"), Content: restore, Mode: "0750"},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	return backupjob.NewTimers(ctx, name+"-backup-timers", backupjob.TimersArgs{
		Connection:  args.Engine.Connection,
		TimerValues: backupjob.TimerValues{Jobs: Jobs(bin), Packages: BackupPackages},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{c}, scripts.Copies...)))
}
