//go:build integration

package host

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/internal/testserver"
)

func need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is required for this test (apt-get install it): %v", bin, err)
	}
	return p
}

// newKey returns an ed25519 key as OpenSSH PEM and its authorized_keys line.
func newKey(t *testing.T) (privatePEM []byte, public string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

type sshd struct {
	port      int
	hostKey   string // pinned public host key
	clientKey []byte // private key the program logs in with
	user      string
}

// startSSHD runs a real OpenSSH server on 127.0.0.1 with a generated host key
// and one authorized client key; it is stopped when the test ends.
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("OpenSSH server required (apt-get install openssh-server): %v", err)
	}
	dir := t.TempDir()
	hostPriv, hostPub := newKey(t)
	clientPriv, clientPub := newKey(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host_ed25519"), hostPriv, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(clientPub+"\n"), 0o600))
	port := testserver.FreePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_ed25519
AuthorizedKeysFile %[2]s/authorized_keys
PidFile %[2]s/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel ERROR
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
PermitTTY no
`, port, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	// sshd insists on its privilege separation directory.
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755))
	cmd := exec.Command(bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	testserver.Start(t, cmd, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second, nil)
	u, err := user.Current()
	require.NoError(t, err)
	return &sshd{port: port, hostKey: hostPub, clientKey: clientPriv, user: u.Username}
}

// args are the host arguments the program would pass for this server.
func (s *sshd) args(name string) HostArgs {
	return HostArgs{
		Name: name, Address: "127.0.0.1", Port: s.port, User: s.user, HostKey: s.hostKey,
		DialErrorLimit: 3, PerDialTimeout: 5,
	}
}

// dial connects with the program's own connection settings.
func (s *sshd) dial(t *testing.T, a HostArgs) *ssh.Client {
	t.Helper()
	c, err := ConnectionSettings(a).Dial(s.clientKey)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs command with script on stdin, as pulumi-command does.
func run(t *testing.T, c *ssh.Client, command, stdin string) testhost.Result {
	t.Helper()
	r, err := testhost.Run(c, command, stdin)
	require.NoError(t, err)
	return r
}

func TestIntegrationWrongHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	a := srv.args("it-host-01")
	_, otherKey := newKey(t)
	a.HostKey = otherKey
	_, err := ConnectionSettings(a).Dial(srv.clientKey)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrHostKeyMismatch)
	assert.Contains(t, err.Error(), "host it-host-01 (127.0.0.1:"+strconv.Itoa(srv.port)+")")

	// The program's remote.Command gets the very same values.
	conn := connection(srv.args("it-host-01"))
	assert.NotNil(t, conn.HostKey)

	// The right key is accepted and runs commands.
	c := srv.dial(t, srv.args("it-host-01"))
	assert.Equal(t, "ok\n", run(t, c, "echo ok", "").Stdout)
}

func TestIntegrationUnreachableHostFailsFastWithItsName(t *testing.T) {
	// Nothing listens there.
	port := testserver.FreePort(t)
	priv, pub := newKey(t)
	a := HostArgs{Name: "it-gone-01", Address: "127.0.0.1", Port: port, User: "deploy", HostKey: pub, DialErrorLimit: 2, PerDialTimeout: 1}
	_, err := ConnectionSettings(a).Dial(priv)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host it-gone-01")
}

// measure reads this machine's figures independently of the script.
func measure(t *testing.T, dataPath string) Figures {
	t.Helper()
	f := Figures{CPUs: runtime.NumCPU(), OS: "unknown"}
	mem, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(mem))
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(fs[1])
			f.MemoryGB = kb * 1024 / 1e9
		}
	}
	probe := dataPath
	for {
		if _, err := os.Stat(probe); err == nil {
			break
		}
		probe = filepath.Dir(probe)
	}
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(probe, &st))
	f.DiskFreeGB = int(st.Bavail * uint64(st.Bsize) / 1e9)
	if osr, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(osr), "\n") {
			if v, ok := strings.CutPrefix(line, "ID="); ok {
				f.OS = strings.Trim(v, `"`)
			}
		}
	}
	var u syscall.Utsname
	require.NoError(t, syscall.Uname(&u))
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	f.Kernel, _, _ = strings.Cut(string(rel), "-")
	if out, err := exec.Command("dockerd", "--version").Output(); err == nil {
		if fs := strings.Fields(string(out)); len(fs) >= 3 {
			f.Docker = strings.TrimSuffix(fs[2], ",")
		}
	}
	return f
}

