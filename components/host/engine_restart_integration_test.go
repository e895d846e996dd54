//go:build integration

package host

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
)

// privateDockerd is a dockerd of the test's own: its own socket, data root,
// exec root and pid file, no bridge and no iptables rules, so the machine's
// dockerd and firewall are never touched. ctl (a shell script) starts, stops
// and restarts it; restart counts its runs in restarts.
type privateDockerd struct {
	dir, root, sock, pidfile, ctl, restartHook, restarts string
}

// ctlScript manages the private dockerd; dockerd's output goes to a file so
// that the script (and the step running it) returns while dockerd runs on.
const ctlScript = `#!/usr/bin/env bash
set -euo pipefail
D=%[1]s
export DOCKER_HOST=unix://$D/docker.sock
stop() {
  local pid
  pid=$(cat "$D/docker.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}
start() {
  setsid dockerd --config-file "$D/root/etc/docker/daemon.json" --host "unix://$D/docker.sock" \
    --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/docker.pid" \
    --bridge=none --iptables=false --ip6tables=false --storage-driver vfs \
    </dev/null >>"$D/dockerd.log" 2>&1 &
  for _ in $(seq 300); do
    if docker version >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "private dockerd did not start: $(tail -n 5 "$D/dockerd.log")" >&2
  exit 1
}
case "$1" in
start) start ;;
stop) stop ;;
restart)
  echo restart >>"$D/restarts"
  stop
  start
  ;;
esac
`

func startPrivateDockerd(t *testing.T) *privateDockerd {
	t.Helper()
	need(t, "dockerd")
	need(t, "docker")
	// Short: the socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "dj")
	require.NoError(t, err)
	d := &privateDockerd{
		dir: dir, root: filepath.Join(dir, "root"), sock: filepath.Join(dir, "docker.sock"),
		pidfile: filepath.Join(dir, "docker.pid"), ctl: filepath.Join(dir, "dockerd-ctl"),
		restartHook: filepath.Join(dir, "restart-dockerd"), restarts: filepath.Join(dir, "restarts"),
	}
	require.NoError(t, os.WriteFile(d.ctl, []byte(fmt.Sprintf(ctlScript, shell.Quote(dir))), 0o755))
	require.NoError(t, os.WriteFile(d.restartHook, []byte("#!/bin/sh\nexec "+shell.Quote(d.ctl)+" restart\n"), 0o755))
	t.Cleanup(func() {
		if out, err := exec.Command(d.ctl, "stop").CombinedOutput(); err != nil {
			t.Logf("stopping the private dockerd: %v\n%s", err, out)
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Logf("private dockerd log (tail):\n%s", tail(string(log), 30))
		}
		// dockerd unmounts its data root when it stops cleanly; not after a crash.
		_ = syscall.Unmount(filepath.Join(dir, "data"), syscall.MNT_DETACH)
		_ = os.RemoveAll(dir)
	})
	return d
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (d *privateDockerd) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(d.pidfile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

func (d *privateDockerd) restartCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(d.restarts)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "restart\n")
}

func (d *privateDockerd) docker(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.sock)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// state is "<status> <health>" ("none" without a health check).
func (d *privateDockerd) state(t *testing.T, name string) string {
	t.Helper()
	return d.docker(t, nil, "inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name)
}

// stepRun is one run of the daemon-json step script.
type stepRun struct {
	out, stderr string
	err         error
}

// runDaemonStep runs the real daemon-json step for a host whose cluster
// address is addr, as root under the sandbox ROOT, restarting the private
// dockerd through the script's DOCKER_RESTART hook.
func (d *privateDockerd) runDaemonStep(t *testing.T, addr string, env ...string) stepRun {
	t.Helper()
	v, err := NewPrepareValues(HostArgs{Name: "engine-test", Address: addr, User: "root", DataPath: "/srv/aurigraph"})
	require.NoError(t, err)
	v.DaemonJSON = testDaemonJSON(t, v.DaemonJSON)
	script, err := RenderStep(v, DaemonJSONStep)
	require.NoError(t, err)
	cmd := exec.Command("bash", "-s", "--", "apply", d.root)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST=unix://"+d.sock, "DOCKER_RESTART="+d.restartHook), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stepRun{out: stdout.String(), stderr: stderr.String(), err: err}
}

// testDaemonJSON is the production daemon.json without "icc": dockerd
// refuses icc=false with --iptables=false, and the private dockerd must not
// write the machine's iptables rules. Everything else is the real file.
func testDaemonJSON(t *testing.T, prod string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(prod), &m))
	require.Contains(t, m, "icc")
	delete(m, "icc")
	b, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	return string(b)
}

// busyboxImage imports a one-file image holding the static busybox (there
// is no registry here) into the private dockerd.
func (d *privateDockerd) busyboxImage(t *testing.T) string {
	t.Helper()
	const bin = "/bin/busybox"
	f, err := elf.Open(bin)
	require.NoError(t, err, "busybox-static is required (apt-get install busybox-static)")
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "%s is dynamically linked: install busybox-static", bin)
	}
	require.NoError(t, f.Close())
	body, err := os.ReadFile(bin)
	require.NoError(t, err)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(body))}))
	_, err = tw.Write(body)
	require.NoError(t, err)
	for _, applet := range []string{"sh", "sleep", "touch", "rm", "test"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}))
	}
	require.NoError(t, tw.Close())
	const ref = "aurigraph-test/busybox:1"
	d.docker(t, b.Bytes(), "import", "--change", `CMD ["/bin/sh"]`, "-", ref)
	return ref
}

