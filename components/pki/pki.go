// Package pki is the stack's own certificate authority: a root CA and the
// server certificates for the public edge and the internal TLS services.
package pki

import (
	"fmt"
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

// Args configures the CA and its certificates.
type Args struct {
	Organization      string
	CAValidityHours   int
	ValidityHours     int
	EarlyRenewalHours int
	// Rotation is part of every leaf key's identity: raising it replaces
	// every leaf certificate and key, and only those (and their readers).
	Rotation int
	Servers  []Server
}

// Cert is an issued certificate and its private key (a secret).
type Cert struct {
	CertPem pulumi.StringOutput
	KeyPem  pulumi.StringOutput
}

// PKI is the CA and what it issued.
type PKI struct {
	pulumi.ResourceState

	CACertPem pulumi.StringOutput `pulumi:"caCertPem"`
	certs     map[string]*Cert
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
	for _, s := range servers {
		c, err := issue(ctx, fmt.Sprintf("%s-%s", name, s.Name), s, args, caKey, ca, parent)
		if err != nil {
			return nil, err
		}
		p.certs[s.Name] = c
	}
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{"caCertPem": ca.CertPem})
}

func issue(ctx *pulumi.Context, name string, s Server, args Args, caKey *tls.PrivateKey, ca *tls.SelfSignedCert, parent pulumi.ResourceOption) (*Cert, error) {
	key, err := tls.NewPrivateKey(ctx, fmt.Sprintf("%s-key-r%d", name, args.Rotation), &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256"),
	}, parent)
	if err != nil {
		return nil, err
	}
	csr, err := tls.NewCertRequest(ctx, name+"-csr", &tls.CertRequestArgs{
		PrivateKeyPem: key.PrivateKeyPem,
		Subject:       &tls.CertRequestSubjectArgs{CommonName: pulumi.String(s.DNSNames[0]), Organization: pulumi.String(args.Organization)},
		DnsNames:      pulumi.ToStringArray(s.DNSNames),
		IpAddresses:   pulumi.ToStringArray(s.IPs),
	}, parent)
	if err != nil {
		return nil, err
	}
	cert, err := tls.NewLocallySignedCert(ctx, name+"-cert", &tls.LocallySignedCertArgs{
		CertRequestPem:      csr.CertRequestPem,
		CaPrivateKeyPem:     caKey.PrivateKeyPem,
		CaCertPem:           ca.CertPem,
		ValidityPeriodHours: pulumi.Int(args.ValidityHours),
		EarlyRenewalHours:   pulumi.Int(args.EarlyRenewalHours),
		AllowedUses:         pulumi.ToStringArray([]string{"digital_signature", "key_encipherment", "server_auth", "client_auth"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	return &Cert{CertPem: cert.CertPem, KeyPem: pulumi.ToSecret(key.PrivateKeyPem).(pulumi.StringOutput)}, nil
}

// Cert returns the certificate issued for name, or nil.
func (p *PKI) Cert(name string) *Cert { return p.certs[name] }
