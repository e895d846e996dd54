package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Resource type tokens the rules read.
const (
	ContainerType      = "docker:index/container:Container"
	RemoteImageType    = "docker:index/remoteImage:RemoteImage"
	DockerProviderType = "pulumi:providers:docker"
	HostType           = "aurigraph:host:Host"
	RemoteCommandType  = "command:remote:Command"
	PrivateKeyType     = "tls:index/privateKey:PrivateKey"
	LocallySignedType  = "tls:index/locallySignedCert:LocallySignedCert"
	SelfSignedType     = "tls:index/selfSignedCert:SelfSignedCert"
)

// ServiceLabel names a container's service kind (set by components/container).
const ServiceLabel = "com.aurigraph.service"

// SecretsMount is where a container reads its secret files (set by
// components/container): a read-only mount.
const SecretsMount = "/run/secrets"

// Service kinds the rules treat specially.
const (
	Gateway       = "nginx"
	App           = "aurigraph-v11"
	Postgres      = "postgres"
	Redis         = "redis"
	Vault         = "vault"
	Elasticsearch = "elasticsearch"
	Kibana        = "kibana"
	Logstash      = "logstash"
	Prometheus    = "prometheus"
	Alertmanager  = "alertmanager"
	Grafana       = "grafana"
	Jaeger        = "jaeger"
	Exporter      = "exporter"
)

var knownKinds = []string{App, Postgres, Redis, Vault, Elasticsearch, Kibana, Logstash, Prometheus, Alertmanager, Grafana, Jaeger, Gateway}

// DataServices publish no host port at all.
var DataServices = []string{Postgres, Redis, Elasticsearch, Vault}

// MonitoringUIs are never published on a public address.
var MonitoringUIs = []string{Prometheus, Alertmanager, Grafana, Kibana, Jaeger, Vault}

// kindOf is a container's service kind: its service label, else its name;
// exporters are one kind, replicas ("aurigraph-v11-blue-slim-1") their service's.
func kindOf(p property.Map) string {
	raw := ""
	if labels, s := arr(p.Get("labels")); s == known {
		for _, l := range labels {
			m, _ := obj(l)
			if k, _ := str(m.Get("label")); k == ServiceLabel {
				raw, _ = str(m.Get("value"))
			}
		}
	}
	if raw == "" {
		raw, _ = str(p.Get("name"))
	}
	return normalizeKind(raw)
}

func normalizeKind(raw string) string {
	k := strings.ToLower(strings.TrimSpace(raw))
	if strings.Contains(k, "exporter") {
		return Exporter
	}
	for _, known := range knownKinds {
		if k == known || strings.HasPrefix(k, known+"-") {
			return known
		}
	}
	return k
}

func isOneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// displayName is how messages name a container.
func displayName(p property.Map, urn string) string {
	if n, s := str(p.Get("name")); s == known && n != "" {
		return n
	}
	return urnName(urn)
}
