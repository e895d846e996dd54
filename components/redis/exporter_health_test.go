package redis

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wgetLikeTheImage puts a wget on PATH for the health command: busybox's,
// the one the exporter's Alpine image runs (busybox-static, .ci/install-deps).
func wgetLikeTheImage(t *testing.T) []string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	require.NoError(t, err, "busybox is required (apt-get install busybox-static)")
	dir := t.TempDir()
	for _, applet := range []string{"wget", "grep", "sh"} {
		require.NoError(t, os.Symlink(busybox, filepath.Join(dir, applet)))
	}
	return []string{"PATH=" + dir}
}

// The exporter's health check is healthy only when it serves metrics and
// reached Redis on its last scrape; `-version` (what it ran before) passed
// whenever the binary existed.
func TestExporterHealthCheckScrapesTheExporter(t *testing.T) {
	env := wgetLikeTheImage(t)
	serve := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/metrics"
	}
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr + "/metrics"
	}()
	const metrics = "# HELP redis_up Information about the Redis instance\n# TYPE redis_up gauge\nredis_up %s\nredis_exporter_build_info{version=\"v1.66.0\"} 1\n"
	for _, tc := range []struct {
		name    string
		url     string
		healthy bool
	}{
		{"serves metrics, Redis reached", serve(200, fmtMetrics(metrics, "1")), true},
		{"serves metrics, Redis not reached", serve(200, fmtMetrics(metrics, "0")), false},
		{"serves an error", serve(500, fmtMetrics(metrics, "1")), false},
		{"serves something else", serve(200, "redis_up 10\n"), false},
		{"not listening", closed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := ExporterHealthTest(tc.url)
			require.Equal(t, "CMD-SHELL", test[0], "a shell runs the pipeline")
			cmd := exec.Command("sh", "-c", test[1])
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if tc.healthy {
				assert.NoError(t, err, "%s", out)
			} else {
				assert.Error(t, err, "%s", out)
			}
		})
	}
}

func fmtMetrics(format, up string) string { return fmt.Sprintf(format, up) }

func TestExporterSpecProbesItsOwnMetrics(t *testing.T) {
	e := ExporterSpec(Args{})
	assert.Equal(t, ExporterHealthTest("http://127.0.0.1:9121/metrics"), e.Health.Test)
	assert.Equal(t, ":9121", e.Env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"], "the exporter listens on loopback too")
	assert.NotContains(t, e.Health.Test, "-version")
}

func TestExporterImageProbes(t *testing.T) {
	for ref, ok := range map[string]bool{
		"oliver006/redis_exporter:v1.66.0-alpine":                   true,
		"oliver006/redis_exporter:v1.66.0-alpine@sha256:" + hex64(): true,
		"registry:5000/oliver006/redis_exporter:v1.66.0-alpine":     true,
		"oliver006/redis_exporter:v1.66.0":                          false,
		"oliver006/redis_exporter@sha256:" + hex64():                false,
		"registry:5000-alpine/redis_exporter":                       false,
	} {
		assert.Equal(t, ok, ExporterImageProbes(ref), ref)
	}
}

func hex64() string { return "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
