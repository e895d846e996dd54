package stacks

import (
	"fmt"
	"github.com/aurigraph/infra/components/backupjob"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/cluster"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/components/pki"
)

// deployment is what every service's wiring needs: the config, where things
// run, the hosts' Docker engines, the trust zones and the certificates. Deploy
// builds it whole before the first service and nothing changes it afterwards: what one
// service's wiring needs from another's is that step's return value, passed
// as a parameter (Deploy), so the order is checked by the compiler.
type deployment struct {
	ctx   *pulumi.Context
	cfg   *Config
	place Placement
	// engines are the hosts' Docker engines by host name (order: in inventory
	// order), each its host joined to the swarm, with its provider.
	engines map[string]*host.Engine
	order   []*host.Engine
	zones   *network.Zones
	pki     *pki.PKI
	// certs are the service certificates, complete once the PKI exists.
	certs serviceCerts
}

// serviceDirs lists, for each service kind, the host directories it needs,
// in deployment order (host preparation creates them).
var serviceDirs = []struct {
	name string
	dirs func(dataPath string) []host.Dir
}{
	{Postgres, dirsPostgres},
	{Pooler, dirsPooler},
	{Redis, dirsRedis},
	{Vault, dirsVault},
	{Elasticsearch, dirsElasticsearch},
	{Logstash, dirsLogstash},
	{Kibana, dirsKibana},
	{Jaeger, dirsJaeger},
	{Alertmanager, dirsAlertmanager},
	{Prometheus, dirsPrometheus},
	{Grafana, dirsGrafana},
	{App, dirsApp},
	{Nginx, dirsGateway},
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
	for _, name := range slices.Sorted(maps.Keys(out.Services)) {
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

// Deploy builds every resource from a validated configuration: hosts,
// cluster and PKI first, then the services, data first and the gateway last.
// Each step returns what it built and the steps after it that wait for it
// take it as a parameter.
func Deploy(ctx *pulumi.Context, cfg *Config) (*Outputs, error) {
	d, err := newDeployment(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := d.deployLogForwarding(); err != nil {
		return nil, err
	}
	wrap := func(svc string, err error) error { return fmt.Errorf("%s: %w", svc, err) }
	pg, err := deployPostgres(d)
	if err != nil {
		return nil, wrap(Postgres, err)
	}
	pool, err := deployPooler(d, pg)
	if err != nil {
		return nil, wrap(Pooler, err)
	}
	rd, err := deployRedis(d)
	if err != nil {
		return nil, wrap(Redis, err)
	}
	vlt, err := deployVault(d)
	if err != nil {
		return nil, wrap(Vault, err)
	}
	es, err := deployElasticsearch(d)
	if err != nil {
		return nil, wrap(Elasticsearch, err)
	}
	ls, err := deployLogstash(d, es)
	if err != nil {
		return nil, wrap(Logstash, err)
	}
	if err := deployKibana(d, es); err != nil {
		return nil, wrap(Kibana, err)
	}
	tracing, err := deployJaeger(d)
	if err != nil {
		return nil, wrap(Jaeger, err)
	}
	am, err := deployAlertmanager(d)
	if err != nil {
		return nil, wrap(Alertmanager, err)
	}
	if err := deployPrometheus(d, am); err != nil {
		return nil, wrap(Prometheus, err)
	}
	graf, err := deployGrafana(d, rd)
	if err != nil {
		return nil, wrap(Grafana, err)
	}
	// Every store's backups leave their host (backupTarget).
	if err := deployOffsite(d, []backupjob.Source{pg.Backups, rd.Backups, vlt.Backups, es.Backups, graf.Backups}); err != nil {
		return nil, wrap("offsite", err)
	}
	if err := deployDrill(d, pg); err != nil {
		return nil, wrap("drill", err)
	}
	application, err := deployApp(d, pg, pool, rd, tracing)
	if err != nil {
		return nil, wrap(App, err)
	}
	if err := deployGateway(d, application); err != nil {
		return nil, wrap(Nginx, err)
	}
	roles := pulumi.StringMap{}
	for _, h := range d.order {
		roles[h.Name] = h.RoleOutput
	}
	urls := publicURLs(cfg)
	urls["logstashSyslog"] = ls.SyslogEndpoint
	return &Outputs{HostRoles: roles, URLs: urls, CACertificate: d.pki.CACertPem,
		PKIRenewalDue: d.pki.RenewalDue, Services: map[string]pulumi.Map{
			Postgres: postgresOutputs(pg), Pooler: poolerOutputs(pool), Redis: redisOutputs(rd), Vault: vaultOutputs(vlt),
		}}, nil
}

// newDeployment prepares the hosts, joins them into the cluster, creates
// the trust zones and the PKI: everything every service's wiring needs.
func newDeployment(ctx *pulumi.Context, cfg *Config) (*deployment, error) {
	place := Place(cfg)
	hosts, err := deployHosts(ctx, cfg, place)
	if err != nil {
		return nil, err
	}
	engines, order, zones, err := deployCluster(ctx, cfg, hosts)
	if err != nil {
		return nil, err
	}
	p, err := deployPKI(ctx, cfg)
	if err != nil {
		return nil, err
	}
	certs, err := issuedCerts(p)
	if err != nil {
		return nil, err
	}
	return &deployment{ctx: ctx, cfg: cfg, place: place, engines: engines, order: order, zones: zones, pki: p, certs: certs}, nil
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

// engine returns the Docker engine of the host a service is placed on.
func (d *deployment) engine(svc string) *host.Engine { return d.engines[d.place.Services[svc]] }

// serviceDir is a service's directory on its host, e.g. /srv/aurigraph/nginx.
func (d *deployment) serviceDir(svc string) string { return ServiceDir(d.cfg, svc) }

// image pulls the pinned image of key on e.
func (d *deployment) image(e *host.Engine, key string) (pulumi.StringOutput, error) {
	return e.Image(d.ctx, d.cfg.Images[key])
}

// hostDirs is every directory the services placed on a host need.
func hostDirs(c *Config, p Placement, name string) []host.Dir {
	var dirs []host.Dir
	for _, s := range serviceDirs {
		placed := p.Services[s.name] == name
		switch s.name {
		case App:
			placed = p.HasReplicas(name)
		case Pooler:
			placed = p.Services[Postgres] == name
		}
		if placed {
			dirs = append(dirs, s.dirs(c.Preflight.DataPath)...)
		}
	}
	return dirs
}

// deployCluster joins the hosts (inventory order) into the Swarm, builds
// each host's Docker engine, which waits for its join, and creates the
// trust zones' overlay networks through the first manager's engine. It
// returns the engines by name and in inventory order.
func deployCluster(ctx *pulumi.Context, cfg *Config, hosts []*host.Host) (map[string]*host.Engine, []*host.Engine, *network.Zones, error) {
	var managers []string
	for _, h := range cfg.Hosts {
		if h.HasRole(RoleManager) {
			managers = append(managers, h.Name)
		}
	}
	swarm, err := cluster.NewSwarm(ctx, "swarm", cluster.SwarmArgs{
		Hosts: hosts, Managers: managers, StepTimeout: fmt.Sprintf("%dm", cfg.SSH.StepTimeoutMinutes),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	engines := map[string]*host.Engine{}
	var order []*host.Engine
	for _, h := range hosts {
		e, err := host.NewEngine(ctx, h, host.EngineArgs{Joined: []pulumi.Resource{swarm.Joined(h.Name)}})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		engines[h.Name] = e
		order = append(order, e)
	}
	zones, err := network.NewZones(ctx, network.ZonesArgs{
		Manager: engines[managers[0]], Name: cfg.Network.Name, Subnet: cfg.Network.Subnet,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return engines, order, zones, nil
}
