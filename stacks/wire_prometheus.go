package stacks

import (
	"path"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/components/redis"
	"github.com/aurigraph/infra/components/vault"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// deployPrometheus scrapes every replica of the placement, the data services'
// exporters, the monitoring services and every host of the inventory.
// It sends its alerts to am.
func deployPrometheus(d *deployment, am *alertmanager.Alertmanager) error {
	h := d.engine(Prometheus)
	img, err := d.image(h, Prometheus)
	if err != nil {
		return err
	}
	externalURL := edgeURL(d.cfg.Edge.MonitoringHosts[Prometheus])
	if externalURL != "" {
		externalURL += "/"
	}
	_, err = prometheus.New(d.ctx, Prometheus, prometheus.Args{
		Engine:         h,
		Image:          img,
		Zones:          d.zones,
		Resources:      d.cfg.ResourcesFor(Prometheus),
		RetentionDays:  d.cfg.Retention.PrometheusDays,
		ServiceDir:     d.serviceDir(Prometheus),
		ExternalURL:    externalURL,
		Config:         prometheusScrapeConfig(d.cfg, d.place),
		Rules:          prometheus.RulesValues{PoolMaxSize: d.cfg.App.DatasourceMaxSize, MaxClockOffsetMs: d.cfg.Time.MaxOffsetMs},
		VaultCACertPem: d.pki.CACertPem,
		Alertmanager:   am,
	}, pulumi.Provider(h.Provider))
	return err
}

// prometheusScrapeConfig turns the config and placement into scrape targets.
func prometheusScrapeConfig(c *Config, p Placement) prometheus.ConfigValues {
	v := prometheus.ConfigValues{
		Environment: c.Environment,
		Vault:       vault.Endpoint(),
		// Each service's metrics endpoint, by DNS name on the network, as its component publishes it.
		Services: []prometheus.ServiceTarget{
			{Job: prometheus.JobPostgres, Address: postgres.ExporterAddress()},
			{Job: prometheus.JobPgBouncer, Address: pgbouncer.ExporterAddress()},
			{Job: prometheus.JobRedis, Address: redis.ExporterAddress()},
			{Job: prometheus.JobGrafana, Address: grafana.Address()},
			{Job: prometheus.JobJaeger, Address: jaeger.AdminAddress()},
		},
	}
	for _, r := range p.Replicas {
		v.Replicas = append(v.Replicas, prometheus.AppTarget{Name: r.Name, Tier: r.Tier, Slot: r.Slot, Group: r.Group, Host: r.Host})
	}
	for _, h := range c.Hosts {
		v.Hosts = append(v.Hosts, prometheus.HostTarget{Name: h.Name, Address: h.ClusterAddress()})
	}
	return v
}

// dirsPrometheus: the rendered configuration and the TSDB (the image's nobody user).
func dirsPrometheus(dataPath string) []host.Dir {
	return prometheus.Dirs(path.Join(dataPath, Prometheus))
}
