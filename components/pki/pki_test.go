package pki

import (
	"crypto/x509"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
)

func TestServerForSortsHostsIntoDNSNamesAndIPs(t *testing.T) {
	s := ServerFor("vault", []string{"vault", "127.0.0.1", "localhost", "::1"})
	assert.Equal(t, Server{Name: "vault", DNSNames: []string{"vault", "localhost"}, IPs: []string{"127.0.0.1", "::1"}}, s)
}

// issued runs New with real certificates and returns the CA's PEM and the
// leaf certificate PEM of each server.
func issued(t *testing.T, servers ...Server) (string, map[string]string) {
	t.Helper()
	real := mockrun.NewRealTLS()
	_, err := mockrun.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "pki", Args{Organization: "Test", CAValidityHours: 48, ValidityHours: 24, Servers: servers})
		return err
	}, mockrun.Options{Project: "proj", Stack: "test", Outputs: real.Outputs})
	require.NoError(t, err)
	leaves := map[string]string{}
	for _, s := range servers {
		leaves[s.Name] = real.CertPEM(LeafName("pki", s.Name, "cert", 0))
	}
	return real.CertPEM("pki-ca"), leaves
}

// testHosts are two servers' hosts: names and an address.
var testHosts = map[string][]string{
	"elasticsearch": {"elasticsearch", "localhost"},
	"vault":         {"vault", "127.0.0.1"},
}

// notIssued is, per server, a host it was not requested with.
var notIssued = map[string]string{"elasticsearch": "vault", "vault": "localhost"}

func issuedTestHosts(t *testing.T) (string, map[string]string) {
	return issued(t, ServerFor("elasticsearch", testHosts["elasticsearch"]), ServerFor("vault", testHosts["vault"]))
}

// Each leaf verifies, under the stack's CA, for every host its server was
// requested with (names and addresses) and for no other.
func TestEachCertificateHoldsExactlyItsServersHosts(t *testing.T) {
	caPEM, leafPEMs := issuedTestHosts(t)
	roots := x509.NewCertPool()
	roots.AddCert(mustParseCert(t, caPEM))
	for server, hs := range testHosts {
		leaf := mustParseCert(t, leafPEMs[server])
		for _, h := range hs {
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: h})
			assert.NoError(t, err, "%s for %s", server, h)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: notIssued[server]})
		assert.Error(t, err, "%s must not verify for %s", server, notIssued[server])
		assert.Equal(t, server, leaf.Subject.CommonName, "the first name is the common name")
	}
}

func mustParseCert(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	c, err := mockrun.ParseCertPEM(s)
	require.NoError(t, err)
	return c
}