func TestIntegrationPreflight(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	c := srv.dial(t, srv.args("it-host-01"))
	dataPath := filepath.Join(t.TempDir(), "srv", "aurigraph")

	prod := srv.args("it-host-01")
	prod.DataPath = dataPath
	prod.Thresholds = Thresholds{MinCPUs: 32, MinMemoryGB: 64, MinDiskGB: 200}
	values := NewPreflightValues(prod)
	script, err := RenderPreflight(values)
	require.NoError(t, err)
	r := run(t, c, PreflightCommand, script)
	want := Refusal(values, measure(t, dataPath))
	require.NotEmpty(t, want, "this machine is expected to fall short of production thresholds")
	assert.Equal(t, 1, r.Code, r.Stdout+r.Stderr)
	assert.Equal(t, want+"\n", r.Stderr, "one message, exactly")
	assert.Contains(t, r.Stderr, "host it-host-01 refused: ")
	assert.Contains(t, r.Stderr, fmt.Sprintf("%d CPU cores found, 32 required", runtime.NumCPU()))
	assert.Contains(t, r.Stdout, "preflight host=it-host-01 cpus=")

	small := prod
	small.Thresholds = Thresholds{MinCPUs: 1, MinMemoryGB: 1, MinDiskGB: 1}
	script, err = RenderPreflight(NewPreflightValues(small))
	require.NoError(t, err)
	r = run(t, c, PreflightCommand, script)
	assert.Equal(t, 0, r.Code, r.Stdout+r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "host it-host-01 passed preflight")
}

// sandboxArgs is a host whose files are safe to write under a ROOT prefix.
func sandboxArgs(srv *sshd) HostArgs {
	a := srv.args("it-host-01")
	a.ClusterAddress = "127.0.0.1"
	a.DataPath = "/srv/aurigraph"
	a.Dirs = []Dir{
		{Path: "/srv/aurigraph/elasticsearch", UID: 1000, GID: 0, Mode: "0750"},
		{Path: "/srv/aurigraph/prometheus", UID: 65534, GID: 65534, Mode: "0750"},
		{Path: "/srv/aurigraph/postgres", UID: 70, GID: 70, Mode: "0700"},
	}
	a.Sysctls = map[string]string{"vm.max_map_count": "262144", "vm.overcommit_memory": "1"}
	a.ClusterPeers = []string{"127.0.0.2"}
	a.MonitoringFrom = []string{"127.0.0.1"}
	a.LoggingTarget = "127.0.0.1"
	a.LoggingPort = 5514
	a.LoggingPeer = "logstash"
	return a
}

// runSteps runs every step (or only the sandboxed ones) and returns each
// step's reported result and its output.
func runSteps(t *testing.T, c *ssh.Client, steps []StepScript, mode, root string, sandboxedOnly bool) (map[string]bool, map[string]string) {
	t.Helper()
	changed, outs := map[string]bool{}, map[string]string{}
	for _, s := range steps {
		if sandboxedOnly && !s.Step.Sandboxed {
			continue
		}
		r := run(t, c, StepCommand(mode, root), s.Script)
		require.Equal(t, 0, r.Code, "step %s %s:\n%s\n%s", s.Step.Name, mode, r.Stdout, r.Stderr)
		rs := ParseStepResults(r.Stdout)
		require.Len(t, rs, 1, "step %s: one result line:\n%s", s.Step.Name, r.Stdout)
		require.Equal(t, s.Step.Name, rs[0].Step)
		require.Equal(t, mode, rs[0].Mode)
		changed[s.Step.Name], outs[s.Step.Name] = rs[0].Changed, r.Stdout
	}
	return changed, outs
}

func listTree(t *testing.T, root string) []string {
	var out []string
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if p != root {
			out = append(out, strings.TrimPrefix(p, root))
		}
		return err
	}))
	return out
}

