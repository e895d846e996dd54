//go:build integration

package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/testserver"
)

// Short bounds keep the test quick; production uses GuardAttempts x GuardInterval.
const (
	itGuardAttempts, itGuardInterval, itGuardTimeout = 3, 1, 2
	itGuardRequests                                  = 200
)

// startReplica is a stand-in application replica whose readiness endpoint
// answers 200 or 503 as ready says; every other path names the slot.
func startReplica(t *testing.T, name string, ready *atomic.Bool) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc(ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, `{"status":"DOWN"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status":"UP"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Slot", name)
		fmt.Fprint(w, name)
	})
	return serve(t, &http.Server{Handler: mux}, nil)
}

// guardRun is one run of a rendered script, its output lines with the time
// each was read, and when it ended.
type guardRun struct {
	out   string
	err   error
	lines []timedLine
	end   time.Time
}

type timedLine struct {
	at   time.Time
	text string
}

// at is when the first line containing s was printed (zero if never).
func (r guardRun) at(s string) time.Time {
	for _, l := range r.lines {
		if strings.Contains(l.text, s) {
			return l.at
		}
	}
	return time.Time{}
}

// runScript runs script with sh, as the remote command does, streaming its
// output so the test sees when the rollback starts.
func runScript(t *testing.T, script string) guardRun {
	t.Helper()
	pr, pw := io.Pipe()
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout, cmd.Stderr = pw, pw
	var r guardRun
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			r.lines = append(r.lines, timedLine{time.Now(), sc.Text()})
			mu.Unlock()
		}
	}()
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case r.err = <-waited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		r.err = <-waited
		t.Errorf("the guard did not finish within 60 s")
	}
	r.end = time.Now()
	pw.Close()
	<-done
	var b strings.Builder
	for _, l := range r.lines {
		b.WriteString(l.text + "\n")
	}
	r.out = b.String()
	t.Logf("guard output:\n%s", r.out)
	return r
}

func requireWget(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("wget")
	require.NoError(t, err, "wget is required (the probe the guard runs inside nginx:alpine): apt-get install -y wget")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// TestIntegrationReleaseGuardRollsBack runs the real nginx at 100/0 in front
// of a ready blue and an unready green, deploys 95/5 the way the configfile
// step does, and runs the rendered guard for real: it must roll back to
// 100/0 and fail; once green is ready, a retry applies 95/5 again and a
// healthy canary step records its configuration as known-good.
func TestIntegrationReleaseGuardRollsBack(t *testing.T) {
	nginxBin := findNginx(t)
	requireWget(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	pki := newTestPKI(t, dir)
	var blueReady, greenReady atomic.Bool
	blueReady.Store(true)
	blue, green := startReplica(t, "blue", &blueReady), startReplica(t, "green", &greenReady)

	httpPort, httpsPort := testserver.FreePort(t), testserver.FreePort(t)
	rate := itRateLimitPerSec
	values := func(b, g int) Values {
		v := localValues(dir, pki, httpPort, httpsPort, b, blue, g, green)
		v.RateLimitPerSecond = rate
		return v
	}
	ng := startNginx(t, nginxBin, dir, values(100, 0))
	staged, good := filepath.Join(dir, "staged-nginx.conf"), ng.conf+GoodSuffix
	guard := func(b, g int) GuardValues {
		return GuardValues{
			Slots:    values(b, g).Slots,
			ConfPath: ng.conf, GoodPath: good, StagedPath: staged,
			Owner: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), Mode: "0644",
			DockerExec: "", // probe from here: the replicas listen on 127.0.0.1
			Nginx:      nginxBin + " " + strings.Join(ng.args(), " "),
			Attempts:   itGuardAttempts, Interval: itGuardInterval, Timeout: itGuardTimeout,
			ReadyPath: ReadyPath,
		}
	}
	render := func(b, g int) string {
		s, err := RenderGuard(guard(b, g))
		require.NoError(t, err)
		return s
	}
	// deploy does what the configfile install step does: stage, install,
	// test and reload; it returns the configuration.
	deploy := func(b, g int) string {
		conf, err := Render(values(b, g))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(staged, []byte(conf), 0o644))
		ng.reload(t, values(b, g))
		require.Equal(t, conf, readFile(t, ng.conf))
		return conf
	}
	greenShare := func(n int) (int, int) {
		// A fresh client: kept-alive connections may still be served by
		// workers of the previous configuration until they close.
		client := newClient(pki, httpsPort)
		defer client.CloseIdleConnections()
		counts, failed := split(t, client, n)
		return counts["green"], failed
	}

	// First deployment at 100/0: green is not ready but has no traffic, so
	// it is not checked; the guard creates the known-good copy.
	conf100 := deploy(100, 0)
	r := runScript(t, render(100, 0))
	require.NoError(t, r.err)
	assert.Equal(t, conf100, readFile(t, good))
	assert.NotContains(t, r.out, green)

	t.Run("unready green: rollback to 100/0", func(t *testing.T) {
		deploy(95, 5)
		g, failed := greenShare(itGuardRequests)
		require.Zero(t, failed)
		require.Positive(t, g, "95/5 is live: green receives traffic before the guard runs")

		before := ng.workers()
		start := time.Now()
		r := runScript(t, render(95, 5))
		require.Error(t, r.err, "the guard fails so pulumi up stops")
		rollback := r.at("ROLLING BACK")
		require.False(t, rollback.IsZero(), "the guard announces the rollback")
		ng.awaitReload(t, before)
		reloaded := time.Now()

		failedLine := ""
		for _, l := range r.lines {
			if strings.Contains(l.text, "ROLLING BACK") {
				failedLine = l.text
			}
		}
		assert.Contains(t, failedLine, "app_green="+green, "names the unready replica")
		assert.NotContains(t, failedLine, blue, "blue is ready")
		assert.Contains(t, r.out, "ROLLED BACK")
		assert.Contains(t, r.out, "aurigraph:release", "tells the operator to set the weights back")
		assert.Equal(t, conf100, readFile(t, ng.conf), "the known-good configuration is live again")
		assert.Equal(t, conf100, readFile(t, good))

		g, failed = greenShare(itGuardRequests)
		assert.Zero(t, failed)
		assert.Zero(t, g, "green receives nothing after the rollback")
		t.Logf("rollback measured: guard ran %v (detection %d checks %d s apart); rollback announced -> guard exit %v; -> nginx reloaded %v",
			r.end.Sub(start).Round(time.Millisecond), itGuardAttempts, itGuardInterval,
			r.end.Sub(rollback).Round(time.Millisecond), reloaded.Sub(rollback).Round(time.Millisecond))
	})

	t.Run("retry while green is still unready changes nothing", func(t *testing.T) {
		before := ng.workers()
		r := runScript(t, render(95, 5))
		require.Error(t, r.err)
		assert.Contains(t, r.out, "not the deployed one")
		assert.Contains(t, r.out, "nothing changed")
		assert.Contains(t, r.out, "app_green="+green)
		assert.Equal(t, conf100, readFile(t, ng.conf))
		for pid := range ng.workers() {
			assert.True(t, before[pid], "no reload: worker %d is new", pid)
		}
	})

	t.Run("retry once green is ready applies 95/5 again", func(t *testing.T) {
		greenReady.Store(true)
		conf95 := readFile(t, staged)
		before := ng.workers()
		r := runScript(t, render(95, 5))
		require.NoError(t, r.err)
		assert.Contains(t, r.out, "applied the deployed configuration")
		ng.awaitReload(t, before)
		assert.Equal(t, conf95, readFile(t, ng.conf))
		assert.Equal(t, conf95, readFile(t, good), "recorded as known-good")
		g, failed := greenShare(itGuardRequests)
		assert.Zero(t, failed)
		assert.Positive(t, g, "green receives traffic again")
	})

	t.Run("healthy canary step passes and records the new known-good", func(t *testing.T) {
		conf80 := deploy(80, 20)
		r := runScript(t, render(80, 20))
		require.NoError(t, r.err)
		assert.Contains(t, r.out, "recorded the known-good configuration")
		assert.Equal(t, conf80, readFile(t, ng.conf))
		assert.Equal(t, conf80, readFile(t, good))
	})

	t.Run("a change that moves no traffic is recorded without a check", func(t *testing.T) {
		rate = itRateLimitPerSec / 2
		conf := deploy(80, 20)
		record, err := RenderRecordGood(guard(80, 20))
		require.NoError(t, err)
		r := runScript(t, record)
		require.NoError(t, r.err)
		assert.Equal(t, conf, readFile(t, good))
		// After a rollback (live differs from the deployed file) it leaves
		// the known-good copy to the guard.
		require.NoError(t, os.WriteFile(staged, []byte("# a newer deployment\n"), 0o644))
		r = runScript(t, record)
		require.NoError(t, r.err)
		assert.Contains(t, r.out, "left to the release guard")
		assert.Equal(t, conf, readFile(t, good))
	})
}

// TestIntegrationReleaseGuardWithoutRollbackTarget: with no known-good file
// (first deployment) or when the known-good file is the live one (only an
// image changed), an unready replica fails the guard without touching nginx.
func TestIntegrationReleaseGuardWithoutRollbackTarget(t *testing.T) {
	requireWget(t)
	dir := t.TempDir()
	var ready, unready atomic.Bool
	ready.Store(true)
	blue, green := startReplica(t, "blue", &ready), startReplica(t, "green", &unready)
	conf, staged, good := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "staged"), filepath.Join(dir, "nginx.conf.good")
	for _, p := range []string{conf, staged} {
		require.NoError(t, os.WriteFile(p, []byte("# 50/50\n"), 0o644))
	}
	script, err := RenderGuard(GuardValues{
		Slots:    []Slot{{Name: "app_blue", Weight: 50, HTTP: []string{blue}}, {Name: "app_green", Weight: 50, HTTP: []string{green}}},
		ConfPath: conf, GoodPath: good, StagedPath: staged,
		Owner: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), Mode: "0644",
		Nginx:    "/bin/false", // reached only by a rollback, which must not happen
		Attempts: 2, Interval: 0, Timeout: itGuardTimeout, ReadyPath: ReadyPath,
	})
	require.NoError(t, err)

	r := runScript(t, script)
	require.Error(t, r.err)
	assert.Contains(t, r.out, "no known-good configuration to roll back to")
	assert.Contains(t, r.out, "app_green="+green)
	_, statErr := os.Stat(good)
	assert.True(t, errors.Is(statErr, os.ErrNotExist), "an unready deployment is never recorded as known-good")

	require.NoError(t, os.WriteFile(good, []byte("# 50/50\n"), 0o644))
	r = runScript(t, script)
	require.Error(t, r.err)
	assert.Contains(t, r.out, "nothing to roll back")
	assert.Equal(t, "# 50/50\n", readFile(t, conf))
}

func TestIntegrationGuardScriptsPassShellcheck(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: apt-get install -y shellcheck")
	v := ProductionGuard(sampleValues(95, 5), "/srv/aurigraph/nginx", "/srv/aurigraph/.staging/nginx-conf-nginx-conf", 0, 0)
	guard, err := RenderGuard(v)
	require.NoError(t, err)
	record, err := RenderRecordGood(v)
	require.NoError(t, err)
	for name, script := range map[string]string{"guard": guard, "record": record} {
		for _, dialect := range []string{"sh", "bash"} {
			cmd := exec.Command("shellcheck", "-s", dialect, "-")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s (%s): %s", name, dialect, out)
		}
	}
}

// localValues renders the gateway for a local nginx on 127.0.0.1 with its
// files under dir, blue and green weighted over one replica each.
func localValues(dir string, pki *testPKI, httpPort, httpsPort, blueW int, blue string, greenW int, green string) Values {
	v := Values{
		ListenAddress: "127.0.0.1", HTTPPort: httpPort, HTTPSPort: httpsPort,
		APIHostname: itAPI,
		Slots: []Slot{
			{Name: "app_blue", Weight: blueW, HTTP: []string{blue}},
			{Name: "app_green", Weight: greenW, HTTP: []string{green}},
		},
		RateLimitPerSecond: itRateLimitPerSec, RateLimitBurst: itBurst,
		CertPath: pki.certPath, KeyPath: pki.keyPath, CAPath: pki.caPath, HtpasswdPath: filepath.Join(dir, "htpasswd"),
		AccessLog: filepath.Join(dir, "access.log"), ErrorLog: filepath.Join(dir, "error.log"),
		PidPath: filepath.Join(dir, "nginx.pid"), TempDir: dir,
		Resolver: "127.0.0.1",
	}
	if os.Geteuid() == 0 {
		v.User = "root"
	}
	return v
}
