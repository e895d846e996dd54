package mockrun

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TLS type tokens of pulumi-tls.
const (
	PrivateKeyType        = "tls:index/privateKey:PrivateKey"
	SelfSignedCertType    = "tls:index/selfSignedCert:SelfSignedCert"
	CertRequestType       = "tls:index/certRequest:CertRequest"
	LocallySignedCertType = "tls:index/locallySignedCert:LocallySignedCert"
)

// RealTLS fabricates pulumi-tls outputs the way the provider computes them:
// real ECDSA keys, a real self-signed CA, real certificate requests carrying
// the requested names and real certificates signed by the CA. Whatever the
// program does with them (files, configs) then holds real PEM, and tests
// can check the certificates with crypto/x509 or openssl. Other types fall
// back to Fabricate. Use its Outputs method as Options.Outputs; one RealTLS
// serves one run.
type RealTLS struct {
	mu    sync.Mutex
	certs map[string]string // resource name → certificate PEM
}

// NewRealTLS returns an empty fabricator.
func NewRealTLS() *RealTLS { return &RealTLS{certs: map[string]string{}} }

// CertPEM is the certificate PEM a SelfSignedCert or LocallySignedCert
// resource of that name produced ("" if none).
func (r *RealTLS) CertPEM(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.certs[name]
}

// Outputs is an Options.Outputs function.
func (r *RealTLS) Outputs(typ, name string, in resource.PropertyMap) resource.PropertyMap {
	out, err := r.outputs(typ, name, in)
	if err != nil {
		// The mock monitor has no error path for outputs: fail loudly.
		panic(fmt.Sprintf("mockrun.RealTLS %s %s: %v", typ, name, err))
	}
	return out
}

func (r *RealTLS) outputs(typ, name string, in resource.PropertyMap) (resource.PropertyMap, error) {
	switch typ {
	case PrivateKeyType:
		curve := elliptic.P256()
		if plain(in, "algorithm") != "ECDSA" {
			return nil, fmt.Errorf("only ECDSA keys are fabricated, got %q", plain(in, "algorithm"))
		}
		switch plain(in, "ecdsaCurve") {
		case "P384":
			curve = elliptic.P384()
		case "P521":
			curve = elliptic.P521()
		}
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return resource.PropertyMap{
			"privateKeyPem":      resource.MakeSecret(resource.NewProperty(pemOf("EC PRIVATE KEY", der))),
			"privateKeyPemPkcs8": resource.MakeSecret(resource.NewProperty(pemOf("PRIVATE KEY", pkcs8))),
			"publicKeyPem":       resource.NewProperty(pemOf("PUBLIC KEY", pub)),
			"publicKeyOpenssh":   resource.NewProperty("ecdsa-sha2-nistp256 MOCK" + fake("ssh", name)),
		}, nil

	case SelfSignedCertType:
		key, err := parseKey(plain(in, "privateKeyPem"))
		if err != nil {
			return nil, err
		}
		tmpl := certTemplate(in)
		tmpl.Subject = subject(in)
		tmpl.IsCA = truthy(in, "isCaCertificate")
		tmpl.BasicConstraintsValid = true
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, err
		}
		return r.issued(name, tmpl, der), nil

	case CertRequestType:
		key, err := parseKey(plain(in, "privateKeyPem"))
		if err != nil {
			return nil, err
		}
		req := &x509.CertificateRequest{Subject: subject(in), DNSNames: stringList(in, "dnsNames")}
		for _, s := range stringList(in, "ipAddresses") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("ipAddresses: %q is not an IP address", s)
			}
			req.IPAddresses = append(req.IPAddresses, ip)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, req, key)
		if err != nil {
			return nil, err
		}
		return resource.PropertyMap{"certRequestPem": resource.NewProperty(pemOf("CERTIFICATE REQUEST", der))}, nil

	case LocallySignedCertType:
		csr, err := parseCSR(plain(in, "certRequestPem"))
		if err != nil {
			return nil, err
		}
		caKey, err := parseKey(plain(in, "caPrivateKeyPem"))
		if err != nil {
			return nil, err
		}
		ca, err := ParseCertPEM(plain(in, "caCertPem"))
		if err != nil {
			return nil, err
		}
		tmpl := certTemplate(in)
		tmpl.Subject, tmpl.DNSNames, tmpl.IPAddresses = csr.Subject, csr.DNSNames, csr.IPAddresses
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		return r.issued(name, tmpl, der), nil
	}
	return Fabricate(typ, name, in), nil
}

func (r *RealTLS) issued(name string, tmpl *x509.Certificate, der []byte) resource.PropertyMap {
	p := pemOf("CERTIFICATE", der)
	r.mu.Lock()
	r.certs[name] = p
	r.mu.Unlock()
	return resource.PropertyMap{
		"certPem":         resource.NewProperty(p),
		"validityEndTime": resource.NewProperty(tmpl.NotAfter.UTC().Format(time.RFC3339)),
		"readyForRenewal": resource.NewProperty(false),
	}
}

var serial = struct {
	sync.Mutex
	n int64
}{}

// certTemplate reads what pulumi-tls's certificate resources share:
// validity and allowed uses.
func certTemplate(in resource.PropertyMap) *x509.Certificate {
	serial.Lock()
	serial.n++
	n := serial.n
	serial.Unlock()
	hours := 24.0
	if v, ok := in["validityPeriodHours"]; ok && v.IsNumber() {
		hours = v.NumberValue()
	}
	now := time.Now()
	c := &x509.Certificate{
		SerialNumber: big.NewInt(n),
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Duration(hours * float64(time.Hour))),
	}
	for _, use := range stringList(in, "allowedUses") {
		switch use {
		case "digital_signature":
			c.KeyUsage |= x509.KeyUsageDigitalSignature
		case "key_encipherment":
			c.KeyUsage |= x509.KeyUsageKeyEncipherment
		case "cert_signing":
			c.KeyUsage |= x509.KeyUsageCertSign
		case "crl_signing":
			c.KeyUsage |= x509.KeyUsageCRLSign
		case "server_auth":
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		case "client_auth":
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
	}
	return c
}

func subject(in resource.PropertyMap) pkix.Name {
	v, ok := in["subject"]
	v = Unwrap(v)
	if !ok || !v.IsObject() {
		return pkix.Name{}
	}
	s := v.ObjectValue()
	n := pkix.Name{CommonName: plain(s, "commonName")}
	if o := plain(s, "organization"); o != "" {
		n.Organization = []string{o}
	}
	return n
}

// Unwrap removes secret and output wrappers down to the value inside.
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func plain(m resource.PropertyMap, key string) string {
	v := Unwrap(m[resource.PropertyKey(key)])
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

func truthy(m resource.PropertyMap, key string) bool {
	v := Unwrap(m[resource.PropertyKey(key)])
	return v.IsBool() && v.BoolValue()
}

func stringList(m resource.PropertyMap, key string) []string {
	v := Unwrap(m[resource.PropertyKey(key)])
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e = Unwrap(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func pemOf(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func pemBlock(s, kind string) ([]byte, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != kind {
		return nil, fmt.Errorf("no %s PEM block in %.40q", kind, s)
	}
	return b.Bytes, nil
}

func parseKey(s string) (crypto.Signer, error) {
	der, err := pemBlock(s, "EC PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	return x509.ParseECPrivateKey(der)
}

func parseCSR(s string) (*x509.CertificateRequest, error) {
	der, err := pemBlock(s, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	return csr, csr.CheckSignature()
}

// ParseCertPEM parses one PEM certificate.
func ParseCertPEM(s string) (*x509.Certificate, error) {
	der, err := pemBlock(s, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
