//go:build integration

package pki

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

// OpenSSL, which curl and nginx link, accepts each leaf for every host its
// server was requested with (-verify_hostname for names, -verify_ip for
// addresses) and refuses it for another.
func TestIntegrationOpenSSLVerifiesEachServersHosts(t *testing.T) {
	caPEM, leafPEMs := issuedTestHosts(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte(caPEM), 0o600))
	verify := func(server, host string) (bool, string) {
		cert := filepath.Join(dir, server+".pem")
		require.NoError(t, os.WriteFile(cert, []byte(leafPEMs[server]), 0o600))
		flag := "-verify_hostname"
		if net.ParseIP(host) != nil {
			flag = "-verify_ip"
		}
		out, err := exec.Command("openssl", "verify", "-CAfile", ca, flag, host, cert).CombinedOutput()
		return err == nil && strings.Contains(string(out), cert+": OK"), string(out)
	}
	for server, hosts := range testHosts {
		for _, h := range hosts {
			ok, out := verify(server, h)
			assert.True(t, ok, "%s for %s: %s", server, h, out)
		}
		ok, out := verify(server, notIssued[server])
		assert.False(t, ok, "%s must not verify for %s: %s", server, notIssued[server], out)
	}
}
