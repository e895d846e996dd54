package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/derive"
)

// deployElasticsearch runs the log store on the logging host with the
// stack's retention, and creates the users Logstash and Kibana log in as.
// Its Ready step (users, retention policy) is what Logstash and Kibana wait for.
func deployElasticsearch(d *deployment) (*elasticsearch.Elasticsearch, error) {
	h := d.engine(Elasticsearch)
	img, err := d.image(h, Elasticsearch)
	if err != nil {
		return nil, err
	}
	cert := d.certs.Elasticsearch
	return elasticsearch.NewElasticsearch(d.ctx, Elasticsearch, elasticsearch.ElasticsearchArgs{
		Engine:                 h,
		Image:                  img,
		Zones:                  d.zones,
		Resources:              d.cfg.ResourcesFor(Elasticsearch),
		HeapMB:                 elasticsearch.DefaultHeapMB,
		HostDir:                d.serviceDir(Elasticsearch),
		CertPem:                cert.CertPem,
		KeyPem:                 cert.KeyPem,
		CACertPem:              d.pki.CACertPem,
		ElasticPassword:        d.cfg.Secrets.ElasticPassword,
		KibanaSystemPassword:   d.cfg.Secrets.KibanaSystemPassword,
		LogstashWriterPassword: logstashWriterPassword(d.cfg),
		GrafanaReaderPassword:  grafanaReaderPassword(d.cfg),
		SnapshotPassword:       snapshotManagerPassword(d.cfg),
		WriterIndices:          logIndices(),
		RetentionDays:          d.cfg.Retention.ElasticsearchDays,
	})
}

func dirsElasticsearch(dataPath string) []host.Dir {
	return elasticsearch.Dirs(serviceDirOf(dataPath, Elasticsearch))
}

// serviceDirOf is deployment.serviceDir for the dirs functions, which get
// only the data path.
func serviceDirOf(dataPath, svc string) string { return dataPath + "/" + svc }

// derivedSecret derives a stable secret for one purpose from a base secret
// (internal/derive, as the database and cache accounts' are).
func derivedSecret(base pulumi.StringOutput, purpose string) pulumi.StringOutput {
	return derive.Secret(base, purpose)
}

// logstashWriterPassword is the logstash_writer user's password, derived
// from the elastic password rather than reusing it: Logstash holds a
// credential that can only write logs.
func logstashWriterPassword(c *Config) pulumi.StringOutput {
	return derivedSecret(c.Secrets.ElasticPassword, "logstash_writer")
}

// grafanaReaderPassword is the grafana_reader user's password, derived from
// the elastic password like the writer's: Grafana holds a credential that
// can only search the logs, and operators set no extra secret. HMAC keeps
// the elastic password unrecoverable from it; rotating elasticPassword
// rotates it (the setup step and Grafana both follow in the same update).
func grafanaReaderPassword(c *Config) pulumi.StringOutput {
	return derivedSecret(c.Secrets.ElasticPassword, "grafana_reader")
}

// snapshotManagerPassword is the snapshot_manager user's password, derived
// from the elastic password like the others: the daily snapshot job holds a
// credential that can only take, list and delete snapshots.
func snapshotManagerPassword(c *Config) pulumi.StringOutput {
	return derivedSecret(c.Secrets.ElasticPassword, elasticsearch.SnapshotUser)
}
