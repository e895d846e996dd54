package stacks

import (
	"fmt"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LogServices are the service names Logstash routes by (the containers'
// service labels, the log files' services): its routing table is
// LogServices.Routes().
var LogServices = logstash.Services{Nginx: Nginx, Postgres: Postgres, Redis: Redis, Vault: Vault, App: App}

// deployLogstash runs the shipper on the logging host. Every host's rsyslog
// (host preparation, TLS material from deployLogForwarding) forwards its
// journal, container logs and service log files to its port
// logstash.SyslogPort on the logging host's cluster address.
//
// It starts once Elasticsearch's setup (its writer user) is done.
func deployLogstash(d *deployment, es *elasticsearch.Elasticsearch) (*logstash.Logstash, error) {
	h := d.engine(Logstash)
	img, err := d.image(h, Logstash)
	if err != nil {
		return nil, err
	}
	return logstash.NewLogstash(d.ctx, Logstash, logstash.LogstashArgs{
		Engine:           h,
		Image:            img,
		Zones:            d.zones,
		Resources:        d.cfg.ResourcesFor(Logstash),
		HeapMB:           logstash.DefaultHeapMB,
		HostDir:          d.serviceDir(Logstash),
		SyslogAddress:    h.ClusterAddress,
		Services:         LogServices,
		ElasticsearchURL: elasticsearch.URL(),
		WriterUser:       elasticsearch.WriterUser,
		WriterPassword:   logstashWriterPassword(d.cfg),
		CACertPem:        d.pki.CACertPem,
		ServerCertPem:    d.certs.Logstash.CertPem,
		ServerKeyPem:     d.certs.Logstash.KeyPkcs8Pem,
		DependsOn:        []pulumi.Resource{es.Ready},
	})
}

func dirsLogstash(dataPath string) []host.Dir {
	return logstash.Dirs(serviceDirOf(dataPath, Logstash))
}

// LogClientCert is the name of a host's client certificate for the log
// forwarding, in the PKI.
func LogClientCert(hostName string) string { return "log-client-" + hostName }

// deployLogForwarding gives every host's rsyslog the stack's CA and the
// host's own client certificate and key, as secret files, and restarts
// rsyslog when they change (after the preparation wrote its config).
// Validate places Logstash on a host in every valid stack. The steps are
// top-level, like the swarm joins: under the host they would tie a targeted
// run of the host's preparation to the PKI.
func (d *deployment) deployLogForwarding() error {
	for _, h := range d.order {
		cert := d.pki.Cert(LogClientCert(h.Name))
		if cert == nil {
			return fmt.Errorf("host %s: no log forwarding certificate is issued", h.Name)
		}
		if _, err := configfile.NewSecrets(d.ctx, h.Name+"-log-forwarding-tls", configfile.SecretsArgs{
			Host: h.Host,
			Files: []configfile.Secret{
				{Path: host.LogCAPath, Content: d.pki.CACertPem},
				{Path: host.LogCertPath, Content: cert.CertPem},
				{Path: host.LogKeyPath, Content: cert.KeyPem},
			},
			KeyPair: &configfile.KeyPair{Cert: host.LogCertPath, Key: host.LogKeyPath},
			Reload:  host.RsyslogRestart,
		}); err != nil {
			return err
		}
	}
	return nil
}
