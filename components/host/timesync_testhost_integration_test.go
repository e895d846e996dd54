//go:build integration

package host

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/testhost"
)

// chronyDebs are chrony and what the test hosts' Debian (bookworm minbase)
// lacks of its dependencies. The hosts have no route out, so apt cannot run
// on them: the packages come from this machine's apt (`apt-get download`)
// and are installed with dpkg before the step runs. The step's
// `ensure_packages chrony` then finds chrony installed: everything it does
// but the apt-get call runs for real.
var chronyDebs = []string{"chrony", "iproute2", "libbpf1", "libelf1", "libmnl0", "libxtables12", "libcap2-bin"}

var debsOnce sync.Once

func downloadChronyDebs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "aurigraph-testhost-chrony-debs")
	var err error
	var out []byte
	debsOnce.Do(func() {
		if m, _ := filepath.Glob(filepath.Join(dir, "*.deb")); len(m) >= len(chronyDebs) {
			return
		}
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return
		}
		download := func() ([]byte, error) {
			cmd := exec.Command("apt-get", append([]string{"download", "-q"}, chronyDebs...)...)
			cmd.Dir = dir
			return cmd.CombinedOutput()
		}
		if out, err = download(); err != nil {
			// A machine whose package lists were never fetched knows no package yet.
			if up, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
				out = append(out, up...)
				return
			}
			out, err = download()
		}
	})
	require.NoError(t, err, "apt-get download %v (Debian's apt is required):\n%s", chronyDebs, out)
	m, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	require.Len(t, m, len(chronyDebs), "one .deb per package in %s", dir)
	return dir
}

// unprivilegedChrony lets chronyd run in a test host: the container has no
// CAP_SYS_TIME (Debian's unit has ConditionCapability=CAP_SYS_TIME and
// would be skipped), and -x makes chronyd measure and track the clock
// without ever setting it. What this proves: the configuration, the
// server selection, the synchronisation state and the offset chronyd
// reports, the unit handling and the wait. What it does not: that chronyd
// steps or slews a real clock (the containers share this machine's kernel
// clock, which stays as it is).
const unprivilegedChrony = `[Unit]
ConditionCapability=
[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd -x $DAEMON_OPTS
`

// chronyHost starts a test host with chrony installed (and running, -x).
func chronyHost(t *testing.T, debs string) (*testhost.Host, string) {
	t.Helper()
	h := testhost.Start(t)
	out, err := exec.Command("docker", "cp", debs+"/.", h.Container+":/tmp/debs").CombinedOutput()
	require.NoError(t, err, "%s", out)
	r := h.Exec(t, "mkdir -p /etc/systemd/system/chrony.service.d && cat > /etc/systemd/system/chrony.service.d/test-no-clock-control.conf <<'EOF'\n"+unprivilegedChrony+"EOF\n"+
		"systemctl daemon-reload && dpkg -i /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }")
	require.Equal(t, 0, r.Code, "%s%s", r.Stdout, r.Stderr)
	ip := strings.TrimSpace(h.Exec(t, "hostname -I | cut -d' ' -f1").Stdout)
	require.Regexp(t, `^[0-9.]+$`, ip)
	return h, ip
}

// hostSteps runs NewHost under the mock engine and returns the preflight
// and time-sync commands exactly as the program registers them (command
// line and stdin), for replay on a real host.
func hostSteps(t *testing.T, a HostArgs) (preflight, timeSync [2]string) {
	t.Helper()
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		_, err := NewHost(ctx, a.Name, a)
		return err
	}, mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)
	get := func(name string) [2]string {
		r := res.Named("command:remote:Command", name)
		require.NotNil(t, r, name)
		return [2]string{r.Inputs["create"].StringValue(), r.Inputs["stdin"].StringValue()}
	}
	return get(a.Name + "-preflight"), get(a.Name + "-prepare-" + TimeSyncStep)
}

func clientArgs(h *testhost.Host, servers ...string) HostArgs {
	return HostArgs{
		Name: "clock-client", Address: h.Address, ClusterAddress: "192.0.2.50", Port: h.Port, User: h.User, HostKey: h.HostKey,
		PrivateKey: pulumi.ToSecret(pulumi.String(string(h.ClientKey))).(pulumi.StringOutput),
		DataPath:   "/srv/aurigraph", Thresholds: Thresholds{MinCPUs: 1, MinMemoryGB: 1, MinDiskGB: 1},
		TimeServers: servers, MaxClockOffsetMs: 100, StepTimeout: "5m",
	}
}

var clockOffsetRE = regexp.MustCompile(`(?m)^preflight host=clock-client .* clock_offset=(\S+)$`)

