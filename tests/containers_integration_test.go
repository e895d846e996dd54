//go:build integration

package tests

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// debianRun is how a service's recorded container runs on servicesImage:
// Debian's binary where the official image's entrypoint differs. Only the
// entrypoint changes; the recorded command (the arguments) is kept.
type debianRun struct {
	Entrypoint []string // nil: the recorded command starts with the program, as in the official image
}

// debianServices are the services Debian packages, with their containers'
// names in the plan. Not here: the gateway (the plan's nginx.conf uses
// nginx 1.27's `resolve` in upstream servers, which Debian's 1.22 refuses;
// components/gateway tests a Debian rendering of it), and the node exporter
// (a host service, not a container).
var debianServices = map[string]debianRun{
	// The official entrypoint's first start, for its non-root user (servicesSetup).
	"postgres":          {Entrypoint: []string{"/usr/local/bin/docker-entrypoint.sh"}},
	"postgres-exporter": {Entrypoint: []string{"/usr/bin/prometheus-postgres-exporter"}},
	"redis":             {},
	"redis-exporter":    {Entrypoint: []string{"/usr/bin/prometheus-redis-exporter"}},
	"prometheus":        {Entrypoint: []string{"/usr/bin/prometheus"}},
}

// TestIntegrationContainersRunWithTheirRecordedSettings runs the services
// Debian packages on a real Docker Engine exactly as the mocked prod plan
// records their containers: user, capabilities (ALL dropped, the recorded
// adds), read-only root, tmpfs, ulimits, no-new-privileges, init, limits,
// environment, health check, and the mounts with the generated config and
// secret files laid out as the plan writes them on the host (owners and
// modes included). Each must become healthy by its recorded health check;
// the exporters must reach their database with the password from their
// secret file.
func TestIntegrationContainersRunWithTheirRecordedSettings(t *testing.T) {
	image := testhost.Image(t, servicesImage)
	s := harness.Stack(t, "prod")
	res := harness.Run(t, s)
	containers := harness.Containers(res)

	suffix := randomSuffix(t)
	network := "aurigraph-containers-" + suffix
	// Internal: nothing on it is routed off this machine.
	dockerOK(t, "network", "create", "--internal", network)
	t.Cleanup(func() { _, _ = dockerOut("network", "rm", network) })

	names := slices.Sorted(func(yield func(string) bool) {
		for n := range debianServices {
			if !yield(n) {
				return
			}
		}
	})
	running := map[string]string{} // recorded name → test container
	for _, name := range names {
		rec, ok := containers[name]
		require.True(t, ok, "the plan records no container %s", name)
		root := t.TempDir()
		layOutHostFiles(t, root, harness.HostFiles(res, harness.Host(res, rec)), mountSources(rec.Inputs))
		run := name + "-" + suffix
		args := DockerRunArgs(t, rec.Inputs, DockerRun{Name: run, Image: image, Network: network, HostRoot: root,
			Entrypoint: debianServices[name].Entrypoint})
		t.Logf("%s: docker %s", name, strings.Join(args, " "))
		// Registered first: a run that fails at start still leaves its created container.
		t.Cleanup(func() { _, _ = dockerOut("rm", "-f", "-v", run) })
		dockerOK(t, args...)
		running[name] = run
	}

	deadline := time.Now().Add(4 * time.Minute)
	for _, name := range names {
		run := running[name]
		status := waitHealth(run, deadline)
		if !assert.Equal(t, "healthy", status, "%s did not become healthy with its recorded settings", name) {
			logs, _ := dockerOut("logs", "--tail", "40", run)
			health, _ := dockerOut("inspect", "--format", "{{json .State.Health}}", run)
			t.Logf("%s logs:\n%s\nhealth: %s", name, logs, health)
		}
	}
	// The roles bootstrap, as the plan's step runs it (postgres.RolesCommand,
	// the recorded SQL on stdin) in this test's database container: the
	// exporter logs in as its own role, which the bootstrap creates.
	var rolesSQL string
	for _, r := range res.OfType("command:remote:Command") {
		if r.Name == stacks.Postgres+"-roles" {
			rolesSQL = harness.Plain(r.Inputs["stdin"]).StringValue()
		}
	}
	require.NotEmpty(t, rolesSQL, "the plan records the roles bootstrap")
	bootstrap := strings.Fields(strings.Replace(postgres.RolesCommand(), "docker exec -i "+postgres.ContainerName+" ", "exec -i "+running[postgres.ContainerName]+" ", 1))
	cmd := exec.Command("docker", bootstrap...)
	cmd.Stdin = strings.NewReader(rolesSQL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "roles bootstrap: %s", out)

	// The exporters log in with the passwords from their secret files (the
	// PostgreSQL exporter at its next connection, after the bootstrap).
	for name, metric := range map[string]string{"postgres-exporter": "pg_up 1", "redis-exporter": "redis_up 1"} {
		port := "9187"
		if name == "redis-exporter" {
			port = "9121"
		}
		var lines []string
		assert.Eventually(t, func() bool {
			out, err := dockerOut("exec", running[name], "wget", "-q", "-O", "-", "http://127.0.0.1:"+port+"/metrics")
			lines = strings.Split(out, "\n")
			return err == nil && slices.Contains(lines, metric)
		}, time.Minute, time.Second, "%s never showed %s", name, metric)
	}
	// The settings the engine applied are the recorded ones.
	for _, name := range names {
		out, err := dockerOut("inspect", "--format", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}", running[name])
		require.NoError(t, err)
		t.Logf("MEASURED %s: user, read-only root, dropped caps, security options = %s", name, strings.TrimSpace(out))
		assert.Contains(t, out, harness.Str(containers[name].Inputs, "user")+" true [ALL] [no-new-privileges:true]", name)
	}

	// A crash (the main process killed, as the OOM killer or a fault does):
	// the recorded restart policy brings each store back by itself (the
	// SPEC's "app crash": automatic restart within 2 minutes), and
	// PostgreSQL with every committed transaction (RPO 0).
	psql := func(sql string) (string, error) {
		return dockerOut("exec", running[postgres.ContainerName], "psql", "-X", "-q", "-A", "-t", "-U", postgres.User, "-d", postgres.Database, "-c", sql)
	}
	_, err = psql("CREATE TABLE crash_probe (v text); INSERT INTO crash_probe VALUES ('committed before the crash')")
	require.NoError(t, err)
	for _, name := range []string{postgres.ContainerName, "redis"} {
		crashAndRecover(t, running[name], name)
	}
	got, err := psql("SELECT v FROM crash_probe")
	require.NoError(t, err, got)
	assert.Equal(t, "committed before the crash", got)
}