func TestIntegrationPrepareCheckModeChangesNothing(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	c := srv.dial(t, srv.args("it-host-01"))
	v, err := NewPrepareValues(sandboxArgs(srv))
	require.NoError(t, err)
	steps, err := RenderPrepare(v)
	require.NoError(t, err)

	// On the real machine: every step reports, nothing is written.
	written := []string{"/etc/sysctl.d/90-aurigraph.conf", "/etc/aurigraph/firewall.nft", "/etc/rsyslog.d/60-aurigraph.conf", "/etc/systemd/system/prometheus-node-exporter.service.d/aurigraph.conf", "/var/lib/aurigraph",
		ContainerMetricsPath, "/etc/systemd/system/" + ContainerMetricsUnit + ".service", "/etc/systemd/system/" + ContainerMetricsUnit + ".timer",
		ChronyConfPath, ClockMetricsPath, "/etc/systemd/system/" + ClockMetricsUnit + ".timer",
		UnattendedUpgradesConf, RebootRequiredPath, "/etc/systemd/system/" + RebootRequiredUnit + ".timer"}
	for _, p := range written {
		_, err := os.Stat(p)
		require.True(t, os.IsNotExist(err), "%s exists before the test", p)
	}
	changed, _ := runSteps(t, c, steps, "check", "", false)
	assert.Len(t, changed, len(Steps))
	assert.True(t, changed["sysctl"], "the sysctl file is missing on this machine")
	for _, p := range written {
		_, err := os.Stat(p)
		assert.True(t, os.IsNotExist(err), "check mode wrote %s", p)
	}

	// In a sandbox: every step would change, and the sandbox stays empty.
	root := t.TempDir()
	changed, outs := runSteps(t, c, steps, "check", root, false)
	for _, s := range Steps {
		if s.Sandboxed {
			assert.True(t, changed[s.Name], "step %s would change an empty host:\n%s", s.Name, outs[s.Name])
			assert.Contains(t, outs[s.Name], "  would ")
		}
	}
	assert.Empty(t, listTree(t, root))
}

