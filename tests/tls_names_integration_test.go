//go:build integration

package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opensslVerify runs `openssl verify` on certPEM against caPEM for host (a
// DNS name or an IP) and returns whether it passed and what it said.
func opensslVerify(t *testing.T, dir, caPEM, certPEM, host string) (bool, string) {
	t.Helper()
	ca, cert := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(ca, []byte(caPEM), 0o600))
	require.NoError(t, os.WriteFile(cert, []byte(certPEM), 0o600))
	flag := "-verify_hostname"
	if net.ParseIP(host) != nil {
		flag = "-verify_ip"
	}
	out, err := exec.Command("openssl", "verify", "-CAfile", ca, flag, host, cert).CombinedOutput()
	return err == nil && strings.Contains(string(out), cert+": OK"), strings.TrimSpace(string(out))
}

// The same pairs as TestEveryTLSClientNameIsInTheServersCertificate, checked
// by OpenSSL (what curl, nginx and the other clients link): every name a
// client uses verifies against the certificate of the service it reaches.
func TestIntegrationTLSClientNamesVerifyWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is required (make deps): %v", err)
	}
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			caPEM, checks := tlsChecks(t, stack)
			dir := t.TempDir()
			// OpenSSL really checks the name: one it was not issued for fails.
			ok, out := opensslVerify(t, dir, caPEM, checks[0].CertPEM, "not-issued.invalid")
			require.False(t, ok, "openssl accepted a name that is in no certificate: %s", out)

			done := map[[2]string]bool{}
			for _, c := range checks {
				key := [2]string{c.Server, c.Client.Host}
				if done[key] {
					continue
				}
				done[key] = true
				ok, out := opensslVerify(t, dir, caPEM, c.CertPEM, c.Client.Host)
				assert.True(t, ok, "%s: openssl verify of the %s certificate for %q: %s", c.Client, c.Server, c.Client.Host, out)
			}
			t.Logf("%d TLS client settings, %d distinct (certificate, name) pairs verified by openssl", len(checks), len(done))
		})
	}
}
