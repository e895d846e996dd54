package stacks

import (
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/components/logstash"
)

// deployKibana runs the log UI on the logging host, behind the gateway,
// once Elasticsearch's setup (its kibana_system user) is done.
func deployKibana(d *deployment, es *elasticsearch.Elasticsearch) error {
	h := d.engine(Kibana)
	img, err := d.image(h, Kibana)
	if err != nil {
		return err
	}
	cert := d.certs.Kibana
	elastic := d.cfg.Secrets.ElasticPassword
	_, err = kibana.NewKibana(d.ctx, Kibana, kibana.KibanaArgs{
		Engine:           h,
		Image:            img,
		Zones:            d.zones,
		Resources:        d.cfg.ResourcesFor(Kibana),
		HostDir:          d.serviceDir(Kibana),
		PublicBaseURL:    edgeURL(d.cfg.Edge.MonitoringHosts[Kibana]),
		ElasticsearchURL: elasticsearch.URL(),
		Username:         elasticsearch.KibanaSystemUser,
		Password:         d.cfg.Secrets.KibanaSystemPassword,
		// Derived from the elastic password so no config key is needed.
		// Rotating that password rotates these keys: keep the old
		// saved-objects key as a decryption-only key when you do.
		Keys: kibana.EncryptionKeys{
			Security:     derivedSecret(elastic, "kibana/security"),
			SavedObjects: derivedSecret(elastic, "kibana/encryptedSavedObjects"),
			Reporting:    derivedSecret(elastic, "kibana/reporting"),
		},
		CertPem:         cert.CertPem,
		KeyPem:          cert.KeyPem,
		CACertPem:       d.pki.CACertPem,
		Logs:            es,
		Streams:         logStreams(),
		ElasticPassword: elastic,
	})
	return err
}

// logIndices are the data streams Logstash writes, one per stream: its
// Elasticsearch role names exactly these.
func logIndices() []string {
	var out []string
	for _, s := range logStreams() {
		out = append(out, s.Index)
	}
	return out
}

// logStreams are Logstash's streams (LogServices' table) with the index
// each is written to: Kibana gives each a data view.
func logStreams() []kibana.Stream {
	var out []kibana.Stream
	for _, s := range LogServices.Streams() {
		out = append(out, kibana.Stream{Name: s, Index: logstash.Index(s)})
	}
	return out
}

func dirsKibana(dataPath string) []host.Dir {
	return kibana.Dirs(serviceDirOf(dataPath, Kibana))
}
