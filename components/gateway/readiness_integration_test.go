//go:build integration

package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testserver"
)

// TestIntegrationReadinessGateStopsRoutingToUnreadyReplica runs the real
// nginx in front of two Go replicas of one slot and the rendered gate with
// bash: when one replica's readiness fails (it still answers requests, so
// nginx's passive checks never notice), the third failing run marks it down
// and reloads nginx, and no request reaches it any more; one ready answer
// puts it back. The gate never takes the last server of an upstream, leaves
// a drained server alone, and the live file's hash leaves its marks out.
func TestIntegrationReadinessGateStopsRoutingToUnreadyReplica(t *testing.T) {
	nginxBin := findNginx(t)
	requireWget(t)
	shellcheck, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: apt-get install -y shellcheck")
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is required: apt-get install -y prometheus")
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	textfiles := filepath.Join(dir, "textfile")
	require.NoError(t, os.MkdirAll(textfiles, 0o755))
	pki := newTestPKI(t, dir)
	var r1Ready, r2Ready atomic.Bool
	r1Ready.Store(true)
	r2Ready.Store(true)
	r1, r2 := startReplica(t, "r1", &r1Ready), startReplica(t, "r2", &r2Ready)
	httpPort, httpsPort := testserver.FreePort(t), testserver.FreePort(t)
	values := func(down ...string) Values {
		v := localValues(dir, pki, httpPort, httpsPort, 100, r1, 0, r1)
		v.Slots = []Slot{{Name: "app_blue", Weight: 100, HTTP: []string{r1, r2}}, {Name: "app_green", Weight: 0}}
		v.Down = down
		return v
	}
	deployed, err := Render(values())
	require.NoError(t, err)
	ng := startNginx(t, nginxBin, dir, values())

	logFile := filepath.Join(dir, "gate.log")
	logger := filepath.Join(dir, "logger")
	require.NoError(t, os.WriteFile(logger, []byte("#!/bin/sh\nprintf '%s\\n' \"$*\" >>"+shell.Quote(logFile)+"\n"), 0o755))
	// The drift check's record of nginx.conf, as the configfile step writes it.
	manifests := filepath.Join(dir, "manifest.d")
	require.NoError(t, os.MkdirAll(manifests, 0o755))
	manifest := filepath.Join(manifests, "nginx-conf-install.sha256")
	require.NoError(t, os.WriteFile(manifest, []byte(ConfHash(deployed)+"  "+ng.conf+"\n"), 0o644))
	gv := GateValues{
		Slots:    values().Slots,
		ConfPath: ng.conf, Owner: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), Mode: "0644",
		StateDir:   filepath.Join(dir, "gate-state"),
		DockerExec: "", // probe from here: the replicas listen on 127.0.0.1
		Nginx:      nginxBin + " " + strings.Join(ng.args(), " "),
		Timeout:    2, Retries: GateRetries, IntervalSeconds: 1,
		ReadyPath: ReadyPath,
	}
	script, err := RenderGate(gv)
	require.NoError(t, err)
	gate := filepath.Join(dir, "readiness-gate")
	require.NoError(t, os.WriteFile(gate, []byte(script), 0o755))
	install, err := RenderGateInstall(ProductionGate(values(), "/srv/aurigraph/nginx"))
	require.NoError(t, err)
	for name, s := range map[string]string{"gate": script, "install": install} {
		cmd := exec.Command(shellcheck, "-s", "bash", "-")
		cmd.Stdin = strings.NewReader(s)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "shellcheck %s: %s", name, out)
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command("bash", gate)
		cmd.Env = append(os.Environ(), "LOGGER="+logger, "MANIFEST_DIR="+manifests, "TEXTFILE_DIR="+textfiles)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Logf("gate: %s", out)
		return string(out)
	}
	share := func() (map[string]int, int) {
		client := newClient(pki, httpsPort)
		defer client.CloseIdleConnections()
		return split(t, client, 200)
	}
	marked := "server " + r2 + " max_fails=3 fail_timeout=10s down;" + GateMark + "\n"

	// Both ready: nothing changes, both take traffic.
	assert.Contains(t, run(), "unchanged; unready: none")
	assert.Equal(t, deployed, readFile(t, ng.conf))
	counts, failed := share()
	require.Zero(t, failed)
	require.Positive(t, counts["r1"])
	require.Positive(t, counts["r2"])

	// r2 turns unready but still answers: the passive checks keep routing to it.
	r2Ready.Store(false)
	unreadyAt := time.Now()
	for i := 1; i < GateRetries; i++ {
		assert.Contains(t, run(), "unchanged", "run %d of %d", i, GateRetries)
	}
	counts, failed = share()
	require.Zero(t, failed)
	assert.Positive(t, counts["r2"], "nginx alone keeps sending requests to the unready replica")

	before := ng.workers()
	out := run()
	ng.awaitReload(t, before)
	outAt := time.Now()
	assert.Contains(t, out, "out of rotation (readiness failing 3 times): "+r2)
	// The readiness metric the release analysis reads, as node exporter
	// serves it: promtool accepts the file; r2 failed 3 probes in a row.
	// (These slots have no route: the slot label is the upstream's name.)
	prom := readFile(t, filepath.Join(textfiles, GateMetricFile))
	assert.Contains(t, prom, fmt.Sprintf("%s{replica=%q,slot=%q} 3\n", app.ReadinessFailuresMetric, r2, "app_blue"))
	assert.Contains(t, prom, fmt.Sprintf("%s{replica=%q,slot=%q} 0\n", app.ReadinessFailuresMetric, r1, "app_blue"))
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = strings.NewReader(prom)
	lintOut, err := lint.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics: %s", lintOut)
	assert.Contains(t, readFile(t, ng.conf), marked)
	assert.Equal(t, 1, strings.Count(readFile(t, ng.conf), GateMark), "only r2 is marked")
	counts, failed = share()
	assert.Zero(t, failed)
	assert.Zero(t, counts["r2"], "no request reaches the unready replica")
	assert.Equal(t, 200, counts["r1"])
	assert.Contains(t, readFile(t, logFile), "-t "+GateTag+" -p daemon.warning -- readiness gate: reloaded nginx")
	t.Logf("MEASURED readiness gate: %d runs; unready -> out of rotation %v (production: runs %d s apart, so about %d s)",
		GateRetries, outAt.Sub(unreadyAt).Round(time.Millisecond), GateIntervalSeconds, GateRetries*GateIntervalSeconds)

	// The gate's own write is no drift: the record follows it.
	check, err := exec.Command("sha256sum", "-c", manifest).CombinedOutput()
	assert.NoError(t, err, "%s", check)
	assert.NotContains(t, readFile(t, manifest), ConfHash(deployed))

	// The release guard's known-good step sees the deployed file too, and
	// records it without the marks.
	staged, good := filepath.Join(dir, "staged-nginx.conf"), ng.conf+GoodSuffix
	require.NoError(t, os.WriteFile(staged, []byte(deployed), 0o644))
	record, err := RenderRecordGood(GuardValues{
		Slots: values().Slots, ConfPath: ng.conf, GoodPath: good, StagedPath: staged,
		Owner: gv.Owner, Mode: "0644", Nginx: gv.Nginx, Attempts: 1, Interval: 1, Timeout: 1, ReadyPath: ReadyPath,
	})
	require.NoError(t, err)
	out = runScript(t, record).out
	assert.Contains(t, out, "recorded the known-good nginx configuration")
	assert.Equal(t, deployed, readFile(t, good))

	// The reboot drain's check sees the deployed file: the marks are left out.
	confDir := filepath.Join(dir, "gw")
	require.NoError(t, os.MkdirAll(filepath.Join(confDir, "conf"), 0o755))
	require.NoError(t, os.Symlink(ng.conf, ConfFile(confDir)))
	hash, err := exec.Command("sh", "-c", LiveConfHashCommand(confDir)).Output()
	require.NoError(t, err)
	assert.Equal(t, ConfHash(deployed), strings.TrimSpace(string(hash)))

	// Both unready: marking both would answer 502 to everything; the gate
	// leaves the upstream in rotation and says so.
	r1Ready.Store(false)
	var last string
	before = ng.workers()
	for i := 0; i < GateRetries; i++ {
		cmd := exec.Command("bash", gate)
		cmd.Env = append(os.Environ(), "LOGGER="+logger, "MANIFEST_DIR="+manifests)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		last = string(b)
	}
	assert.Contains(t, last, "every server of upstream app_blue is unready: left in rotation")
	ng.awaitReload(t, before)
	assert.Equal(t, deployed, readFile(t, ng.conf))
	counts, failed = share()
	assert.Zero(t, failed)
	assert.Positive(t, counts["r2"])

	// r1 ready again: r2 is marked at once (it has failed all along).
	r1Ready.Store(true)
	before = ng.workers()
	run()
	ng.awaitReload(t, before)
	assert.Contains(t, readFile(t, ng.conf), marked)

	// One ready answer puts r2 back, byte for byte the deployed file.
	r2Ready.Store(true)
	before = ng.workers()
	run()
	ng.awaitReload(t, before)
	assert.Equal(t, deployed, readFile(t, ng.conf))
	assert.Equal(t, ConfHash(deployed)+"  "+ng.conf+"\n", readFile(t, manifest), "the record is the deployed file's again")
	counts, failed = share()
	assert.Zero(t, failed)
	assert.Positive(t, counts["r2"], "r2 takes traffic again")

	// A server drained for a reboot (down without the mark) is left alone,
	// and the drained and the unready together never empty the upstream.
	ng.reload(t, values(r1))
	drained, err := Render(values(r1))
	require.NoError(t, err)
	r2Ready.Store(false)
	for i := 0; i < GateRetries; i++ {
		cmd := exec.Command("bash", gate)
		cmd.Env = append(os.Environ(), "LOGGER="+logger, "MANIFEST_DIR="+manifests)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
	}
	assert.Equal(t, drained, readFile(t, ng.conf))
	assert.Contains(t, drained, "server "+r1+" max_fails=3 fail_timeout=10s down;\n")
}
