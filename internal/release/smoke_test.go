package release

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGateway answers like the gateway's slot route: operators' basic
// auth, then /_slot/<slot>/<path> on that slot, whose readiness is ready.
func fakeGateway(t *testing.T, ready map[string]bool, seen *[]string) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ops" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		slot, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/_slot/"), "/")
		*seen = append(*seen, slot+" /"+path)
		switch {
		case path == "q/health/ready" && !ready[slot]:
			http.Error(w, `{"status":"DOWN"}`, http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func smokeFor(srv *httptest.Server, user, password string) *HTTPSmoke {
	return &HTTPSmoke{
		URL:        func(slot, path string) string { return srv.URL + "/_slot/" + slot + path },
		HealthPath: "/q/health/live", ReadyPath: "/q/health/ready", RequestPath: "/api/v11/status",
		User: user, Password: password, Client: srv.Client(),
	}
}

func TestSmokeSendsEachRequestToTheSlotWithOperatorAuth(t *testing.T) {
	var seen []string
	srv := fakeGateway(t, map[string]bool{"green": true}, &seen)
	require.NoError(t, smokeFor(srv, "ops", "s3cret").Test(context.Background(), "green"))
	assert.Equal(t, []string{"green /q/health/live", "green /q/health/ready", "green /api/v11/status"}, seen)
}

func TestSmokeFails(t *testing.T) {
	var seen []string
	srv := fakeGateway(t, map[string]bool{"green": true}, &seen)
	ctx := context.Background()

	err := smokeFor(srv, "ops", "s3cret").Test(ctx, "blue")
	assert.ErrorContains(t, err, "smoke test readiness of the blue slot")
	assert.ErrorContains(t, err, "503")

	err = smokeFor(srv, "ops", "wrong").Test(ctx, "green")
	assert.ErrorContains(t, err, "401")

	s := smokeFor(srv, "ops", "s3cret")
	s.URL = func(slot, path string) string { return "http://gateway.test/_slot/" + slot + path }
	assert.ErrorContains(t, s.Test(ctx, "green"), "not https")

	s = smokeFor(srv, "ops", "s3cret")
	s.RequestPath = ""
	assert.ErrorContains(t, s.Test(ctx, "green"), "no request path")
	s.URL = nil
	assert.ErrorContains(t, s.Test(ctx, "green"), "no gateway URL")
}
