//go:build integration

package release

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/testserver"
)

// latencyBuckets are the exporter's histogram bounds, in seconds.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5}

// replica serves one slot's request metrics as the application does
// (Micrometer names, job aurigraph-v11): 100 requests a second, of which
// the share errorRatio fail with 500, all taking latency. The counters grow
// at each scrape by the time since the previous one.
type replica struct {
	mu         sync.Mutex
	last       time.Time
	ok, failed float64
	buckets    []float64 // cumulative counts per latencyBuckets, then +Inf
	errorRatio atomic.Value
	latency    atomic.Value
}

func newReplica() *replica {
	r := &replica{last: time.Now(), buckets: make([]float64, len(latencyBuckets)+1)}
	r.errorRatio.Store(0.0)
	r.latency.Store(0.02)
	return r
}

func (r *replica) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	n := 100 * now.Sub(r.last).Seconds()
	r.last = now
	ratio, lat := r.errorRatio.Load().(float64), r.latency.Load().(float64)
	r.failed += n * ratio
	r.ok += n * (1 - ratio)
	for i, le := range latencyBuckets {
		if lat <= le {
			r.buckets[i] += n
		}
	}
	r.buckets[len(latencyBuckets)] += n
	var b strings.Builder
	b.WriteString("# TYPE http_server_requests_seconds histogram\n")
	for i, le := range latencyBuckets {
		fmt.Fprintf(&b, "http_server_requests_seconds_bucket{method=\"GET\",uri=\"/api/v11/status\",le=\"%g\"} %f\n", le, r.buckets[i])
	}
	fmt.Fprintf(&b, "http_server_requests_seconds_bucket{method=\"GET\",uri=\"/api/v11/status\",le=\"+Inf\"} %f\n", r.buckets[len(latencyBuckets)])
	fmt.Fprintf(&b, "http_server_requests_seconds_count{method=\"GET\",status=\"200\",uri=\"/api/v11/status\"} %f\n", r.ok)
	fmt.Fprintf(&b, "http_server_requests_seconds_count{method=\"GET\",status=\"500\",uri=\"/api/v11/status\"} %f\n", r.failed)
	_, _ = w.Write([]byte(b.String()))
}

// promStack is a real Prometheus (Debian) scraping a blue and a green
// replica on loopback every second, with the program's scrape config.
type promStack struct {
	url         string
	blue, green *replica
}

func startPromStack(t *testing.T) *promStack {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus is required for the integration tests: apt-get install prometheus")
	dir := t.TempDir()
	s := &promStack{blue: newReplica(), green: newReplica()}
	// The scrape job targets <name>:<app.RESTPort>: each replica listens on
	// that port on an address of its own in 127/8.
	base := fmt.Sprintf("127.%d.%d", 20+os.Getpid()%200, 1+rand.IntN(250))
	var targets []prometheus.AppTarget
	for i, r := range []struct {
		slot string
		h    http.Handler
	}{{Blue, s.blue}, {Green, s.green}} {
		addr := fmt.Sprintf("%s.%d", base, i+1)
		testserver.Serve(t, fmt.Sprintf("%s:%d", addr, app.RESTPort), r.h)
		targets = append(targets, prometheus.AppTarget{Name: addr, Tier: "slim", Slot: r.slot, Group: 1, Host: "test-app-01"})
	}
	rules, err := prometheus.RenderRules(prometheus.RulesValues{PoolMaxSize: 20})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644))
	cfg, err := prometheus.RenderConfig(prometheus.ConfigValues{
		Environment: "release-test", ScrapeInterval: "1s", ScrapeTimeout: "1s", EvaluationInterval: "1s",
		RulesFile: filepath.Join(dir, "alerts.yml"), Replicas: targets,
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	port := testserver.FreePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	srv := testserver.Start(t, exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port)), fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second, syscall.SIGTERM)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", srv.Logs())
		}
	})
	// Ready once both slots have been scraped a few times: rates need two
	// samples in their window.
	a := &PrometheusAnalysis{URL: s.url}
	require.Eventually(t, func() bool {
		r, err := a.query(context.Background(), fmt.Sprintf(`count by (slot) (count_over_time(up{job=%q}[10s]) >= 3)`, prometheus.AppJob))
		return err == nil && len(r.Data.Result) == 2
	}, 25*time.Second, 200*time.Millisecond, "Prometheus never scraped both replicas")
	return s
}

// timedAnalysis records when each analysis returned a failure.
type timedAnalysis struct {
	Analysis
	mu       sync.Mutex
	calls    int
	failedAt []time.Time
	failures []string
}

func (a *timedAnalysis) Analyse(ctx context.Context, slot string) error {
	err := a.Analysis.Analyse(ctx, slot)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if f, ok := err.(*Failed); ok {
		a.failedAt = append(a.failedAt, time.Now())
		a.failures = append(a.failures, f.Error())
	}
	return err
}

// analysisInterval is the tests' analysis interval; window the rate
// window of their queries (four scrapes).
const (
	analysisInterval = time.Second
	window           = "4s"
)

