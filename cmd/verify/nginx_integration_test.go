//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/testserver"
)

// Verification through a real nginx shaped like the gateway: its own
// /healthz, the application's readiness proxied, a route per slot and two
// monitoring UIs behind auth_basic (nginx's own 401 and its own reading of
// the credentials). A slot whose upstream is down fails its check; wrong
// credentials fail every authenticated check. (A first version of this
// config answered the UIs with `return`, which nginx runs before
// auth_basic: verify reported them open to anyone.)
func TestIntegrationVerifyThroughRealNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
	}
	_, err = os.Stat(nginx)
	require.NoError(t, err, "nginx is required (apt-get install nginx)")

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "the gateway's credentials reached the application", http.StatusBadRequest)
			return
		}
		// Kibana sends a visitor to its own page.
		if r.URL.Path == "/kibana/" {
			http.Redirect(w, r, "/kibana/app/home", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "%s\n", r.URL.Path)
	}))
	defer app.Close()
	down := testserver.FreePort(t) // nothing listens: the green slot's upstream is down

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("ops:{PLAIN}s3cret\n"), 0o600))
	port := testserver.FreePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    upstream blue  { server %[2]s; }
    upstream green { server 127.0.0.1:%[3]d; }
    server {
        listen 127.0.0.1:%[4]d;
        location = /healthz { return 200 "ok\n"; }
        location / { proxy_pass http://blue; }
        location /_slot/ {
            auth_basic "release slots";
            auth_basic_user_file %[1]s/htpasswd;
            location /_slot/blue/  { proxy_pass http://blue/;  proxy_set_header Authorization ""; }
            location /_slot/green/ { proxy_pass http://green/; proxy_set_header Authorization ""; }
        }
        location /grafana/ {
            auth_basic "grafana";
            auth_basic_user_file %[1]s/htpasswd;
            proxy_pass http://blue;
            proxy_set_header Authorization "";
        }
        location /kibana/ {
            auth_basic "kibana";
            auth_basic_user_file %[1]s/htpasswd;
            proxy_pass http://blue;
            proxy_set_header Authorization "";
        }
    }
}
`, dir, strings.TrimPrefix(app.URL, "http://"), down, port)
	confPath := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))
	out, err := exec.Command(nginx, "-t", "-c", confPath, "-p", dir+"/", "-e", filepath.Join(dir, "error.log")).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s", out)
	testserver.Start(t, exec.Command(nginx, "-c", confPath, "-p", dir+"/", "-e", filepath.Join(dir, "error.log")),
		fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second, syscall.SIGQUIT)

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := Plan{
		BaseURL:     base,
		HealthPaths: []string{"/healthz", "/q/health/ready"},
		Slots:       []string{"blue", "green"},
		SlotURL:     base + "/_slot/{slot}/api/v11/status",
		UIs:         []UI{{"grafana", base + "/grafana/api/health"}, {"kibana", base + "/kibana/"}},
		User:        "ops", Password: "s3cret",
	}
	checks, err := p.Checks()
	require.NoError(t, err)
	client, err := newClient("")
	require.NoError(t, err)
	run := func(password string) (int, string) {
		var b bytes.Buffer
		r := Runner{Client: client, User: "ops", Password: password, Wait: 200 * time.Millisecond, Interval: 50 * time.Millisecond, Out: &b}
		return r.Run(context.Background(), checks), b.String()
	}

	failed, report := run("s3cret")
	assert.Equal(t, 1, failed, report)
	assert.Contains(t, report, "ok   request through the gateway to the blue slot")
	assert.Contains(t, report, "FAIL request through the gateway to the green slot")
	assert.Contains(t, report, "answered 502")
	assert.Contains(t, report, "ok   grafana refuses a request without credentials")
	assert.Contains(t, report, "ok   kibana reachable with the monitoring credentials")

	failed, report = run("wrong")
	assert.Equal(t, 4, failed, report) // both slots and both UIs with credentials
	assert.Contains(t, report, "ok   health /q/health/ready")
}
