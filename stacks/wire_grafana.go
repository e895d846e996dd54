package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/components/redis"
)

// deployGrafana provisions Grafana's datasources and dashboards; passwords
// travel only as secret environment values. Grafana reads cache (Redis) as
// its own read-only ACL user.
func deployGrafana(d *deployment, cache *redis.Redis) (*grafana.Grafana, error) {
	h := d.engine(Grafana)
	img, err := d.image(h, Grafana)
	if err != nil {
		return nil, err
	}
	rootURL := edgeURL(d.cfg.Edge.MonitoringHosts[Grafana])
	if rootURL != "" {
		rootURL += "/"
	}
	return grafana.New(d.ctx, Grafana, grafana.Args{
		Engine:     h,
		Image:      img,
		Zones:      d.zones,
		Resources:  d.cfg.ResourcesFor(Grafana),
		ServiceDir: d.serviceDir(Grafana),
		RootURL:    rootURL,
		Datasources: grafana.DatasourceValues{
			PrometheusURL:    prometheus.URL(),
			ElasticsearchURL: elasticsearch.URL(),
			// Read-only on the log indices: never the elastic superuser.
			ElasticsearchUser: elasticsearch.ReaderUser,
			// The pattern Logstash's indices (elasticsearch.IndexPrefix +
			// service) fall under, as the retention template uses it.
			LogIndex:  elasticsearch.IndexPattern,
			JaegerURL: jaeger.UIURL(),
			RedisURL:  redis.URL(),
			RedisUser: redis.GrafanaUser,
		},
		AdminPassword:         d.cfg.Secrets.GrafanaAdminPassword,
		ElasticsearchPassword: grafanaReaderPassword(d.cfg),
		RedisPassword:         cache.Passwords.Grafana,
		CACertPem:             d.pki.CACertPem,
	}, pulumi.Provider(h.Provider))
}

// dirsGrafana: provisioning, dashboards, the CA and the data (grafana user 472).
func dirsGrafana(dataPath string) []host.Dir {
	return grafana.Dirs(path.Join(dataPath, Grafana))
}
