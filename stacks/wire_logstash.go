package stacks

import (
	"fmt"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/logstash"
)

// deployLogstash runs the shipper on the logging host. Every host's rsyslog
// (host preparation) forwards its journal and container logs to
// LogstashSyslogEndpoint.
func deployLogstash(d *deployment) error {
	h := d.host(Logstash)
	if h == nil {
		return fmt.Errorf("no host is placed for %s", Logstash)
	}
	img, err := d.image(h, Logstash)
	if err != nil {
		return err
	}
	ls, err := logstash.NewLogstash(d.ctx, Logstash, logstash.LogstashArgs{
		Host:             h,
		Image:            img,
		Network:          d.network.Name,
		Resources:        d.cfg.ResourcesFor(Logstash),
		HeapMB:           logstash.DefaultHeapMB,
		HostDir:          d.serviceDir(Logstash),
		SyslogAddress:    h.ClusterAddress,
		Services:         logstash.Services{Nginx: Nginx, Postgres: Postgres, App: App},
		ElasticsearchURL: elasticsearch.URL(),
		WriterUser:       elasticsearch.WriterUser,
		WriterPassword:   logstashWriterPassword(d.cfg),
		IndexPrefix:      elasticsearch.IndexPrefix,
		PolicyName:       elasticsearch.PolicyName,
		CACertPem:        d.pki.CACertPem,
		DependsOn:        d.loggingReady(),
	})
	if err != nil {
		return err
	}
	d.urls["logstashSyslog"] = ls.SyslogEndpoint
	return nil
}

func dirsLogstash(dataPath string) []host.Dir {
	return logstash.Dirs(serviceDirOf(dataPath, Logstash))
}

// LogstashSyslogEndpoint is where every host's rsyslog forwards (RFC 5424
// over TCP): the logging host's cluster address, port 5514.
func LogstashSyslogEndpoint(c *Config) (string, error) {
	name := Place(c).Services[Logstash]
	for _, h := range c.Hosts {
		if h.Name == name {
			return fmt.Sprintf("%s:%d", h.ClusterAddress(), logstash.SyslogPort), nil
		}
	}
	return "", fmt.Errorf("no host is placed for %s", Logstash)
}
