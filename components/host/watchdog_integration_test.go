//go:build integration

package host

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
)

// watchdogHost is the Docker Engine of this machine with containers whose
// health check the test turns bad, and the rendered watchdog with its state,
// textfile and log in temporary directories.
type watchdogHost struct {
	t                       *testing.T
	script, state, textfile string
	logFile                 string
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// runHealthChecked starts a container from image whose health check passes
// while /tmp/ok exists (checked every second, unhealthy after one failure);
// the file survives `docker restart`, so a broken container stays broken.
func runHealthChecked(t *testing.T, image, name string, labels map[string]string) {
	t.Helper()
	// sleep, as PID 1, ignores SIGTERM: a 1 s stop timeout keeps restarts short.
	args := []string{"run", "-d", "--name", name, "--network", "none", "--stop-timeout", "1",
		"--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "1"}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	dockerOut(t, append(args, image, "sleep", "100000")...)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	dockerOut(t, "exec", name, "touch", "/tmp/ok")
}

func waitHealth(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := dockerOut(t, "inspect", "--format", "{{.State.Health.Status}}", name)
		if got == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s is %s, not %s, after 30 s", name, got, want)
		time.Sleep(200 * time.Millisecond)
	}
}

func startedAt(t *testing.T, name string) string {
	return dockerOut(t, "inspect", "--format", "{{.State.StartedAt}}", name)
}

// run runs the watchdog once and returns its stdout.
func (w watchdogHost) run() string {
	w.t.Helper()
	cmd := exec.Command("bash", w.script)
	cmd.Env = append(os.Environ(), "STATE_DIR="+w.state, "TEXTFILE_DIR="+w.textfile,
		"LOGGER="+filepath.Join(filepath.Dir(w.logFile), "logger"))
	out, err := cmd.CombinedOutput()
	require.NoError(w.t, err, "watchdog: %s", out)
	w.t.Logf("watchdog run: %s", out)
	return string(out)
}

func (w watchdogHost) metrics() string {
	b, err := os.ReadFile(filepath.Join(w.textfile, WatchdogFile))
	require.NoError(w.t, err)
	return string(b)
}

func (w watchdogHost) log() string {
	b, err := os.ReadFile(w.logFile)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(w.t, err)
	return string(b)
}

// TestIntegrationWatchdogRestartsOnlyOwnedUnhealthyContainers runs the real
// script against the real Docker Engine: the owned container is restarted
// after its service's number of unhealthy checks, then held by the back-off,
// then given up on at the ceiling; foreign containers are never touched.
func TestIntegrationWatchdogRestartsOnlyOwnedUnhealthyContainers(t *testing.T) {
	shellcheck, promtool := need(t, "shellcheck"), need(t, "promtool")
	busybox := need(t, "busybox")
	script, err := RenderWatchdog(SelfHealing{
		IntervalSeconds:    5,
		UnhealthyChecks:    map[string]int{WatchdogDefaultKey: 1, "redis": 3},
		BackoffSeconds:     8,
		MaxRestartsPerHour: 2,
	})
	require.NoError(t, err)
	dir := t.TempDir()
	w := watchdogHost{t: t, script: filepath.Join(dir, "watchdog"), state: filepath.Join(dir, "state"),
		textfile: filepath.Join(dir, "textfile"), logFile: filepath.Join(dir, "log")}
	require.NoError(t, os.WriteFile(w.script, []byte(script), 0o755))
	out, err := exec.Command(shellcheck, "-s", "bash", w.script).CombinedOutput()
	assert.NoError(t, err, "shellcheck: %s", out)
	// The logger records its arguments, as syslog would receive them.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "logger"),
		[]byte("#!/bin/sh\nprintf '%s\\n' \"$*\" >>"+shell.Quote(w.logFile)+"\n"), 0o755))

	image := scripttest.Import(t, scripttest.Image{
		Name: "aurigraph-test/watchdog", Binary: busybox, At: "/bin/busybox", Path: "/bin", Dirs: []string{"tmp"},
		Links: map[string]string{"bin/sh": "busybox", "bin/sleep": "busybox", "bin/test": "busybox", "bin/touch": "busybox", "bin/rm": "busybox"},
	})
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	owned := "wd-owned-" + hex.EncodeToString(suffix)
	foreign := "wd-foreign-" + hex.EncodeToString(suffix)
	other := "wd-other-owner-" + hex.EncodeToString(suffix)
	runHealthChecked(t, image, owned, map[string]string{container.ManagedByLabel: container.ManagedByValue, container.ServiceLabel: "redis"})
	runHealthChecked(t, image, foreign, nil)
	runHealthChecked(t, image, other, map[string]string{container.ManagedByLabel: "someone-else", container.ServiceLabel: "redis"})
	for _, c := range []string{owned, foreign, other} {
		waitHealth(t, c, "healthy")
	}
	foreignStart, otherStart := startedAt(t, foreign), startedAt(t, other)

	// Healthy: nothing restarted, a zero counter for the owned container only.
	w.run()
	m := w.metrics()
	assert.Contains(t, m, WatchdogRestartsMetric+`{container="`+owned+`",service="redis"} 0`)
	assert.NotContains(t, m, foreign)
	assert.NotContains(t, m, other)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(m)
	out, err = cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics: %s\n%s", out, m)

	// Broken: redis needs 3 consecutive unhealthy checks.
	for _, c := range []string{owned, foreign, other} {
		dockerOut(t, "exec", c, "rm", "/tmp/ok")
		waitHealth(t, c, "unhealthy")
	}
	before := startedAt(t, owned)
	for i := 1; i <= 2; i++ {
		w.run()
		assert.Equal(t, before, startedAt(t, owned), "restarted after %d check(s)", i)
		assert.Contains(t, w.metrics(), WatchdogUnhealthyGauge+`{container="`+owned+`",service="redis"} `+string(rune('0'+i)))
	}
	assert.Empty(t, w.log())
	w.run()
	first := startedAt(t, owned)
	assert.NotEqual(t, before, first, "not restarted after the 3rd unhealthy check")
	restartedAt := time.Now()
	assert.Contains(t, w.metrics(), WatchdogRestartsMetric+`{container="`+owned+`",service="redis"} 1`)
	assert.Contains(t, w.log(), "-t "+WatchdogTag+" -p daemon.warning -- restarted container="+owned+" service=redis after 3 consecutive unhealthy checks")

	// Still broken after the restart: 3 checks again, then the back-off
	// (8 s after the first restart of the hour) holds the second restart.
	waitHealth(t, owned, "unhealthy")
	var held string
	for i := 0; i < 3; i++ {
		held = w.run()
	}
	require.Less(t, time.Since(restartedAt), 8*time.Second, "the checks outlasted the back-off: nothing left to test")
	assert.Equal(t, first, startedAt(t, owned), "restarted within the back-off")
	assert.Contains(t, held, "backing off 8s after restart 1")
	time.Sleep(time.Until(restartedAt.Add(8500 * time.Millisecond)))
	w.run()
	second := startedAt(t, owned)
	assert.NotEqual(t, first, second, "not restarted once the back-off passed")
	assert.Contains(t, w.metrics(), WatchdogRestartsMetric+`{container="`+owned+`",service="redis"} 2`)

	// Ceiling: 2 restarts in the hour; the watchdog gives up, says so once,
	// and the gauge shows it.
	waitHealth(t, owned, "unhealthy")
	for i := 0; i < 5; i++ {
		w.run()
	}
	assert.Equal(t, second, startedAt(t, owned), "restarted beyond the ceiling")
	m = w.metrics()
	assert.Contains(t, m, WatchdogGaveUpMetric+`{container="`+owned+`",service="redis"} 1`)
	assert.Contains(t, m, WatchdogRestartsMetric+`{container="`+owned+`",service="redis"} 2`)
	assert.Equal(t, 1, strings.Count(w.log(), "gave up on container="+owned+" service=redis"), w.log())
	assert.Equal(t, 2, strings.Count(w.log(), "restarted container="+owned), w.log())

	// Healthy again: the count and the gauge go back to 0, the counter stays.
	dockerOut(t, "exec", owned, "touch", "/tmp/ok")
	waitHealth(t, owned, "healthy")
	w.run()
	m = w.metrics()
	assert.Contains(t, m, WatchdogGaveUpMetric+`{container="`+owned+`",service="redis"} 0`)
	assert.Contains(t, m, WatchdogUnhealthyGauge+`{container="`+owned+`",service="redis"} 0`)
	assert.Contains(t, m, WatchdogRestartsMetric+`{container="`+owned+`",service="redis"} 2`)

	// Foreign containers: unhealthy all along (default: 1 check), never touched.
	assert.Equal(t, foreignStart, startedAt(t, foreign))
	assert.Equal(t, otherStart, startedAt(t, other))
	assert.Equal(t, "unhealthy", dockerOut(t, "inspect", "--format", "{{.State.Health.Status}}", foreign))
	assert.NotContains(t, w.log(), foreign)
	assert.NotContains(t, w.log(), other)
}
