package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/components/pki"
	"github.com/aurigraph/infra/components/vault"
)

// EdgeCert is the name of the public edge's certificate in the PKI.
const EdgeCert = "edge"

// deployPKI creates the stack's CA and the server certificates of the
// services that speak TLS: the public edge (unless the operator supplies its
// certificate), Elasticsearch, Kibana and Vault. The Docker daemons get none:
// the program reaches them over SSH, not TCP. Raising pki.rotation replaces
// every leaf certificate and key, and only those (see package pki).
func deployPKI(ctx *pulumi.Context, c *Config) (*pki.PKI, error) {
	return pki.New(ctx, "pki", pkiArgs(c))
}

// pkiArgs lists the certificates to issue, from config alone.
func pkiArgs(c *Config) pki.Args {
	var servers []pki.Server
	if !c.PKI.OperatorCertificate {
		servers = append(servers, pki.Server{Name: EdgeCert, DNSNames: edgeNames(c)})
	}
	// Each component owns the hosts it is reached by and builds its URLs
	// and health checks from them: its certificate holds the same list.
	servers = append(servers,
		pki.ServerFor(Elasticsearch, elasticsearch.TLSHosts()),
		pki.ServerFor(Kibana, kibana.TLSHosts()),
		pki.ServerFor(Vault, vault.TLSHosts()),
		pki.ServerFor(Logstash, logstash.TLSHosts(logstashAddress(c))),
	)
	// Each host's client certificate for the log forwarding: Logstash
	// accepts a host that presents one from the stack's CA.
	for _, h := range c.Hosts {
		servers = append(servers, pki.Server{Name: LogClientCert(h.Name), DNSNames: []string{h.Name}, IPs: []string{h.ClusterAddress()}})
	}
	return pki.Args{
		Organization:      "Aurigraph " + c.Stack,
		CAValidityHours:   c.PKI.CAValidityHours,
		ValidityHours:     c.PKI.ValidityHours,
		EarlyRenewalHours: c.PKI.EarlyRenewalHours,
		Rotation:          c.PKI.Rotation,
		Servers:           servers,
	}
}

// logstashAddress is the logging host's cluster address, where the hosts
// connect to Logstash ("" without a logging host).
func logstashAddress(c *Config) string {
	return firstOrEmpty(serviceAddresses(c, Placement{Services: placeServices(c)}, Logstash))
}

// edgeTLS is the public edge's certificate and key: the operator's secrets
// with pki.operatorCertificate, else the one the stack's CA issued.
func (d *deployment) edgeTLS() (cert, key pulumi.StringOutput) {
	if d.cfg.PKI.OperatorCertificate {
		return d.cfg.Secrets.EdgeCertificate, d.cfg.Secrets.EdgePrivateKey
	}
	c := d.pki.Cert(EdgeCert)
	return c.CertPem, c.KeyPem
}

// edgeNames are every public name the gateway answers (GatewayValues) and
// every public URL names (edgeURL).
func edgeNames(c *Config) []string {
	names := []string{c.Edge.APIHostname}
	if c.Edge.GRPCHostname != "" {
		names = append(names, c.Edge.GRPCHostname)
	}
	for _, ui := range MonitoringUIs {
		names = append(names, c.Edge.MonitoringHosts[ui])
	}
	return names
}

// APIURL is the API's public URL, the gateway's API name.
func APIURL(c *Config) string { return edgeURL(c.Edge.APIHostname) }

// edgeURL is the public URL of a name the gateway answers (one of
// edgeNames), "" for no name.
func edgeURL(name string) string {
	if name == "" {
		return ""
	}
	return "https://" + name
}
