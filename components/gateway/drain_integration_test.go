//go:build integration

package gateway

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/testserver"
)

// A drained configuration on Debian's real nginx: nginx -t accepts it, and
// after the graceful reload the drained replica gets no request while the
// slot's other replica serves them all; the undrained configuration brings
// it back. (Production validates in the gateway's own image through
// InstallConfScript; TestIntegrationValidateCommandRunsNginxInTheImage
// covers that command.)
func TestIntegrationDrainedReplicaGetsNoRequest(t *testing.T) {
	nginxBin := findNginx(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	pki := newTestPKI(t, dir)
	require.NoError(t, os.WriteFile(dir+"/htpasswd", []byte("x:y\n"), 0o644))
	rebooting, staying, green := startSlot(t, "rebooting"), startSlot(t, "staying"), startSlot(t, "green")
	httpPort, httpsPort := testserver.FreePort(t), testserver.FreePort(t)
	v := localValues(dir, pki, httpPort, httpsPort, 100, rebooting, 0, green)
	v.Slots[0].HTTP = []string{rebooting, staying}
	ng := startNginx(t, nginxBin, dir, v)
	client := newClient(pki, httpsPort)
	defer client.CloseIdleConnections()

	counts, failed := split(t, client, 200)
	assert.Zero(t, failed)
	assert.Greater(t, counts["rebooting"], 0, "both replicas serve before the drain: %v", counts)
	assert.Greater(t, counts["staying"], 0, "%v", counts)

	drained := v
	drained.Down = []string{rebooting}
	ng.reload(t, drained) // nginx -t, then a graceful reload
	client.CloseIdleConnections()
	counts, failed = split(t, client, 200)
	assert.Zero(t, failed, "no request fails while a replica is drained")
	assert.Equal(t, map[string]int{"staying": 200}, counts)

	ng.reload(t, v)
	client.CloseIdleConnections()
	counts, failed = split(t, client, 200)
	assert.Zero(t, failed)
	assert.Greater(t, counts["rebooting"], 0, "undrained, the replica serves again: %v", counts)
}

func TestIntegrationDrainScriptsPassShellcheck(t *testing.T) {
	install, err := InstallConfScript("/srv/aurigraph/nginx", "/srv/aurigraph/.staging/"+DrainStagedName, "/srv/aurigraph/.staging/reboot-drain.candidate")
	require.NoError(t, err)
	for name, script := range map[string]string{"install": install, "hash": LiveConfHashCommand("/srv/aurigraph/nginx")} {
		cmd := exec.Command("shellcheck", "-s", "sh", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}
