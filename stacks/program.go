package stacks

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/cluster"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/components/pki"
)

// deployment is what every service's wiring needs: the config, where things
// run, the prepared hosts, the network and the certificates.
type deployment struct {
	ctx     *pulumi.Context
	cfg     *Config
	place   Placement
	hosts   map[string]*host.Host
	order   []*host.Host
	network *network.Overlay
	pki     *pki.PKI
	// certs are the service certificates, complete once the PKI exists.
	certs serviceCerts
	urls  pulumi.StringMap
	// services collects each service's outputs for the stack.
	services map[string]pulumi.Map
	// backup is the pre-deployment PostgreSQL backup: application
	// containers wait for it, so every release starts from a fresh dump.
	backup pulumi.Resource
	// app is the application: the gateway waits for its containers.
	app *app.Application
	// tracing is Jaeger: the application's tracing endpoints are its
	// outputs, so the replicas wait for it.
	tracing *jaeger.Jaeger
	// logs is the log store: Logstash and Kibana start after its setup
	// (users, retention policy), and Kibana's data views name its indices.
	logs *elasticsearch.Elasticsearch
	// alertmanager receives Prometheus's alerts: Prometheus is given it.
	alertmanager *alertmanager.Alertmanager
}

// appContainers are every application container, for the gateway to wait on.
func (d *deployment) appContainers() []pulumi.Resource {
	if d.app == nil {
		return nil
	}
	out := make([]pulumi.Resource, 0, len(d.app.Containers))
	for _, c := range d.app.Containers {
		out = append(out, c)
	}
	return out
}

// loggingReady is what Logstash waits for (Kibana is given the log store).
func (d *deployment) loggingReady() []pulumi.Resource {
	if d.logs == nil {
		return nil
	}
	return []pulumi.Resource{d.logs.Ready}
}

// service deploys one service kind; dirs lists the host directories it needs.
type service struct {
	name   string
	deploy func(*deployment) error
	dirs   func(dataPath string) []host.Dir
}

// services in deployment order: data first, the gateway last.
var services = []service{
	{Postgres, deployPostgres, dirsPostgres},
	{Redis, deployRedis, dirsRedis},
	{Vault, deployVault, dirsVault},
	{Elasticsearch, deployElasticsearch, dirsElasticsearch},
	{Logstash, deployLogstash, dirsLogstash},
	{Kibana, deployKibana, dirsKibana},
	{Jaeger, deployJaeger, dirsJaeger},
	{Alertmanager, deployAlertmanager, dirsAlertmanager},
	{Prometheus, deployPrometheus, dirsPrometheus},
	{Grafana, deployGrafana, dirsGrafana},
	{App, deployApp, dirsApp},
	{Nginx, deployGateway, dirsGateway},
}

// Run is the Pulumi program: load and validate config, then build the platform.
func Run(ctx *pulumi.Context) error {
	cfg, err := Load(ctx)
	if err != nil {
		return err
	}
	out, err := Deploy(ctx, cfg)
	if err != nil {
		return err
	}
	ctx.Export("hostRoles", out.HostRoles)
	ctx.Export("urls", out.URLs)
	ctx.Export("caCertificate", out.CACertificate)
	ctx.Export("pkiRenewalDue", out.PKIRenewalDue)
	for _, name := range sortedKeys(out.Services) {
		ctx.Export(name, out.Services[name])
	}
	return nil
}

// Outputs are the stack outputs.
type Outputs struct {
	HostRoles     pulumi.StringMap    // host name → comma-separated roles
	URLs          pulumi.StringMap    // public URLs by name
	CACertificate pulumi.StringOutput // the stack CA, for clients to trust
	// PKIRenewalDue lists the certificates inside their early-renewal window:
	// raise pki.rotation when it is not empty.
	PKIRenewalDue pulumi.StringArrayOutput
	// Services are per-service facts (host, container, address) by service.
	Services map[string]pulumi.Map
}

