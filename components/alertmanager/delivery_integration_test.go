//go:build integration

package alertmanager_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/testserver"
)

// notification is what Alertmanager posts to a webhook.
type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// webhook records every notification with its arrival time.
type webhook struct {
	mu       sync.Mutex
	received []received
}

type received struct {
	at time.Time
	n  notification
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.received = append(w.received, received{time.Now(), n})
	w.mu.Unlock()
}

// firing returns the first notification firing alertname, and every
// firing alert name seen, with the receiver it came through.
func (w *webhook) firing(alertname string) (*received, map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first *received
	seen := map[string]string{}
	for i, r := range w.received {
		for _, a := range r.n.Alerts {
			if a.Status != "firing" {
				continue
			}
			seen[a.Labels["alertname"]] = r.n.Receiver
			if a.Labels["alertname"] == alertname && first == nil {
				first = &w.received[i]
			}
		}
	}
	return first, seen
}

// target serves the application's request counters: healthy until
// failing is set, then a burst of 5xx and half of every request failing,
// so one scrape takes the error ratio over both thresholds at once.
type target struct {
	start   time.Time
	failing atomic.Int64 // unix nanos of the switch; 0 while healthy
}

func (g *target) ServeHTTP(rw http.ResponseWriter, _ *http.Request) {
	elapsed := time.Since(g.start).Seconds()
	ok, failed := 20*elapsed, 0.0
	if at := g.failing.Load(); at != 0 {
		since := time.Since(time.Unix(0, at)).Seconds()
		failed = 1000 + 20*since
	}
	fmt.Fprintf(rw, "# TYPE http_server_requests_seconds_count counter\n"+
		"http_server_requests_seconds_count{method=\"GET\",status=\"200\",uri=\"/api/v11/status\"} %f\n"+
		"http_server_requests_seconds_count{method=\"GET\",status=\"500\",uri=\"/api/v11/status\"} %f\n", ok+failed, failed)
}

func binary(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require.NoError(t, err, "%s is required for the integration tests: apt-get install %s", name, pkg)
	return p
}

// start runs a server until the test ends (testserver.Start) and waits
// for its ready endpoint.
func start(t *testing.T, ready string, name string, args ...string) {
	t.Helper()
	u, err := url.Parse(ready)
	require.NoError(t, err)
	srv := testserver.Start(t, exec.Command(name, args...), u.Host, 20*time.Second, syscall.SIGTERM)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(name), srv.Logs())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond, "%s not ready at %s", name, ready)
}

// The real prometheus and prometheus-alertmanager (Debian) on the generated
// configurations, on loopback: a replica whose error ratio crosses both
// thresholds of the generated error-rate rules; the critical reaches the
// webhook through the critical route with the rule's labels, and its
// warning is inhibited for as long as the critical fires.
func TestIntegrationAlertReachesWebhook(t *testing.T) {
	promBin := binary(t, "prometheus", "prometheus")
	amBin := binary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()

	hook := &webhook{}
	hookAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	testserver.Serve(t, hookAddr, hook)

	// The replica: the generated scrape job targets <name>:<app.RESTPort>,
	// so it listens on that port on an address of its own in 127/8.
	replica := fmt.Sprintf("127.%d.%d.9", 13+os.Getpid()%200, os.Getpid()%250+1)
	replicaApp := &target{start: time.Now()}
	testserver.Serve(t, fmt.Sprintf("%s:%d", replica, app.RESTPort), replicaApp)

	amPort := testserver.FreePort(t)
	amConfig, err := alertmanager.RenderConfig(alertmanager.ConfigValues{
		Webhook: &alertmanager.Webhook{URL: "http://" + hookAddr + "/hook"},
		// Test-only timing: notify a second after the alert arrives.
		Timing: alertmanager.Timing{GroupWait: "1s", GroupInterval: "1s", RepeatInterval: "1m", CriticalRepeatInterval: "1m"},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amConfig), 0o600))
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	start(t, amURL+"/-/ready", amBin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am-data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")

	rules, err := prometheus.RenderRules(prometheus.RulesValues{PoolMaxSize: 20, TestFor: "1s"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644))
	promConfig, err := prometheus.RenderConfig(prometheus.ConfigValues{
		Environment: "e2e", ScrapeInterval: "1s", ScrapeTimeout: "1s", EvaluationInterval: "1s",
		RulesFile:     filepath.Join(dir, "alerts.yml"),
		Replicas:      []prometheus.AppTarget{{Name: replica, Tier: "slim", Slot: "blue", Group: 1, Host: "e2e-app-01"}},
		Alertmanagers: []string{fmt.Sprintf("127.0.0.1:%d", amPort)},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promConfig), 0o644))
	promPort := testserver.FreePort(t)
	start(t, fmt.Sprintf("http://127.0.0.1:%d/-/ready", promPort), promBin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))

	// Healthy scrapes first, so the ratio starts below both thresholds.
	time.Sleep(4 * time.Second)
	first, _ := hook.firing("HighErrorRateCritical")
	require.Nil(t, first, "nothing fires while the replica is healthy")
	crossed := time.Now()
	replicaApp.failing.Store(crossed.UnixNano())

	var critical *received
	require.Eventually(t, func() bool {
		critical, _ = hook.firing("HighErrorRateCritical")
		return critical != nil
	}, 60*time.Second, 100*time.Millisecond, "HighErrorRateCritical never reached the webhook")
	delivery := critical.at.Sub(crossed)
	t.Logf("MEASURED threshold crossing → webhook delivery of HighErrorRateCritical: %s (scrape and evaluation every 1s, for: 1s, group_wait 1s)", delivery.Round(time.Millisecond))

	assert.Equal(t, alertmanager.CriticalReceiver, critical.n.Receiver, "routed by severity")
	var labels map[string]string
	for _, a := range critical.n.Alerts {
		if a.Labels["alertname"] == "HighErrorRateCritical" {
			labels = a.Labels
		}
	}
	assert.Equal(t, "critical", labels["severity"])
	assert.Equal(t, "high_error_rate", labels["condition"])
	assert.Equal(t, "blue", labels["slot"])
	assert.Equal(t, "e2e", labels["environment"], "Prometheus's external label")

	// The warning fires too (Alertmanager holds it) but is inhibited: it
	// never reaches the webhook while the critical fires, over several
	// group intervals.
	var warning struct {
		Status struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(amURL + `/api/v2/alerts?filter=alertname%3D%22HighErrorRateWarning%22`)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var alerts []json.RawMessage
		if json.Unmarshal(body, &alerts) != nil || len(alerts) != 1 {
			return false
		}
		return json.Unmarshal(alerts[0], &warning) == nil
	}, 20*time.Second, 200*time.Millisecond, "HighErrorRateWarning never reached Alertmanager")
	assert.Equal(t, "suppressed", warning.Status.State)
	assert.NotEmpty(t, warning.Status.InhibitedBy, "suppressed by an inhibition, not a silence")
	time.Sleep(5 * time.Second)
	_, seen := hook.firing("")
	assert.NotContains(t, seen, "HighErrorRateWarning", "the warning is inhibited by its critical")
	assert.Equal(t, alertmanager.CriticalReceiver, seen["HighErrorRateCritical"])
	var names []string
	for n, r := range seen {
		names = append(names, n+"→"+r)
	}
	t.Logf("firing notifications received: %s", strings.Join(names, ", "))
}