func realController(t *testing.T, s *promStack, r Runner) (*Controller, *timedAnalysis) {
	t.Helper()
	checks, err := Checks(window)
	require.NoError(t, err)
	a := &timedAnalysis{Analysis: &PrometheusAnalysis{URL: s.url, Checks: checks}}
	c, _ := newController(t, r, a)
	c.Interval = analysisInterval
	c.Out = testWriter{t}
	return c, a
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func integrationSpec(pause time.Duration) Spec {
	return Spec{Strategy: Canary, Image: "aurigraph/v11:2.0.0", Pause: pause, Watch: 3 * time.Second, Drain: 100 * time.Millisecond}
}

func TestIntegrationHealthyCanaryPromotesThroughEveryStep(t *testing.T) {
	s := startPromStack(t)
	p, err := NewPlan(blueLive, integrationSpec(2*time.Second))
	require.NoError(t, err)
	r := newRunner(liveConfig())
	c, a := realController(t, s, r)
	require.NoError(t, c.Start(context.Background(), p))
	assert.Equal(t, []string{p.Steps[1].Name, "green 5%, blue 95%", "green 20%, blue 80%", "green 50%, blue 50%", "green 100%, blue 0%", "scale down the blue slot"}, r.steps())
	b, g := r.weights()
	assert.Equal(t, []string{"0", "100"}, []string{b, g})
	assert.GreaterOrEqual(t, a.calls, 6, "analysed against Prometheus during every pause and the watch window")
	assert.Empty(t, a.failures)
}

func TestIntegrationErrorRateAtStep2RollsBack(t *testing.T) {
	s := startPromStack(t)
	// A long pause: the failure must cut the 20% step short, not wait it out.
	p, err := NewPlan(blueLive, integrationSpec(20*time.Second))
	require.NoError(t, err)
	r := newRunner(liveConfig())
	var crossed time.Time
	var c *Controller
	r.onUp = func(step string, _ []Change) {
		if step == "green 5%, blue 95%" {
			assert.NoError(t, c.Promote(), "step 1 healthy: release promote skips its pause")
		}
		if step == "green 20%, blue 80%" {
			crossed = time.Now()
			s.green.errorRatio.Store(0.5) // the canary fails half its requests from step 2 on
		}
	}
	c, a := realController(t, s, r)
	err = c.Start(context.Background(), p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "error rate > 5% on the green slot")
	steps := r.steps()
	require.Equal(t, []string{p.Steps[1].Name, "green 5%, blue 95%", "green 20%, blue 80%", "rollback"}, steps, "rolled back during step 2, before any further weight")
	rollback := r.ups[len(r.ups)-1]
	assert.Equal(t, Weights(Blue, Green, 0), rollback.Changes, "by weight only: no image changes, no container recreated")
	b, g := r.weights()
	assert.Equal(t, []string{"100", "0"}, []string{b, g})

	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.failedAt, 1, "the first failed analysis rolls back: no second analysis before the rollback up")
	t.Logf("MEASURED failed analysis -> rollback up issued: %s; error rate crossing (step 2 up) -> rollback up: %s (scrape 1s, analysis every %s, window %s)",
		rollback.At.Sub(a.failedAt[0]), rollback.At.Sub(crossed).Round(time.Millisecond), analysisInterval, window)
	st, err := LoadState(c.StatePath)
	require.NoError(t, err)
	assert.Equal(t, StatusRolledBack, st.Status)
	assert.Contains(t, st.Reason, "error rate > 5%")
}

func TestIntegrationLatencyFailsTheAnalysis(t *testing.T) {
	s := startPromStack(t)
	checks, err := Checks(window)
	require.NoError(t, err)
	a := &PrometheusAnalysis{URL: s.url, Checks: checks}
	require.NoError(t, a.Analyse(context.Background(), Green), "healthy")
	s.green.latency.Store(2.0)
	var last error
	require.Eventually(t, func() bool {
		last = a.Analyse(context.Background(), Green)
		return last != nil
	}, 10*time.Second, 200*time.Millisecond)
	assert.Contains(t, last.Error(), "p99 latency > 1s")
	assert.NoError(t, a.Analyse(context.Background(), Blue), "blue is judged on its own series")
}

func TestIntegrationInterruptedReleaseResumesAtItsStep(t *testing.T) {
	s := startPromStack(t)
	p, err := NewPlan(blueLive, integrationSpec(time.Second))
	require.NoError(t, err)
	cfg := liveConfig()
	cfg["release.green.image"], cfg["release.green.weight"], cfg["release.blue.weight"] = "aurigraph/v11:2.0.0", "5", "95"
	r := newRunner(cfg)
	c, a := realController(t, s, r)
	// The process died during step 5 (20%): steps 1-4 are recorded.
	require.NoError(t, SaveState(c.StatePath, &State{Stack: "test", Plan: p, Status: StatusRunning, Next: 4, Started: time.Now().Add(-time.Minute)}))
	require.NoError(t, c.Resume(context.Background()))
	assert.Equal(t, []string{"green 20%, blue 80%", "green 50%, blue 50%", "green 100%, blue 0%", "scale down the blue slot"}, r.steps(), "resumed at 20%")
	assert.Positive(t, a.calls)
	st, err := LoadState(c.StatePath)
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, st.Status)
}
