//go:build integration

package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The upstreams of a 1,000-replica slot load in real nginx: each upstream's
// shared memory zone grows with its servers (256k, the size every upstream
// had, holds about 200). `nginx -t` allocates the zones, so it is the check.
func TestIntegrationUpstreamZonesHoldAThousandReplicas(t *testing.T) {
	bin := findNginx(t)
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	htpasswd := filepath.Join(dir, "htpasswd")
	require.NoError(t, os.WriteFile(htpasswd, []byte(itUser+":x\n"), 0o644))
	const replicas = 1000
	servers := func(port int) []string {
		out := make([]string, replicas)
		for i := range out {
			// Addresses, not names: nginx 1.22 resolves names at load.
			out[i] = fmt.Sprintf("127.0.%d.%d:%d", i/250, i%250+1, port)
		}
		return out
	}
	v := Values{
		ListenAddress: "127.0.0.1", HTTPPort: 18080, HTTPSPort: 18443,
		APIHostname: itAPI, GRPCHostname: itGRPC,
		Slots: []Slot{
			{Name: "app_blue", Weight: 100, HTTP: servers(9003), GRPC: servers(9004)},
			{Name: "app_green", Weight: 0, HTTP: servers(9003), GRPC: servers(9004)},
		},
		RateLimitPerSecond: 100, RateLimitBurst: 200,
		CertPath: pki.certPath, KeyPath: pki.keyPath, CAPath: pki.caPath, HtpasswdPath: htpasswd,
		AccessLog: filepath.Join(dir, "access.log"), ErrorLog: filepath.Join(dir, "error.log"),
		PidPath: filepath.Join(dir, "nginx.pid"), TempDir: dir,
		Resolver: "127.0.0.1",
	}
	if os.Geteuid() == 0 {
		v.User = "root"
	}
	n := &nginxProc{bin: bin, dir: dir, conf: filepath.Join(dir, "nginx.conf")}
	n.write(t, v)
	out, err := exec.Command(bin, n.args("-t")...).CombinedOutput()
	require.NoError(t, err, "nginx -t with %d servers per upstream: %s", replicas, out)
}