// runContainer starts a container without network. --ulimit overrides the
// rendered default-ulimits, which this (nested) machine cannot grant;
// --stop-timeout 1 because sh as PID 1 ignores SIGTERM.
func (d *privateDockerd) runContainer(t *testing.T, image, name, restart string, opts []string, command ...string) {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name, "--network", "none", "--restart", restart,
		"--stop-timeout", "1", "--ulimit", "nofile=1024:1024"}, opts...)
	d.docker(t, nil, append(append(args, image), command...)...)
}

func (d *privateDockerd) waitState(t *testing.T, name, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return d.state(t, name) == want }, 60*time.Second, 200*time.Millisecond,
		"%s never reached %q (now %q)", name, want, d.state(t, name))
}

// loopback is a random 127/8 address for metrics-addr: each run binds its
// own, so nothing else on the machine can hold the port.
func loopback(r *rand.Rand) string {
	return fmt.Sprintf("127.%d.%d.%d", 1+r.Intn(250), 1+r.Intn(250), 1+r.Intn(250))
}

// The real daemon-json step against a real dockerd: an unchanged file never
// restarts the engine; a changed one restarts it once and the step returns
// only when the containers that ran before run again and are healthy; a
// container that does not come back fails the step by name, and a rerun
// waits again instead of restarting again.
func TestIntegrationDaemonJSONRestartsOnlyOnChangeAndWaitsForContainers(t *testing.T) {
	d := startPrivateDockerd(t)
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	addrA, addrB := loopback(r), loopback(r)
	for addrB == addrA {
		addrB = loopback(r)
	}

	// First run: the file is new; the hook starts the private dockerd on it.
	first := d.runDaemonStep(t, addrA)
	require.NoError(t, first.err, "%s\n%s", first.out, first.stderr)
	assert.Contains(t, first.out, "step=daemon-json changed=yes mode=apply")
	require.Equal(t, 1, d.restartCount(t))
	written, err := os.ReadFile(filepath.Join(d.root, "etc/docker/daemon.json"))
	require.NoError(t, err)
	assert.Contains(t, string(written), addrA+":9323", "the private dockerd runs the rendered file")

	image := d.busyboxImage(t)
	// "web" is healthy only some seconds after each start: right after a
	// restart it is running but "starting", so a step that returned without
	// waiting would leave it not yet healthy.
	d.runContainer(t, image, "web", "unless-stopped",
		[]string{"--health-cmd", "test -f /ready", "--health-interval", "1s", "--health-retries", "3"},
		"sh", "-c", "rm -f /ready; sleep 3; touch /ready; exec sleep 1000000")
	d.waitState(t, "web", "running healthy")

	// Same content: dockerd keeps running, untouched.
	pid := d.pid(t)
	same := d.runDaemonStep(t, addrA)
	require.NoError(t, same.err, "%s\n%s", same.out, same.stderr)
	assert.Contains(t, same.out, "step=daemon-json changed=no mode=apply")
	assert.NotContains(t, same.out, "restart docker")
	assert.Equal(t, pid, d.pid(t), "an identical daemon.json must not restart dockerd")
	assert.Equal(t, 1, d.restartCount(t))

	// Changed content: one restart, and the step returns with web back.
	changed := d.runDaemonStep(t, addrB)
	require.NoError(t, changed.err, "%s\n%s", changed.out, changed.stderr)
	assert.Contains(t, changed.out, "step=daemon-json changed=yes mode=apply")
	assert.Equal(t, 2, d.restartCount(t), "restarted exactly once")
	assert.NotEqual(t, pid, d.pid(t), "a new dockerd runs the changed file")
	assert.Equal(t, "running healthy", d.state(t, "web"), "the step returned before web was back")
	assert.Contains(t, changed.out, "wait up to")
	assert.Contains(t, changed.out, "every container runs again")
	assert.NoFileExists(t, filepath.Join(d.root, "var/lib/aurigraph/pending/daemon-json"))
	assert.NoFileExists(t, filepath.Join(d.root, "var/lib/aurigraph/pending/daemon-json.containers"))

	// A container without a restart policy does not come back: the step
	// fails, naming it (and only it).
	d.runContainer(t, image, "oneshot", "no", nil, "sleep", "1000000")
	d.waitState(t, "oneshot", "running none")
	lost := d.runDaemonStep(t, addrA, "DOCKER_WAIT_SECONDS=10")
	require.Error(t, lost.err, "%s\n%s", lost.out, lost.stderr)
	assert.Equal(t, 3, d.restartCount(t))
	assert.Contains(t, lost.stderr, "containers not back 10s after the docker restart: oneshot (exited none)")
	assert.NotContains(t, lost.stderr, "web")
	assert.Equal(t, "running healthy", d.state(t, "web"))

	// The rerun does not restart dockerd again: it waits for oneshot again.
	pid = d.pid(t)
	again := d.runDaemonStep(t, addrA, "DOCKER_WAIT_SECONDS=4")
	require.Error(t, again.err, "%s\n%s", again.out, again.stderr)
	assert.Contains(t, again.stderr, "oneshot (exited none)")
	assert.Equal(t, pid, d.pid(t))
	assert.Equal(t, 3, d.restartCount(t))

	// Once it runs again the rerun succeeds, still without a restart.
	d.docker(t, nil, "start", "oneshot")
	done := d.runDaemonStep(t, addrA)
	require.NoError(t, done.err, "%s\n%s", done.out, done.stderr)
	assert.Contains(t, done.out, "step=daemon-json changed=no mode=apply")
	assert.Equal(t, pid, d.pid(t))
	assert.Equal(t, 3, d.restartCount(t))
	assert.NoFileExists(t, filepath.Join(d.root, "var/lib/aurigraph/pending/daemon-json.containers"))
}
