//go:build integration

package host

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runAs runs a script with bash against the private dockerd.
func (d *privateDockerd) runScript(t *testing.T, script string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.sock)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// The wait cmd/reboot runs after a reboot, against a real dockerd whose
// restart stops every container as a reboot does (a container cannot
// reboot a machine: the reboot itself is not exercised here): it returns
// only once the containers that ran before run again and are healthy, and
// fails naming the host and the container that did not come back.
func TestIntegrationRebootWaitReturnsOnceContainersAreBackAndNamesTheOthers(t *testing.T) {
	d := startPrivateDockerd(t)
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	v, err := NewPrepareValues(HostArgs{Name: "reboot-test", Address: loopback(r), User: "root", DataPath: "/srv/aurigraph"})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(d.root, "etc/docker"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.root, "etc/docker/daemon.json"), []byte(testDaemonJSON(t, v.DaemonJSON)), 0o644))
	out, err := exec.Command(d.ctl, "start").CombinedOutput()
	require.NoError(t, err, "%s", out)
	image := d.busyboxImage(t)
	// Healthy only some seconds after each start.
	d.runContainer(t, image, "web", "unless-stopped",
		[]string{"--health-cmd", "test -f /ready", "--health-interval", "1s", "--health-retries", "3"},
		"sh", "-c", "rm -f /ready; sleep 3; touch /ready; exec sleep 1000000")
	d.waitState(t, "web", "running healthy")

	stdout, stderr, err := d.runScript(t, RebootStateCommand)
	require.NoError(t, err, stderr)
	before, err := ParseRebootState(stdout)
	require.NoError(t, err, stdout)
	assert.Equal(t, []string{"web"}, before.Containers)
	assert.Regexp(t, `^[0-9a-f-]{36}-[0-9]+$`, before.Boot)

	out, err = exec.Command(d.ctl, "restart").CombinedOutput()
	require.NoError(t, err, "%s", out)
	script, err := RenderRebootWait(RebootWaitValues{Host: "reboot-test", Containers: before.Containers, WaitSeconds: 60})
	require.NoError(t, err)
	stdout, stderr, err = d.runScript(t, script)
	require.NoError(t, err, "%s\n%s", stdout, stderr)
	assert.Equal(t, "running healthy", d.state(t, "web"), "the wait returned before web was back")
	assert.Contains(t, stdout, "every container runs again")

	// A container without a restart policy does not come back.
	d.runContainer(t, image, "oneshot", "no", nil, "sleep", "1000000")
	d.waitState(t, "oneshot", "running none")
	stdout, _, err = d.runScript(t, RebootStateCommand)
	require.NoError(t, err)
	before, err = ParseRebootState(stdout)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"web", "oneshot"}, before.Containers)
	out, err = exec.Command(d.ctl, "restart").CombinedOutput()
	require.NoError(t, err, "%s", out)
	script, err = RenderRebootWait(RebootWaitValues{Host: "reboot-test", Containers: before.Containers, WaitSeconds: 6})
	require.NoError(t, err)
	_, stderr, err = d.runScript(t, script)
	require.Error(t, err)
	assert.Contains(t, stderr, "host reboot-test: containers not back 6s after the reboot: oneshot (exited none)")
	assert.NotContains(t, stderr, "web (")
}

func TestIntegrationRebootScriptsPassShellcheck(t *testing.T) {
	shellcheck := need(t, "shellcheck")
	wait, err := RenderRebootWait(RebootWaitValues{Host: "prod-app-01", Containers: []string{"redis", "aurigraph-v11-blue-slim-1"}})
	require.NoError(t, err)
	for name, c := range map[string]struct{ shell, script string }{
		"wait":   {"bash", wait},
		"state":  {"sh", RebootStateCommand},
		"reboot": {"sh", RebootCommand},
		// installed by the security-updates step
		"reboot-required": {"bash", RebootRequiredScript},
	} {
		cmd := exec.Command(shellcheck, "-s", c.shell, "-")
		cmd.Stdin = strings.NewReader(c.script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}