// Deploy builds every resource from a validated configuration.
func Deploy(ctx *pulumi.Context, cfg *Config) (*Outputs, error) {
	d := &deployment{ctx: ctx, cfg: cfg, place: Place(cfg), hosts: map[string]*host.Host{}, urls: pulumi.StringMap{}, services: map[string]pulumi.Map{}}
	if err := d.deployHosts(); err != nil {
		return nil, err
	}
	if err := d.deployCluster(); err != nil {
		return nil, err
	}
	p, err := deployPKI(d)
	if err != nil {
		return nil, err
	}
	d.pki = p
	if d.certs, err = issuedCerts(p); err != nil {
		return nil, err
	}
	if err := d.deployLogForwarding(); err != nil {
		return nil, err
	}
	for _, s := range services {
		if err := s.deploy(d); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	roles := pulumi.StringMap{}
	for _, h := range d.order {
		roles[h.Name] = h.RoleOutput
	}
	return &Outputs{HostRoles: roles, URLs: d.urls, CACertificate: d.pki.CACertPem,
		PKIRenewalDue: d.pki.RenewalDue, Services: d.services}, nil
}

// serviceCerts are the certificates of the services that speak TLS on the
// overlay, as the PKI issued them (pkiArgs lists them).
type serviceCerts struct {
	Elasticsearch, Kibana, Vault, Logstash pki.Cert
}

// issuedCerts takes the service certificates from the PKI once, so the
// wiring receives each as a value whose outputs carry the dependency.
func issuedCerts(p *pki.PKI) (serviceCerts, error) {
	var out serviceCerts
	for _, c := range []struct {
		name string
		to   *pki.Cert
	}{{Elasticsearch, &out.Elasticsearch}, {Kibana, &out.Kibana}, {Vault, &out.Vault}, {Logstash, &out.Logstash}} {
		cert := p.Cert(c.name)
		if cert == nil {
			return out, fmt.Errorf("no certificate is issued for %s", c.name)
		}
		*c.to = *cert
	}
	return out, nil
}

// host returns the host a service is placed on.
func (d *deployment) host(svc string) *host.Host { return d.hosts[d.place.Services[svc]] }

// serviceDir is a service's directory on its host, e.g. /srv/aurigraph/nginx.
func (d *deployment) serviceDir(svc string) string { return ServiceDir(d.cfg, svc) }

// image pulls the pinned image of key on h.
func (d *deployment) image(h *host.Host, key string) (pulumi.StringOutput, error) {
	return h.Image(d.ctx, d.cfg.Images[key])
}

// hostDirs is every directory the services placed on a host need.
func (d *deployment) hostDirs(name string) []host.Dir {
	var dirs []host.Dir
	for _, s := range services {
		placed := d.place.Services[s.name] == name
		if s.name == App {
			placed = len(d.place.ReplicasOn(name)) > 0
		}
		if placed {
			dirs = append(dirs, s.dirs(d.cfg.Preflight.DataPath)...)
		}
	}
	return dirs
}

func (d *deployment) deployCluster() error {
	var managers []string
	for _, h := range d.cfg.Hosts {
		if h.HasRole(RoleManager) {
			managers = append(managers, h.Name)
		}
	}
	swarm, err := cluster.NewSwarm(d.ctx, "swarm", cluster.SwarmArgs{
		Hosts: d.order, Managers: managers, StepTimeout: fmt.Sprintf("%dm", d.cfg.SSH.StepTimeoutMinutes),
	})
	if err != nil {
		return err
	}
	for _, h := range d.order {
		if err := h.ConnectDocker(d.ctx, []pulumi.Resource{swarm.Joined(h.Name)}); err != nil {
			return err
		}
	}
	d.network, err = network.NewOverlay(d.ctx, d.cfg.Network.Name, network.OverlayArgs{
		Manager: d.hosts[managers[0]], Name: d.cfg.Network.Name, Subnet: d.cfg.Network.Subnet,
	})
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