// crashAndRecover kills run's main process from the host and measures how
// long until Docker restarted it and its health check passes again.
func crashAndRecover(t *testing.T, run, name string) {
	t.Helper()
	pid, err := dockerOut("inspect", "--format", "{{.State.Pid}}", run)
	require.NoError(t, err)
	crashed := time.Now()
	require.NoError(t, exec.Command("kill", "-9", pid).Run(), "kill %s", pid)
	var restarted time.Duration
	require.Eventually(t, func() bool {
		out, err := dockerOut("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", run)
		if err == nil && !strings.HasPrefix(out, "0 ") && strings.HasSuffix(out, " running") {
			restarted = time.Since(crashed)
			return true
		}
		return false
	}, 2*time.Minute, 100*time.Millisecond, "%s was not restarted after a crash", name)
	// The health status was reset by the restart: wait for the new verdict.
	status := waitHealth(run, time.Now().Add(3*time.Minute))
	assert.Equal(t, "healthy", status, "%s after its crash", name)
	t.Logf("MEASURED crash of %s (kill -9 of its main process): running again after %s, healthy after %s (restart policy %s; health checked every 10 s)",
		name, restarted.Round(10*time.Millisecond), time.Since(crashed).Round(100*time.Millisecond), container.RestartPolicy)
}

// DockerRun is what a test run of a recorded container changes: its name
// (the recorded one stays its hostname and network alias), the image, the
// network it joins, where the host's files are (HostRoot+path) and the
// entrypoint for the image's own binary.
type DockerRun struct {
	Name, Image, Network, HostRoot string
	Entrypoint                     []string
}

