// Package pki is the stack's own certificate authority: a root CA and the
// server certificates for the public edge and the internal TLS services
// (Elasticsearch, Kibana, Vault). The Docker daemons need none: the program
// reaches them over SSH, never over TCP.
//
// Renewal: pulumi-tls computes readyForRenewal from earlyRenewalHours but
// Pulumi does not replace a certificate because of it (a known provider
// limitation). Rotation is the setting that does: every leaf key, request
// and certificate carries it in its name, so raising it by one replaces
// exactly those resources, and through their new outputs the secret files
// that hold them and the reloads of their readers. The CA stays.
package pki

import (
	"fmt"
	"net"
	"sort"

	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Server is one server certificate to issue.
type Server struct {
	Name     string // resource and lookup name, e.g. "edge", "elasticsearch"
	DNSNames []string
	IPs      []string
}

// ServerFor is the certificate for a service reached by hosts: exactly the
// host names and addresses its clients put in their URLs, which the
// service's component owns (e.g. elasticsearch.TLSHosts). IP addresses
// become IP SANs, names DNS SANs; the first name is the common name.
func ServerFor(name string, hosts []string) Server {
	s := Server{Name: name}
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			s.IPs = append(s.IPs, h)
		} else {
			s.DNSNames = append(s.DNSNames, h)
		}
	}
	return s
}

// Args configures the CA and its certificates.
type Args struct {
	Organization      string
	CAValidityHours   int
	ValidityHours     int
	EarlyRenewalHours int
	// Rotation is part of every leaf key's, request's and certificate's
	// name: raising it replaces every leaf certificate and key, and only
	// those (and, through their outputs, the files and readers using them).
	Rotation int
	Servers  []Server
}

// Cert is an issued certificate and its private key (a secret).
type Cert struct {
	CertPem pulumi.StringOutput
	KeyPem  pulumi.StringOutput
	// KeyPkcs8Pem is the same key in PKCS#8 ("PRIVATE KEY"), for readers
	// that take no other form (Logstash's TLS inputs).
	KeyPkcs8Pem pulumi.StringOutput
}

// PKI is the CA and what it issued.
type PKI struct {
	pulumi.ResourceState

	CACertPem pulumi.StringOutput `pulumi:"caCertPem"`
	// RenewalDue lists the leaf certificates inside their early-renewal
	// window: the operator raises pki.rotation to replace them.
	RenewalDue pulumi.StringArrayOutput `pulumi:"renewalDue"`
	certs      map[string]*Cert
}

// New creates the CA and one certificate per server.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*PKI, error) {
	p := &PKI{certs: map[string]*Cert{}}
	if err := ctx.RegisterComponentResource("aurigraph:pki:PKI", name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)
	caKey, err := tls.NewPrivateKey(ctx, name+"-ca-key", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P384"),
	}, parent)
	if err != nil {
		return nil, err
	}
	ca, err := tls.NewSelfSignedCert(ctx, name+"-ca", &tls.SelfSignedCertArgs{
		PrivateKeyPem: caKey.PrivateKeyPem,
		Subject: &tls.SelfSignedCertSubjectArgs{
			CommonName:   pulumi.String(args.Organization + " Root CA"),
			Organization: pulumi.String(args.Organization),
		},
		IsCaCertificate:     pulumi.Bool(true),
		ValidityPeriodHours: pulumi.Int(args.CAValidityHours),
		AllowedUses:         pulumi.ToStringArray([]string{"cert_signing", "crl_signing", "digital_signature"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	p.CACertPem = ca.CertPem
	servers := append([]Server{}, args.Servers...)
	sort.Slice(servers, func(i, j int) bool { return servers[i].Name < servers[j].Name })
	var due []any
	var dueNames []string
	for _, s := range servers {
		if s.Name == "" || len(s.DNSNames) == 0 || p.certs[s.Name] != nil {
			return nil, fmt.Errorf("pki %s: server %q needs a unique name and at least one DNS name", name, s.Name)
		}
		c, ready, err := issue(ctx, name, s, args, caKey, ca, parent)
		if err != nil {
			return nil, err
		}
		p.certs[s.Name] = c
		due = append(due, ready)
		dueNames = append(dueNames, s.Name)
	}
	p.RenewalDue = pulumi.All(due...).ApplyT(func(ready []any) []string {
		out := []string{}
		for i, r := range ready {
			if b, _ := r.(bool); b {
				out = append(out, dueNames[i])
			}
		}
		return out
	}).(pulumi.StringArrayOutput)
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{"caCertPem": ca.CertPem, "renewalDue": p.RenewalDue})
}

// LeafName is the resource name of a leaf's kind ("key", "csr", "cert") at a
// rotation: the rotation is part of the name, so a new one means new resources.
func LeafName(pkiName, server, kind string, rotation int) string {
	return fmt.Sprintf("%s-%s-%s-r%d", pkiName, server, kind, rotation)
}

func issue(ctx *pulumi.Context, pkiName string, s Server, args Args, caKey *tls.PrivateKey, ca *tls.SelfSignedCert, parent pulumi.ResourceOption) (*Cert, pulumi.BoolOutput, error) {
	leaf := func(kind string) string { return LeafName(pkiName, s.Name, kind, args.Rotation) }
	key, err := tls.NewPrivateKey(ctx, leaf("key"), &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256"),
	}, parent)
	if err != nil {
		return nil, pulumi.BoolOutput{}, err
	}
	csr, err := tls.NewCertRequest(ctx, leaf("csr"), &tls.CertRequestArgs{
		PrivateKeyPem: key.PrivateKeyPem,
		Subject:       &tls.CertRequestSubjectArgs{CommonName: pulumi.String(s.DNSNames[0]), Organization: pulumi.String(args.Organization)},
		DnsNames:      pulumi.ToStringArray(s.DNSNames),
		IpAddresses:   pulumi.ToStringArray(s.IPs),
	}, parent)
	if err != nil {
		return nil, pulumi.BoolOutput{}, err
	}
	cert, err := tls.NewLocallySignedCert(ctx, leaf("cert"), &tls.LocallySignedCertArgs{
		CertRequestPem:      csr.CertRequestPem,
		CaPrivateKeyPem:     caKey.PrivateKeyPem,
		CaCertPem:           ca.CertPem,
		ValidityPeriodHours: pulumi.Int(args.ValidityHours),
		EarlyRenewalHours:   pulumi.Int(args.EarlyRenewalHours),
		AllowedUses:         pulumi.ToStringArray([]string{"digital_signature", "key_encipherment", "server_auth", "client_auth"}),
	}, parent)
	if err != nil {
		return nil, pulumi.BoolOutput{}, err
	}
	return &Cert{
		CertPem:     cert.CertPem,
		KeyPem:      pulumi.ToSecret(key.PrivateKeyPem).(pulumi.StringOutput),
		KeyPkcs8Pem: pulumi.ToSecret(key.PrivateKeyPemPkcs8).(pulumi.StringOutput),
	}, cert.ReadyForRenewal, nil
}

// Cert returns the certificate issued for name, or nil.
func (p *PKI) Cert(name string) *Cert { return p.certs[name] }
