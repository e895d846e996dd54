package stacks

import "github.com/aurigraph/infra/components/pki"

// deployPKI creates the stack's CA and the certificates the services need.
func deployPKI(d *deployment) (*pki.PKI, error) {
	c := d.cfg
	return pki.New(d.ctx, "pki", pki.Args{
		Organization:      "Aurigraph " + c.Stack,
		CAValidityHours:   c.PKI.CAValidityHours,
		ValidityHours:     c.PKI.ValidityHours,
		EarlyRenewalHours: c.PKI.EarlyRenewalHours,
		Rotation:          c.PKI.Rotation,
		Servers: []pki.Server{
			{Name: "edge", DNSNames: edgeNames(c)},
			{Name: Elasticsearch, DNSNames: []string{Elasticsearch}},
			{Name: Kibana, DNSNames: []string{Kibana}},
			{Name: Vault, DNSNames: []string{Vault}},
		},
	})
}

// edgeNames are every public name the gateway answers.
func edgeNames(c *Config) []string {
	names := []string{c.Edge.APIHostname}
	if c.Edge.GRPCHostname != "" {
		names = append(names, c.Edge.GRPCHostname)
	}
	for _, ui := range []string{Grafana, Kibana, Jaeger, Prometheus} {
		names = append(names, c.Edge.MonitoringHosts[ui])
	}
	return names
}
