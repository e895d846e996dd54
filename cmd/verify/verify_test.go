package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gateway stands in for the stack's gateway: its health, the application's
// readiness, a route per slot (a slot in down answers 503), and monitoring
// UIs behind basic authentication (open: without it).
type gateway struct {
	down map[string]bool
	open bool
}

func (g gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" || r.URL.Path == "/q/health/ready":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(r.URL.Path, "/_slot/"):
		if u, p, ok := r.BasicAuth(); !ok || u != "ops" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		slot := strings.Split(r.URL.Path, "/")[2]
		if slot != "blue" && slot != "green" {
			http.NotFound(w, r)
			return
		}
		if g.down[slot] {
			http.Error(w, "no live upstreams", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(r.URL.Path, "/grafana") || strings.HasPrefix(r.URL.Path, "/kibana"):
		if u, p, ok := r.BasicAuth(); !g.open && (!ok || u != "ops" || p != "s3cret") {
			w.Header().Set("WWW-Authenticate", `Basic realm="grafana"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		// Kibana sends a visitor to its own page.
		if strings.HasPrefix(r.URL.Path, "/kibana") {
			http.Redirect(w, r, "/kibana/app/home", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func plan(base string) Plan {
	return Plan{
		BaseURL:     base,
		HealthPaths: []string{"/healthz", "/q/health/ready"},
		Slots:       []string{"blue", "green"},
		SlotURL:     base + "/_slot/{slot}/api/v11/status",
		UIs:         []UI{{"grafana", base + "/grafana/api/health"}, {"kibana", base + "/kibana/"}},
		User:        "ops",
		Password:    "s3cret",
	}
}

func run(t *testing.T, g gateway, p func(string) Plan, user, password string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	checks, err := p(srv.URL).Checks()
	require.NoError(t, err)
	client, err := newClient("")
	require.NoError(t, err)
	var out bytes.Buffer
	r := Runner{Client: client, User: user, Password: password, Wait: 50 * time.Millisecond, Interval: 10 * time.Millisecond, Out: &out}
	return r.Run(context.Background(), checks), out.String()
}

func TestHealthyStackPassesEveryCheck(t *testing.T) {
	failed, out := run(t, gateway{}, plan, "ops", "s3cret")
	assert.Zero(t, failed, out)
	for _, want := range []string{"ok   health /healthz", "ok   health /q/health/ready",
		"ok   request through the gateway to the blue slot", "ok   request through the gateway to the green slot",
		"ok   grafana refuses a request without credentials", "ok   grafana reachable with the monitoring credentials",
		"ok   kibana reachable with the monitoring credentials"} {
		assert.Contains(t, out, want)
	}
}

func TestEveryFailureIsReported(t *testing.T) {
	cases := []struct {
		name           string
		gw             gateway
		user, password string
		failed         int
		fails          []string
	}{
		{"a slot without live replicas", gateway{down: map[string]bool{"green": true}}, "ops", "s3cret", 1,
			[]string{"FAIL request through the gateway to the green slot", "503"}},
		{"monitoring UIs open to anyone", gateway{open: true}, "ops", "s3cret", 2,
			[]string{"FAIL grafana refuses a request without credentials", "FAIL kibana refuses a request without credentials", "want 401"}},
		{"wrong credentials", gateway{}, "ops", "wrong", 4,
			[]string{"FAIL request through the gateway to the blue slot", "FAIL grafana reachable with the monitoring credentials", "FAIL kibana reachable with the monitoring credentials", "answered 401"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			failed, out := run(t, tc.gw, plan, tc.user, tc.password)
			assert.Equal(t, tc.failed, failed, out)
			for _, want := range tc.fails {
				assert.Contains(t, out, want)
			}
		})
	}
}

func TestUnknownSlotRouteFails(t *testing.T) {
	failed, out := run(t, gateway{}, func(base string) Plan {
		p := plan(base)
		p.Slots = []string{"blue", "purple"}
		return p
	}, "ops", "s3cret")
	assert.Equal(t, 1, failed, out)
	assert.Contains(t, out, "FAIL request through the gateway to the purple slot")
}

// A check that fails at first passes once the stack answers within -wait.
func TestChecksAreRetriedUntilWait(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	client, err := newClient("")
	require.NoError(t, err)
	var out bytes.Buffer
	r := Runner{Client: client, Wait: time.Minute, Interval: time.Millisecond, Out: &out}
	assert.Zero(t, r.Run(context.Background(), []Check{{Name: "health", URL: srv.URL + "/healthz"}}), out.String())
	assert.Equal(t, 3, calls)
}

func TestPlanProblemsAllAtOnce(t *testing.T) {
	_, err := Plan{BaseURL: "https://api.example", Slots: []string{"blue"}, SlotURL: "https://api.example/status",
		UIs: []UI{{"grafana", "https://grafana.example"}}}.Checks()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-slot-url must hold {slot}")
	assert.Contains(t, err.Error(), "$"+passwordEnv)
}
