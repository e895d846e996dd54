package stacks

import (
	"fmt"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/kibana"
)

// deployKibana runs the log UI on the logging host, behind the gateway.
func deployKibana(d *deployment) error {
	h := d.host(Kibana)
	if h == nil {
		return fmt.Errorf("no host is placed for %s", Kibana)
	}
	name := d.cfg.Edge.MonitoringHosts[Kibana] // validateEdge requires it
	img, err := d.image(h, Kibana)
	if err != nil {
		return err
	}
	cert := d.certs.Kibana
	elastic := d.cfg.Secrets.ElasticPassword
	k, err := kibana.NewKibana(d.ctx, Kibana, kibana.KibanaArgs{
		Host:             h,
		Image:            img,
		Network:          d.network.Name,
		Resources:        d.cfg.ResourcesFor(Kibana),
		HostDir:          d.serviceDir(Kibana),
		PublicBaseURL:    edgeURL(name),
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
		CertPem:   cert.CertPem,
		KeyPem:    cert.KeyPem,
		CACertPem: d.pki.CACertPem,
		DependsOn: d.loggingReady(),
	})
	if err != nil {
		return err
	}
	d.urls[Kibana] = k.PublicURL
	return nil
}

func dirsKibana(dataPath string) []host.Dir {
	return kibana.Dirs(serviceDirOf(dataPath, Kibana))
}
