package mockrun

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	require.NotNil(t, b, "a PEM certificate: %q", s)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

// The fabricated CA signs a leaf that carries exactly the requested names:
// it verifies for them and not for another name.
func TestRealTLSIssuesVerifiableCertificatesForTheRequestedNames(t *testing.T) {
	real := NewRealTLS()
	_, err := Run(func(ctx *pulumi.Context) error {
		caKey, err := tls.NewPrivateKey(ctx, "ca-key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P384")})
		if err != nil {
			return err
		}
		ca, err := tls.NewSelfSignedCert(ctx, "ca", &tls.SelfSignedCertArgs{
			PrivateKeyPem: caKey.PrivateKeyPem, IsCaCertificate: pulumi.Bool(true), ValidityPeriodHours: pulumi.Int(48),
			Subject:     &tls.SelfSignedCertSubjectArgs{CommonName: pulumi.String("Test CA")},
			AllowedUses: pulumi.ToStringArray([]string{"cert_signing", "crl_signing", "digital_signature"}),
		})
		if err != nil {
			return err
		}
		key, err := tls.NewPrivateKey(ctx, "leaf-key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256")})
		if err != nil {
			return err
		}
		csr, err := tls.NewCertRequest(ctx, "leaf-csr", &tls.CertRequestArgs{
			PrivateKeyPem: key.PrivateKeyPem,
			Subject:       &tls.CertRequestSubjectArgs{CommonName: pulumi.String("svc")},
			DnsNames:      pulumi.ToStringArray([]string{"svc", "localhost"}),
			IpAddresses:   pulumi.ToStringArray([]string{"127.0.0.1"}),
		})
		if err != nil {
			return err
		}
		_, err = tls.NewLocallySignedCert(ctx, "leaf", &tls.LocallySignedCertArgs{
			CertRequestPem: csr.CertRequestPem, CaPrivateKeyPem: caKey.PrivateKeyPem, CaCertPem: ca.CertPem,
			ValidityPeriodHours: pulumi.Int(24),
			AllowedUses:         pulumi.ToStringArray([]string{"digital_signature", "key_encipherment", "server_auth"}),
		})
		return err
	}, Options{Project: "proj", Stack: "dev", Outputs: real.Outputs})
	require.NoError(t, err)

	ca := parsePEMCert(t, real.CertPEM("ca"))
	assert.True(t, ca.IsCA)
	leaf := parsePEMCert(t, real.CertPEM("leaf"))
	assert.Equal(t, "svc", leaf.Subject.CommonName)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"svc", "localhost", "127.0.0.1"} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		assert.NoError(t, err, name)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other"})
	assert.Error(t, err, "a name that was not requested")
}