// DockerRunArgs translates a recorded docker.Container's inputs into
// `docker run -d` arguments: the one place a recorded setting becomes a
// flag. An input it does not know fails the test, so a new setting in the
// plan cannot be left out unnoticed. Published ports are left out (the
// test probes from inside), and the health check runs through the shell
// (docker run has no exec form for it).
func DockerRunArgs(t *testing.T, in resource.PropertyMap, r DockerRun) []string {
	t.Helper()
	args := []string{"run", "-d", "--name", r.Name, "--network", r.Network}
	str := func(k string) string { return harness.Str(in, k) }
	num := func(k string) int {
		v := harness.Plain(in[resource.PropertyKey(k)])
		require.True(t, v.IsNumber(), "%s is not a number", k)
		return int(v.NumberValue())
	}
	for key := range in {
		switch k := string(key); k {
		case "name", "image", "wait", "waitTimeout", "ports":
		case "hostname":
			args = append(args, "--hostname", str(k))
		case "user":
			args = append(args, "--user", str(k))
		case "restart":
			args = append(args, "--restart", str(k))
		case "memory":
			args = append(args, "--memory", fmt.Sprintf("%dm", num(k)))
		case "memoryReservation":
			args = append(args, "--memory-reservation", fmt.Sprintf("%dm", num(k)))
		case "memorySwap":
			args = append(args, "--memory-swap", fmt.Sprintf("%dm", num(k)))
		case "shmSize":
			args = append(args, "--shm-size", fmt.Sprintf("%dm", num(k)))
		case "cpus":
			// Docker refuses a limit above this machine's cores: the
			// recorded one applies up to them.
			cpus, err := strconv.ParseFloat(str(k), 64)
			require.NoError(t, err)
			if n := float64(runtime.NumCPU()); cpus > n {
				t.Logf("%s: cpus %s capped at this machine's %v", r.Name, str(k), n)
				cpus = n
			}
			args = append(args, "--cpus", strconv.FormatFloat(cpus, 'f', -1, 64))
		case "cpuShares":
			args = append(args, "--cpu-shares", strconv.Itoa(num(k)))
		case "stopTimeout":
			args = append(args, "--stop-timeout", strconv.Itoa(num(k)))
		case "logDriver":
			args = append(args, "--log-driver", str(k))
		case "logOpts":
			for _, o := range sortedObject(in[key]) {
				args = append(args, "--log-opt", o[0]+"="+o[1])
			}
		case "sysctls":
			for _, o := range sortedObject(in[key]) {
				args = append(args, "--sysctl", o[0]+"="+o[1])
			}
		case "tmpfs":
			for _, o := range sortedObject(in[key]) {
				args = append(args, "--tmpfs", o[0]+":"+o[1])
			}
		case "securityOpts":
			for _, v := range harness.Elements(in[key]) {
				args = append(args, "--security-opt", v.StringValue())
			}
		case "privileged", "init", "readOnly":
			v := harness.Plain(in[key])
			require.True(t, v.IsBool(), k)
			flag := map[string]string{"privileged": "--privileged", "init": "--init", "readOnly": "--read-only"}[k]
			if v.BoolValue() {
				args = append(args, flag)
			}
		case "capabilities":
			for _, c := range harness.Elements(harness.Field(in[key], "drops")) {
				args = append(args, "--cap-drop", c.StringValue())
			}
			for _, c := range harness.Elements(harness.Field(in[key], "adds")) {
				args = append(args, "--cap-add", c.StringValue())
			}
		case "ulimits":
			for _, u := range harness.Elements(in[key]) {
				name := harness.Field(u, "name").StringValue()
				soft, hard := int(harness.Field(u, "soft").NumberValue()), int(harness.Field(u, "hard").NumberValue())
				// The engine cannot raise nofile above its own hard
				// limit (a host's dockerd has none; a sandbox may):
				// the recorded limit applies up to it.
				if max := nofileMax(t); name == "nofile" && hard > max {
					t.Logf("%s: nofile %d capped at this machine's hard limit %d", r.Name, hard, max)
					soft, hard = min(soft, max), max
				}
				args = append(args, "--ulimit", fmt.Sprintf("%s=%d:%d", name, soft, hard))
			}
		case "labels":
			for _, l := range harness.Elements(in[key]) {
				args = append(args, "--label", harness.Field(l, "label").StringValue()+"="+harness.Field(l, "value").StringValue())
			}
		case "envs":
			for _, e := range harness.Elements(in[key]) {
				args = append(args, "--env", harness.Plain(e).StringValue())
			}
		case "networksAdvanced":
			for _, n := range harness.Elements(in[key]) {
				for _, a := range harness.Elements(harness.Field(n, "aliases")) {
					args = append(args, "--network-alias", a.StringValue())
				}
			}
		case "mounts":
			for _, m := range harness.Elements(in[key]) {
				typ, src, dst := harness.Field(m, "type").StringValue(), harness.Field(m, "source").StringValue(), harness.Field(m, "target").StringValue()
				require.Equal(t, "bind", typ, "only bind mounts are translated")
				spec := fmt.Sprintf("type=bind,src=%s,dst=%s", filepath.Join(r.HostRoot, src), dst)
				if ro := harness.Field(m, "readOnly"); ro.IsBool() && ro.BoolValue() {
					spec += ",readonly"
				}
				args = append(args, "--mount", spec)
			}
		case "healthcheck":
			hc := in[key]
			test := harness.Elements(harness.Field(hc, "tests"))
			require.NotEmpty(t, test)
			var cmd string
			switch kind := test[0].StringValue(); kind {
			case "CMD-SHELL":
				cmd = test[1].StringValue()
			case "CMD":
				var words []string
				for _, w := range test[1:] {
					words = append(words, shell.Quote(w.StringValue()))
				}
				cmd = strings.Join(words, " ")
			default:
				t.Fatalf("health check kind %s", kind)
			}
			args = append(args, "--health-cmd", cmd,
				"--health-interval", harness.Field(hc, "interval").StringValue(),
				"--health-timeout", harness.Field(hc, "timeout").StringValue(),
				"--health-start-period", harness.Field(hc, "startPeriod").StringValue(),
				"--health-retries", strconv.Itoa(int(harness.Field(hc, "retries").NumberValue())))
		case "command", "entrypoints":
			// After the image, below.
		default:
			t.Fatalf("recorded container input %q has no docker run flag here: translate it", k)
		}
	}
	entrypoint := r.Entrypoint
	if entrypoint == nil {
		for _, e := range harness.Elements(in["entrypoints"]) {
			entrypoint = append(entrypoint, e.StringValue())
		}
	}
	var command []string
	for _, c := range harness.Elements(in["command"]) {
		command = append(command, c.StringValue())
	}
	if len(entrypoint) > 0 {
		args = append(args, "--entrypoint", entrypoint[0])
		command = append(entrypoint[1:], command...)
	}
	return append(append(args, r.Image), command...)
}