func TestIntegrationTimeSyncOnRealHosts(t *testing.T) {
	t.Parallel()
	debs := downloadChronyDebs(t)

	// The NTP server: a second test host serving its own (this machine's)
	// clock at stratum 8 to the test network.
	server, serverIP := chronyHost(t, debs)
	r := server.Exec(t, "printf 'local stratum 8\\nallow\\n' > /etc/chrony/chrony.conf && systemctl restart chrony && systemctl is-active chrony")
	require.Equal(t, 0, r.Code, "%s%s", r.Stdout, r.Stderr)

	client, _ := chronyHost(t, debs)
	preflight, timeSync := hostSteps(t, clientArgs(client, serverIP))
	require.Equal(t, StepCommand("apply", ""), timeSync[0], "the step runs as registered: sudo bash -s -- apply")

	// The step over SSH as the deploy user (it sudoes), as the program runs it.
	r = client.SSH(t, client.User, timeSync[0], timeSync[1])
	require.Equal(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, "  write /etc/chrony/chrony.conf\n")
	assert.Contains(t, r.Stdout, "  restart chrony and aurigraph-clock-metrics.timer\n")
	assert.Contains(t, r.Stdout, "  clock synchronised: Reference ID: ")
	assert.Contains(t, r.Stdout, "step=time-sync changed=yes mode=apply\n")

	// Independently of the step (docker exec as root): chronyd selected the
	// configured server and is synchronised to it.
	sources := client.Exec(t, "chronyc -n sources").Stdout
	assert.Regexp(t, `(?m)^\^\* `+regexp.QuoteMeta(serverIP)+` `, sources, "the configured server is the selected source")
	tracking := strings.Split(strings.TrimSpace(client.Exec(t, "chronyc -n -c tracking").Stdout), ",")
	require.Len(t, tracking, 14)
	assert.Equal(t, serverIP, tracking[1])
	assert.Equal(t, "Normal", tracking[13])
	conf := client.Exec(t, "grep -E '^(server|pool|sourcedir|confdir)' /etc/chrony/chrony.conf").Stdout
	assert.Equal(t, "server "+serverIP+" iburst\n", conf, "the configured server only")

	// The clock metrics unit runs under systemd with the real chronyc.
	r = client.Exec(t, "systemctl is-enabled aurigraph-clock-metrics.timer && systemctl is-active aurigraph-clock-metrics.timer && systemctl start aurigraph-clock-metrics.service && cat "+TextfileDir+"/aurigraph-clock.prom")
	require.Equal(t, 0, r.Code, "%s%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, "\naurigraph_clock_synchronised 1\n")
	assert.Regexp(t, `(?m)^aurigraph_clock_offset_seconds -?0\.0[0-9]{8}$`, r.Stdout, "an offset well under 100 ms")

	// Again: nothing to change, and it still checks the synchronisation.
	r = client.SSH(t, client.User, timeSync[0], timeSync[1])
	require.Equal(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, "  clock synchronised: ")
	assert.Contains(t, r.Stdout, "step=time-sync changed=no mode=apply\n")

	// Preflight (no root) reads the real chronyc: a measured offset within the bound.
	r = client.SSH(t, client.User, preflight[0], preflight[1])
	require.Equal(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	m := clockOffsetRE.FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, r.Stdout)
	assert.Regexp(t, `^[0-9]+ms$`, m[1], "measured by the running chronyd")
	var ms int
	_, err := fmt.Sscanf(m[1], "%dms", &ms)
	require.NoError(t, err)
	assert.LessOrEqual(t, ms, 100)

	// Pointed at a server nobody answers for (TEST-NET-1; the host has no
	// route out), the step fails with a clear message once its wait is
	// over. The wait is shortened for the test through the environment,
	// which sudo would reset: this run logs in as root.
	_, unreachable := hostSteps(t, clientArgs(client, "192.0.2.1"))
	r = client.SSH(t, testhost.Root, "TIME_SYNC_WAIT_SECONDS=6 bash -s -- apply", unreachable[1])
	assert.NotEqual(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, "  wait up to 6s for the clock to synchronise (offset under 0.100s) to: 192.0.2.1\n")
	assert.Contains(t, r.Stderr, "step time-sync: clock not synchronised within 6s (offset under 0.100s) to any of: 192.0.2.1; last: ")
	assert.Contains(t, r.Stderr, "the host needs UDP port 123 out to these servers, or set aurigraph:time.servers to ones it reaches")
	assert.NotContains(t, r.Stdout, "step=time-sync changed=", "a failed step reports no result")

	// Preflight now finds chronyd unsynchronised: not measured, a warning, no refusal.
	preflight, _ = hostSteps(t, clientArgs(client, "192.0.2.1"))
	r = client.SSH(t, client.User, preflight[0], preflight[1])
	require.Equal(t, 0, r.Code, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	m = clockOffsetRE.FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, r.Stdout)
	assert.Equal(t, "unsynchronised", m[1])
	assert.Contains(t, r.Stdout, "warning: host clock-client: clock offset not measured (unsynchronised)")
	r = client.Exec(t, "systemctl start aurigraph-clock-metrics.service && cat "+TextfileDir+"/aurigraph-clock.prom")
	assert.Contains(t, r.Stdout, "\naurigraph_clock_synchronised 0\n")
	assert.NotContains(t, r.Stdout, "aurigraph_clock_offset_seconds ")
}