func TestIntegrationPrepareIsIdempotentAndFinishesAPartialRun(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	c := srv.dial(t, srv.args("it-host-01"))
	v, err := NewPrepareValues(sandboxArgs(srv))
	require.NoError(t, err)
	steps, err := RenderPrepare(v)
	require.NoError(t, err)
	root := t.TempDir()

	// The step that installs packages never runs under a sandbox root.
	require.Equal(t, "docker", steps[1].Step.Name)
	r := run(t, c, StepCommand("apply", root), steps[1].Script)
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "does not run under a sandbox root")

	changed, outs := runSteps(t, c, steps, "apply", root, true)
	for name, ch := range changed {
		assert.True(t, ch, "first run of %s changes the host", name)
	}
	assert.Equal(t, `  write /etc/systemd/system/prometheus-node-exporter.service.d/aurigraph.conf
  write /usr/local/lib/aurigraph/container-metrics
  write /etc/systemd/system/aurigraph-container-metrics.service
  write /etc/systemd/system/aurigraph-container-metrics.timer
  write /usr/local/lib/aurigraph/cert-metrics
  write /etc/systemd/system/aurigraph-cert-metrics.service
  write /etc/systemd/system/aurigraph-cert-metrics.timer
  write /usr/local/lib/aurigraph/logging-metrics
  write /etc/systemd/system/aurigraph-logging-metrics.service
  write /etc/systemd/system/aurigraph-logging-metrics.timer
  write /etc/systemd/system/cadvisor.service.d/aurigraph.conf
step=exporters changed=yes mode=apply
`, outs["exporters"])
	// Under a sandbox the time-sync step writes its files and neither
	// installs, restarts nor waits for anything.
	assert.Equal(t, `  write /etc/chrony/chrony.conf
  write /usr/local/lib/aurigraph/clock-metrics
  write /etc/systemd/system/aurigraph-clock-metrics.service
  write /etc/systemd/system/aurigraph-clock-metrics.timer
step=time-sync changed=yes mode=apply
`, outs[TimeSyncStep])
	chrony, err := os.ReadFile(filepath.Join(root, ChronyConfPath))
	require.NoError(t, err)
	assert.Equal(t, v.ChronyConf+"\n", string(chrony))
	metrics := filepath.Join(root, ContainerMetricsPath)
	installed, err := os.ReadFile(metrics)
	require.NoError(t, err)
	assert.Equal(t, ContainerMetricsScript, string(installed), "the script arrives byte for byte")
	fi, err := os.Stat(metrics)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	// systemd accepts the units as written; ExecStart points into the
	// sandbox, where the script was installed, for the executable check.
	units := t.TempDir()
	for _, u := range []struct{ unit, path string }{{ContainerMetricsUnit, ContainerMetricsPath}, {CertMetricsUnit, CertMetricsPath}, {LoggingMetricsUnit, LoggingMetricsPath}} {
		for _, suffix := range []string{".service", ".timer"} {
			b, err := os.ReadFile(filepath.Join(root, "etc/systemd/system", u.unit+suffix))
			require.NoError(t, err)
			unit := strings.ReplaceAll(string(b), "ExecStart="+u.path, "ExecStart="+filepath.Join(root, u.path))
			require.NoError(t, os.WriteFile(filepath.Join(units, u.unit+suffix), []byte(unit), 0o644))
		}
		verify := exec.Command(need(t, "systemd-analyze"), "verify", filepath.Join(units, u.unit+".timer"), filepath.Join(units, u.unit+".service"))
		out, err := verify.CombinedOutput()
		assert.NoError(t, err, "systemd-analyze verify %s:\n%s", u.unit, out)
		assert.Empty(t, strings.TrimSpace(string(out)), "no warning either")
	}
	var out []byte
	sysctl, err := os.ReadFile(filepath.Join(root, "etc/sysctl.d/90-aurigraph.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(sysctl), "vm.max_map_count = 262144\n")
	daemon, err := os.ReadFile(filepath.Join(root, "etc/docker/daemon.json"))
	require.NoError(t, err)
	assert.Equal(t, v.DaemonJSON+"\n", string(daemon))
	fi, err = os.Stat(filepath.Join(root, "srv/aurigraph/postgres"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	assert.Equal(t, uint32(70), fi.Sys().(*syscall.Stat_t).Uid)
	staging, err := os.Stat(filepath.Join(root, "srv/aurigraph/.staging"))
	require.NoError(t, err, "the SSH user's staging directory for config files")
	assert.Equal(t, os.FileMode(0o700), staging.Mode().Perm())
	assert.Equal(t, uint32(os.Geteuid()), staging.Sys().(*syscall.Stat_t).Uid, "owned by the SSH user")
	fw, err := os.Stat(filepath.Join(root, "etc/aurigraph/firewall.nft"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fw.Mode().Perm())
	// What was written is what the real tools accept.
	out, err = exec.Command(need(t, "nft"), "-c", "-f", filepath.Join(root, "etc/aurigraph/firewall.nft")).CombinedOutput()
	assert.NoError(t, err, string(out))
	assert.NoFileExists(t, filepath.Join(root, "var/lib/aurigraph/pending/daemon-json"))

	// Second run: nothing to do, and check mode agrees.
	for _, mode := range []string{"apply", "check"} {
		changed, outs := runSteps(t, c, steps, mode, root, true)
		for name, ch := range changed {
			assert.False(t, ch, "%s run of %s changes nothing:\n%s", mode, name, outs[name])
		}
	}

	// A partially prepared host: a directory is gone, the sysctl file and the
	// container metrics script were edited, and daemon.json was written but
	// docker never restarted (the run was killed between the two). The rerun
	// finishes exactly that.
	require.NoError(t, os.Remove(filepath.Join(root, "srv/aurigraph/prometheus")))
	require.NoError(t, os.WriteFile(metrics, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/sysctl.d/90-aurigraph.conf"), []byte("vm.max_map_count = 65530\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/lib/aurigraph/pending/daemon-json"), nil, 0o644))
	changed, outs = runSteps(t, c, steps, "apply", root, true)
	assert.Equal(t, map[string]bool{TimeSyncStep: false, "daemon-json": true, "sysctl": true, "dirs": true, "firewall": false, "exporters": true, SecurityUpdatesStep: false, "logging": false, WatchdogStep: false, DriftCheckStep: false}, changed)
	assert.Equal(t, "  write /usr/local/lib/aurigraph/container-metrics\nstep=exporters changed=yes mode=apply\n", outs["exporters"], "only the edited script is rewritten")
	installed, err = os.ReadFile(metrics)
	require.NoError(t, err)
	assert.Equal(t, ContainerMetricsScript, string(installed))
	assert.Equal(t, "  directory /srv/aurigraph/prometheus mode 0750 owner 65534:65534\nstep=dirs changed=yes mode=apply\n", outs["dirs"], "only the missing directory is created")
	assert.Contains(t, outs["sysctl"], "write /etc/sysctl.d/90-aurigraph.conf")
	assert.Contains(t, outs["daemon-json"], "finish an interrupted run")
	assert.NotContains(t, outs["daemon-json"], "write /etc/docker/daemon.json")
	assert.NoFileExists(t, filepath.Join(root, "var/lib/aurigraph/pending/daemon-json"))
	sysctl, err = os.ReadFile(filepath.Join(root, "etc/sysctl.d/90-aurigraph.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(sysctl), "vm.max_map_count = 262144\n")

	changed, _ = runSteps(t, c, steps, "apply", root, true)
	for name, ch := range changed {
		assert.False(t, ch, "after finishing, %s changes nothing", name)
	}
}

func TestIntegrationRenderedFilesPassTheirTools(t *testing.T) {
	t.Parallel()
	shellcheck, nft, rsyslogd, logrotate := need(t, "shellcheck"), need(t, "nft"), need(t, "rsyslogd"), need(t, "logrotate")
	edge := sampleArgs()
	edge.Name, edge.ClusterAddress, edge.PublicTCPPorts, edge.LoggingTarget = "prod-edge-01", "192.0.2.10", []int{80, 443}, ""
	edge.Dirs = nil
	// Behind a jump host: SSH only from it, the allow-list and the peers.
	jumped := sampleArgs()
	jumped.Name, jumped.ClusterAddress, jumped.LoggingTarget, jumped.Port = "prod-app-01", "192.0.2.41", "192.0.2.30", 2222
	jumped.Jump = &Jump{Address: "203.0.113.5", Port: 22, User: "deploy"}
	jumped.SSHAllowFrom = []string{"10.0.0.0/8", "10.20.30.40", "2001:db8:1::/48", "2001:db8:1::9"}
	dir := t.TempDir()
	for _, a := range []HostArgs{sampleArgs(), edge, jumped} {
		pre, steps := renderAll(t, a)
		files := map[string]string{"preflight.sh": pre}
		for _, s := range steps {
			files[s.Step.Name+".sh"] = s.Script
		}
		var paths []string
		for name, content := range files {
			p := filepath.Join(dir, a.Name+"-"+name)
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
			paths = append(paths, p)
		}
		// One run over every script (shellcheck names the failing file).
		out, err := exec.Command(shellcheck, append([]string{"-s", "bash"}, paths...)...).CombinedOutput()
		assert.NoError(t, err, "%s:\n%s", a.Name, out)
		v, err := NewPrepareValues(a)
		require.NoError(t, err)
		fw := filepath.Join(dir, a.Name+".nft")
		require.NoError(t, os.WriteFile(fw, []byte(v.Firewall+"\n"), 0o600))
		out, err = exec.Command(nft, "-c", "-f", fw).CombinedOutput()
		assert.NoError(t, err, "%s firewall:\n%s", a.Name, out)
		if a.Jump != nil {
			assert.Contains(t, v.Firewall, "elements = { 10.0.0.0/8, 203.0.113.5 }")
			assert.Contains(t, v.Firewall, "ip saddr @ssh_from_v4 tcp dport 2222 accept")
			assert.NotContains(t, v.Firewall, "\t\ttcp dport 2222 accept")
		}
		if v.Rsyslog != "" {
			conf := filepath.Join(dir, a.Name+"-rsyslog.conf")
			require.NoError(t, os.WriteFile(conf, []byte(v.Rsyslog+"\n"), 0o644))
			spool := filepath.Join(dir, "spool")
			require.NoError(t, os.MkdirAll(spool, 0o700))
			main := filepath.Join(dir, "rsyslog-main.conf")
			require.NoError(t, os.WriteFile(main, []byte(fmt.Sprintf("global(workDirectory=%q)\nmodule(load=\"imuxsock\")\n$IncludeConfig %s\n", spool, conf)), 0o644))
			out, err := exec.Command(rsyslogd, "-N1", "-f", main).CombinedOutput()
			assert.NoError(t, err, "%s rsyslog:\n%s", a.Name, out)
		}
		if v.Logrotate != "" {
			conf := filepath.Join(dir, a.Name+"-logrotate.conf")
			require.NoError(t, os.WriteFile(conf, []byte(v.Logrotate+"\n"), 0o644))
			out, err := exec.Command(logrotate, "-d", "-s", filepath.Join(dir, a.Name+"-logrotate.state"), conf).CombinedOutput()
			assert.NoError(t, err, "%s logrotate:\n%s", a.Name, out)
			assert.NotContains(t, string(out), "error", "%s logrotate:\n%s", a.Name, out)
			assert.Contains(t, string(out), "rotating pattern: /srv/aurigraph/vault/logs/audit.log", a.Name)
		}
	}
	// A broken ruleset is caught by the same check.
	bad := filepath.Join(dir, "bad.nft")
	require.NoError(t, os.WriteFile(bad, []byte("table inet aurigraph { chain input { tcp dport nope accept } }\n"), 0o600))
	assert.Error(t, exec.Command(nft, "-c", "-f", bad).Run())
}