// nofileMax is this machine's hard limit on open files.
func nofileMax(t *testing.T) int {
	var l syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l))
	return int(l.Max)
}

// sortedObject is an object input's entries, sorted by key.
func sortedObject(v resource.PropertyValue) [][2]string {
	v = harness.Plain(v)
	var out [][2]string
	if !v.IsObject() {
		return nil
	}
	for _, k := range v.ObjectValue().StableKeys() {
		out = append(out, [2]string{string(k), harness.Plain(v.ObjectValue()[k]).StringValue()})
	}
	return out
}

// mountSources are the host paths a recorded container bind-mounts.
func mountSources(in resource.PropertyMap) []string {
	var out []string
	for _, m := range harness.Elements(in["mounts"]) {
		out = append(out, harness.Field(m, "source").StringValue())
	}
	return out
}

// layOutHostFiles recreates under root what the plan puts on the host in
// and below each mounted path: directories and files with their recorded
// owners and modes, files with their contents. A mounted directory no
// step creates is an empty root-owned 0755 directory.
func layOutHostFiles(t *testing.T, root string, files []harness.HostFile, mounts []string) {
	t.Helper()
	under := func(p string) bool {
		for _, m := range mounts {
			if p == m || strings.HasPrefix(p, m+"/") {
				return true
			}
		}
		return false
	}
	for _, m := range mounts {
		require.NoError(t, os.MkdirAll(filepath.Join(root, m), 0o755))
	}
	// Directories first (shallow to deep), then files.
	slices.SortFunc(files, func(a, b harness.HostFile) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	for _, f := range files {
		if !under(f.Path) {
			continue
		}
		p := filepath.Join(root, f.Path)
		if f.Dir {
			require.NoError(t, os.MkdirAll(p, 0o755))
		} else {
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(f.Content), 0o600))
		}
		mode, err := strconv.ParseUint(f.Mode, 8, 32)
		require.NoError(t, err)
		uid, gid, _ := strings.Cut(f.Owner, ":")
		u, err1 := strconv.Atoi(uid)
		g, err2 := strconv.Atoi(gid)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.NoError(t, os.Chown(p, u, g))
		require.NoError(t, os.Chmod(p, os.FileMode(mode)))
	}
	// The path down to root must let every container user through.
	for d := root; d != "/" && d != os.TempDir(); d = path.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
}

// waitHealth polls a container's health status until healthy, a stop, or the deadline.
func waitHealth(name string, deadline time.Time) string {
	status := ""
	for time.Now().Before(deadline) {
		out, err := dockerOut("inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name)
		if err != nil {
			return "gone: " + out
		}
		f := strings.Fields(out)
		if len(f) > 0 && f[0] != "running" && f[0] != "created" && f[0] != "restarting" {
			return "stopped: " + out
		}
		if len(f) > 1 {
			status = f[1]
		}
		if status == "healthy" {
			return status
		}
		time.Sleep(2 * time.Second)
	}
	return status
}

func dockerOut(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func dockerOK(t *testing.T, args ...string) {
	t.Helper()
	out, err := dockerOut(args...)
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
