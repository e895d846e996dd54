//go:build integration

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
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
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/internal/testserver"
)

// The public names the test nginx serves; every connection goes to 127.0.0.1.
const (
	itAPI, itGRPC              = "api.aurigraph.test", "grpc.aurigraph.test"
	itGrafana, itKibana        = "grafana.aurigraph.test", "kibana.aurigraph.test"
	itPrometheus               = "prometheus.aurigraph.test"
	itUser, itPassword         = "operator", "correct-horse-battery"
	itSplitRequests            = 2000
	itTolerance                = 0.02
	itReloadLoadWorkers        = 6
	itSplitWorkers             = 8
	itRateLimitPerSec, itBurst = 100000, 100000
)

// TestIntegrationNginxEdge renders the gateway configuration, runs Debian's
// nginx with certificates from a test CA in front of local blue/green HTTP
// servers, a gRPC server and monitoring stand-ins, and checks the edge's
// promises against the real thing.
func TestIntegrationNginxEdge(t *testing.T) {
	nginxBin := findNginx(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	pki := newTestPKI(t, dir)

	// openssl verifies the chain the gateway serves.
	out, err := exec.Command("openssl", "verify", "-CAfile", pki.caPath, pki.certPath).CombinedOutput()
	require.NoError(t, err, "openssl verify: %s", out)
	assert.Equal(t, pki.certPath+": OK", strings.TrimSpace(string(out)))

	// htpasswd with an apr1 hash, as an operator would produce it.
	hash, err := exec.Command("openssl", "passwd", "-apr1", itPassword).Output()
	require.NoError(t, err, "openssl passwd")
	htpasswd := filepath.Join(dir, "htpasswd")
	require.NoError(t, os.WriteFile(htpasswd, []byte(itUser+":"+strings.TrimSpace(string(hash))+"\n"), 0o644))

	blue := startSlot(t, "blue")
	green := startSlot(t, "green")
	grpcAddr := startGRPC(t)
	grafana := startSlot(t, "grafana")
	kibana := startTLSUpstream(t, pki, "kibana")
	closedPort := testserver.FreePort(t) // nothing listens: the gateway answers 502

	httpPort, httpsPort := testserver.FreePort(t), testserver.FreePort(t)
	values := func(blueW, greenW, rate, burst int) Values {
		v := Values{
			ListenAddress: "127.0.0.1", HTTPPort: httpPort, HTTPSPort: httpsPort,
			APIHostname: itAPI, GRPCHostname: itGRPC,
			Slots: []Slot{
				{Name: "app_blue", Route: "blue", Weight: blueW, HTTP: []string{blue}, GRPC: []string{grpcAddr}},
				{Name: "app_green", Route: "green", Weight: greenW, HTTP: []string{green}, GRPC: []string{grpcAddr}},
			},
			UIs: []UI{
				{Name: "grafana", Hostname: itGrafana, Upstream: "http://" + grafana},
				{Name: "kibana", Hostname: itKibana, Upstream: "https://" + kibana, TLSServerName: "kibana"},
				{Name: "prometheus", Hostname: itPrometheus, Upstream: fmt.Sprintf("http://127.0.0.1:%d", closedPort)},
			},
			AllowedUICIDRs:     []string{"127.0.0.0/8"},
			RateLimitPerSecond: rate, RateLimitBurst: burst,
			CertPath: pki.certPath, KeyPath: pki.keyPath, CAPath: pki.caPath, HtpasswdPath: htpasswd,
			AccessLog: filepath.Join(dir, "access.log"), ErrorLog: filepath.Join(dir, "error.log"),
			PidPath: filepath.Join(dir, "nginx.pid"), TempDir: dir,
			Resolver: "127.0.0.1",
		}
		if os.Geteuid() == 0 {
			v.User = "root" // workers must read the test's files
		}
		return v
	}
	ng := startNginx(t, nginxBin, dir, values(95, 5, itRateLimitPerSec, itBurst))
	client := newClient(pki, httpsPort)

	t.Run("chain verifies in a Go client", func(t *testing.T) {
		resp := get(t, client, "https://"+itAPI+"/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotNil(t, resp.TLS)
		require.NotEmpty(t, resp.TLS.VerifiedChains)
		chain := resp.TLS.VerifiedChains[0]
		assert.Equal(t, pki.ca.Subject.CommonName, chain[len(chain)-1].Subject.CommonName)
	})

	t.Run("only TLS 1.2 and 1.3", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort), &tls.Config{
				ServerName: itAPI, RootCAs: pki.pool, MinVersion: v, MaxVersion: v,
			})
			if err == nil {
				conn.Close()
			}
			assert.Error(t, err, "TLS version %x must be refused", v)
		}
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort), &tls.Config{
				ServerName: itAPI, RootCAs: pki.pool, MinVersion: v, MaxVersion: v,
			})
			require.NoError(t, err, "TLS version %x", v)
			assert.Equal(t, v, conn.ConnectionState().Version)
			conn.Close()
		}
		// Unknown names get no certificate at all.
		_, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort), &tls.Config{ServerName: "unknown.test", RootCAs: pki.pool})
		assert.Error(t, err)
	})

	t.Run("security headers and gzip", func(t *testing.T) {
		resp := get(t, client, "https://"+itAPI+"/big", map[string]string{"Accept-Encoding": "gzip"})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		h := resp.Header
		assert.Contains(t, h.Get("Strict-Transport-Security"), "max-age=63072000")
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
		assert.Equal(t, "strict-origin-when-cross-origin", h.Get("Referrer-Policy"))
		assert.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
		assert.Equal(t, "gzip", h.Get("Content-Encoding"))
		assert.Equal(t, "nginx", h.Get("Server"), "no version in the Server header")
	})

	t.Run("HTTP redirects to HTTPS", func(t *testing.T) {
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 5 * time.Second}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1/blocks?x=1", httpPort), nil)
		req.Host = itAPI
		resp, err := plain.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		assert.Equal(t, fmt.Sprintf("https://%s:%d/v1/blocks?x=1", itAPI, httpsPort), resp.Header.Get("Location"))
		resp, err = plain.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("95/5 split", func(t *testing.T) {
		counts, failed := split(t, client, itSplitRequests)
		assert.Zero(t, failed)
		share := float64(counts["green"]) / itSplitRequests
		t.Logf("95/5: green %d of %d (%.2f %%), blue %d", counts["green"], itSplitRequests, share*100, counts["blue"])
		assert.InDelta(t, 0.05, share, itTolerance)
	})

	t.Run("reload 95/5 to 80/20 under load loses nothing", func(t *testing.T) {
		// GET is idempotent: like browsers, the Go client resends it when the
		// old worker closed an idle keep-alive connection under it (HTTP's
		// keep-alive race). retried counts those resends; a POST would fail.
		var ok, failed, retried atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < itReloadLoadWorkers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var conns atomic.Int32
					ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns.Add(1) }})
					req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+itAPI+"/", nil)
					if status, _, err := do(client, req); err != nil || status != http.StatusOK {
						failed.Add(1)
					} else {
						ok.Add(1)
					}
					if conns.Load() > 1 {
						retried.Add(1)
					}
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		before := ok.Load()
		ng.reload(t, values(80, 20, itRateLimitPerSec, itBurst))
		time.Sleep(700 * time.Millisecond)
		close(stop)
		wg.Wait()
		t.Logf("reload under load: %d requests answered (%d before the reload), %d failed, %d resent by the client", ok.Load(), before, failed.Load(), retried.Load())
		assert.Zero(t, failed.Load(), "requests lost during reload")
		assert.Greater(t, ok.Load(), before, "load continued across the reload")

		// A fresh client: its connections all reach the new workers.
		counts, failed2 := split(t, newClient(pki, httpsPort), itSplitRequests)
		assert.Zero(t, failed2)
		share := float64(counts["green"]) / itSplitRequests
		t.Logf("80/20 after reload: green %d of %d (%.2f %%)", counts["green"], itSplitRequests, share*100)
		assert.InDelta(t, 0.20, share, 0.04)
	})

	t.Run("gRPC passes through on HTTP/2", func(t *testing.T) {
		conn, err := grpc.NewClient("passthrough:///"+itGRPC,
			grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: itGRPC, RootCAs: pki.pool})),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort))
			}))
		require.NoError(t, err)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.Status)
	})

	t.Run("WebSocket passes through", func(t *testing.T) {
		echoed := websocketEcho(t, pki, httpsPort, "hello through nginx")
		assert.Equal(t, "hello through nginx", echoed)
	})

	t.Run("monitoring UIs need credentials", func(t *testing.T) {
		for _, name := range []string{itGrafana, itKibana, itPrometheus} {
			resp := get(t, client, "https://"+name+"/", nil)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic", name)
			resp = get(t, client, "https://"+name+"/", map[string]string{"Authorization": basic(itUser, "wrong-password")})
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
		}
		auth := map[string]string{"Authorization": basic(itUser, itPassword)}
		resp := get(t, client, "https://"+itGrafana+"/", auth)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "grafana", resp.Header.Get("X-Slot"))
		assert.Equal(t, "SAMEORIGIN", resp.Header.Get("X-Frame-Options"))
		// Kibana's upstream TLS is verified against the CA under the name "kibana".
		resp = get(t, client, "https://"+itKibana+"/", auth)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "kibana-tls", resp.Header.Get("X-Slot"))
		// An absent upstream answers 502, it does not break nginx.
		resp = get(t, client, "https://"+itPrometheus+"/", auth)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	})

	t.Run("slot route reaches a slot at weight 0, for operators only", func(t *testing.T) {
		ng.reload(t, values(100, 0, itRateLimitPerSec, itBurst))
		client := newClient(pki, httpsPort)
		auth := map[string]string{"Authorization": basic(itUser, itPassword)}
		green := "https://" + itAPI + SlotPath("green", "/orders?id=7")
		for i := 0; i < 50; i++ {
			resp := get(t, client, green, auth)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "green", resp.Header.Get("X-Slot"), "request %d", i)
			assert.Equal(t, "/orders?id=7", resp.Header.Get("X-Path"), "the prefix is removed, the query kept")
			assert.Empty(t, resp.Header.Get("X-Authorization"), "the gateway's credentials stay at the gateway")
			assert.Equal(t, "0", resp.Header.Get("X-Weight"), "green's weight, for TRAFFIC_WEIGHT")
		}
		// The weighted route still sends everything to blue.
		counts, failed := split(t, client, 200)
		assert.Zero(t, failed)
		assert.Equal(t, map[string]int{"blue": 200}, counts)
		// The slot route's own blue, and the access log names the slot that served.
		resp := get(t, client, "https://"+itAPI+SlotPath("blue", "/"), auth)
		assert.Equal(t, "blue", resp.Header.Get("X-Slot"))
		assert.Equal(t, "100", resp.Header.Get("X-Weight"))
		resp = get(t, client, "https://"+itAPI+"/", map[string]string{TrafficWeightHeader: "55"})
		assert.Equal(t, "100", resp.Header.Get("X-Weight"), "a client cannot set the weight the replica sees")

		// Anonymous or wrong password: refused before any slot is reached.
		for _, h := range []map[string]string{nil, {"Authorization": basic(itUser, "wrong-password")}} {
			for _, path := range []string{SlotPath("green", "/"), SlotPath("blue", "/q/health/ready"), SlotPath("purple", "/"), SlotRoutePrefix} {
				resp := get(t, client, "https://"+itAPI+path, h)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s with %v", path, h)
				assert.Empty(t, resp.Header.Get("X-Slot"), path)
			}
		}
		// A slot that does not exist is not found, not the weighted route.
		for _, path := range []string{SlotPath("purple", "/"), SlotRoutePrefix} {
			resp := get(t, client, "https://"+itAPI+path, auth)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			assert.Empty(t, resp.Header.Get("X-Slot"), path)
		}
		// The slot's name alone is sent to its route (nginx's redirect for a
		// prefix location), never to the weighted one.
		resp = get(t, client, "https://"+itAPI+"/_slot/green", nil)
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		assert.Equal(t, SlotPath("green", "/"), strings.TrimPrefix(resp.Header.Get("Location"), fmt.Sprintf("https://%s:%d", itAPI, httpsPort)))
		assert.Empty(t, resp.Header.Get("X-Slot"))

		// The release controller's smoke test, as cmd/release builds it,
		// reaches green at weight 0: a green that is not ready fails it
		// while blue, which has all the traffic, is ready.
		smoke := &release.HTTPSmoke{
			URL:        func(slot, path string) string { return "https://" + itAPI + SlotPath(slot, path) },
			HealthPath: "/q/health/live", ReadyPath: "/q/health/ready", RequestPath: "/api/v11/status",
			User: itUser, Password: itPassword, Client: client,
		}
		ctx := context.Background()
		assert.NoError(t, smoke.Test(ctx, "green"))
		notReady.Store("green", true)
		assert.ErrorContains(t, smoke.Test(ctx, "green"), "smoke test readiness of the green slot")
		assert.NoError(t, smoke.Test(ctx, "blue"))
		notReady.Delete("green")
		smoke.Password = "wrong-password"
		assert.ErrorContains(t, smoke.Test(ctx, "green"), "401")

		// From an address outside edge.allowedMonitoringCidrs even the
		// password is refused.
		outside := values(100, 0, itRateLimitPerSec, itBurst)
		outside.AllowedUICIDRs = []string{"192.0.2.0/24"}
		ng.reload(t, outside)
		resp = get(t, newClient(pki, httpsPort), green, auth)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("X-Slot"))

		raw, err := os.ReadFile(filepath.Join(dir, "access.log"))
		require.NoError(t, err)
		served := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var entry struct{ URI, Slot string }
			require.NoError(t, json.Unmarshal([]byte(l), &entry))
			if strings.HasPrefix(entry.URI, SlotPath("green", "/orders")) {
				served[entry.Slot]++
			}
		}
		assert.Equal(t, 51, served["app_green"], "the log names the slot that served: %v", served)
		assert.Len(t, served, 1, "%v", served)
	})

	t.Run("rate limit answers 429", func(t *testing.T) {
		ng.reload(t, values(80, 20, 1, 2))
		// A fresh client: pooled connections may still be served by the
		// previous workers, which keep the previous limit until they close.
		client := newClient(pki, httpsPort)
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _, err := fetch(client, "https://"+itAPI+"/")
				if err == nil {
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		t.Logf("burst of 30 at 1 r/s, burst 2: %v", statuses)
		assert.Greater(t, statuses[http.StatusTooManyRequests], 0)
		assert.Greater(t, statuses[http.StatusOK], 0)
		assert.Equal(t, 30, statuses[http.StatusOK]+statuses[http.StatusTooManyRequests])
	})

	t.Run("access log is JSON", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(dir, "access.log"))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		require.Greater(t, len(lines), itSplitRequests)
		statuses := map[float64]bool{}
		for _, l := range lines {
			var entry map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &entry), l)
			for _, k := range []string{"time", "request_id", "host", "status", "request_time", "upstream_addr"} {
				assert.Contains(t, entry, k)
			}
			statuses[entry["status"].(float64)] = true
		}
		assert.True(t, statuses[429] && statuses[200] && statuses[401])
	})
}

// split sends n requests and counts the slot that answered each.
func split(t *testing.T, client *http.Client, n int) (map[string]int, int) {
	t.Helper()
	var mu sync.Mutex
	counts, failed := map[string]int{}, 0
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for w := 0; w < itSplitWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				status, slot, err := fetch(client, "https://"+itAPI+"/")
				mu.Lock()
				if err != nil || status != http.StatusOK {
					failed++
				} else {
					counts[slot]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts, failed
}

func fetch(client *http.Client, url string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	return do(client, req)
}

func do(client *http.Client, req *http.Request) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Slot"), err
}

func get(t *testing.T, client *http.Client, url string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// newClient verifies the server against the test CA and sends every
// connection to the local nginx, whatever the URL's host.
func newClient(p *testPKI, port int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: p.pool},
			MaxIdleConnsPerHost: 64,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
			},
		},
	}
}

func findNginx(t *testing.T) string {
	for _, candidate := range []string{"nginx", "/usr/sbin/nginx"} {
		if p, err := exec.LookPath(candidate); err == nil {
			return p
		}
	}
	t.Fatal("nginx is not installed: apt-get install -y nginx (Debian's package)")
	return ""
}

type nginxProc struct {
	bin, dir, conf string
	cmd            *exec.Cmd
}

func startNginx(t *testing.T, bin, dir string, v Values) *nginxProc {
	t.Helper()
	n := &nginxProc{bin: bin, dir: dir, conf: filepath.Join(dir, "nginx.conf")}
	n.write(t, v)
	out, err := exec.Command(bin, n.args("-t")...).CombinedOutput()
	require.NoError(t, err, "nginx -t: %s", out)
	n.cmd = exec.Command(bin, n.args("-g", "daemon off;")...)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	// SIGQUIT: a graceful stop, so the test's connections close cleanly.
	testserver.Start(t, n.cmd, fmt.Sprintf("127.0.0.1:%d", v.HTTPSPort), 5*time.Second, syscall.SIGQUIT)
	return n
}

func (n *nginxProc) args(extra ...string) []string {
	return append([]string{"-c", n.conf, "-p", n.dir + "/", "-e", filepath.Join(n.dir, "error.log")}, extra...)
}

func (n *nginxProc) write(t *testing.T, v Values) {
	t.Helper()
	conf, err := Render(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(n.conf, []byte(conf), 0o644))
}

// reload does what the deployment does: test, then a graceful reload.
func (n *nginxProc) reload(t *testing.T, v Values) {
	t.Helper()
	n.write(t, v)
	old := n.workers()
	out, err := exec.Command(n.bin, n.args("-t")...).CombinedOutput()
	require.NoError(t, err, "nginx -t: %s", out)
	out, err = exec.Command(n.bin, n.args("-s", "reload")...).CombinedOutput()
	require.NoError(t, err, "nginx -s reload: %s", out)
	n.awaitReload(t, old)
}

// awaitReload returns once new workers run and every worker of old is
// shutting down (it has closed its listening sockets): new connections see
// only the new file. Old workers may live on while a client holds an unused
// connection.
func (n *nginxProc) awaitReload(t *testing.T, old map[int]bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, fresh, stale := n.workers(), 0, 0
		for pid := range now {
			switch {
			case !old[pid]:
				fresh++
			case !shuttingDown(pid):
				stale++
			}
		}
		if fresh > 0 && stale == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "reload did not complete: %d new, %d old workers", fresh, stale)
		time.Sleep(10 * time.Millisecond)
	}
}

func shuttingDown(pid int) bool {
	title, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err != nil || bytes.Contains(title, []byte("shutting down"))
}

// workers are the master's child processes, read from /proc.
func (n *nginxProc) workers() map[int]bool {
	out := map[int]bool{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := raw[bytes.LastIndexByte(raw, ')')+2:]
		var state string
		var ppid, pid int
		if _, err := fmt.Sscanf(string(rest), "%s %d", &state, &ppid); err != nil || ppid != n.cmd.Process.Pid {
			continue
		}
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(f)), "%d", &pid); err == nil {
			out[pid] = true
		}
	}
	return out
}

// notReady holds the stand-in replicas whose readiness answers 503.
var notReady sync.Map

// startSlot is a stand-in application replica: it names itself in X-Slot,
// serves a compressible /big and echoes WebSocket frames on /ws.
func startSlot(t *testing.T, name string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", wsEcho)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Slot", name)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"slot":%q,"pad":%q}`, name, strings.Repeat("aurigraph ", 500))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Slot", name)
		if _, down := notReady.Load(name); down && r.URL.Path == "/q/health/ready" {
			http.Error(w, `{"status":"DOWN"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.Header().Set("X-Authorization", r.Header.Get("Authorization"))
		w.Header().Set("X-Weight", r.Header.Get(TrafficWeightHeader))
		fmt.Fprint(w, name)
	})
	return serve(t, &http.Server{Handler: mux}, nil)
}

func startTLSUpstream(t *testing.T, p *testPKI, name string) string {
	t.Helper()
	cert := p.issue(t, name)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Slot", name+"-tls")
			fmt.Fprint(w, name)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	return serve(t, srv, srv.TLSConfig)
}

func serve(t *testing.T, srv *http.Server, tlsConf *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if tlsConf != nil {
		l = tls.NewListener(l, tlsConf)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func startGRPC(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsEcho is a minimal RFC 6455 server: one text frame in, the same out.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "upgrade required", http.StatusUpgradeRequired)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if rw.Flush() != nil {
		return
	}
	payload, err := readFrame(rw.Reader)
	if err != nil {
		return
	}
	_, _ = conn.Write(append([]byte{0x81, byte(len(payload))}, payload...))
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	n := int(head[1] & 0x7f)
	if n > 125 {
		return nil, errors.New("frame too long for this test")
	}
	var mask []byte
	if head[1]&0x80 != 0 {
		mask = make([]byte, 4)
		if _, err := io.ReadFull(r, mask); err != nil {
			return nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	for i := range payload {
		if mask != nil {
			payload[i] ^= mask[i%4]
		}
	}
	return payload, nil
}

func websocketEcho(t *testing.T, p *testPKI, port int, msg string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: itAPI, RootCAs: p.pool, NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	key := base64.StdEncoding.EncodeToString([]byte("aurigraph-ws-key"))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", itAPI, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, wsAccept(key), resp.Header.Get("Sec-WebSocket-Accept"))
	mask := []byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask...)
	for i := 0; i < len(msg); i++ {
		frame = append(frame, msg[i]^mask[i%4])
	}
	_, err = conn.Write(frame)
	require.NoError(t, err)
	payload, err := readFrame(br)
	require.NoError(t, err)
	return string(payload)
}

// testPKI is a CA and the gateway's server certificate, written as files.
type testPKI struct {
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
	pool                      *x509.CertPool
	caPath, certPath, keyPath string
}

func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Aurigraph test Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool(),
		caPath: filepath.Join(dir, "ca.crt"), certPath: filepath.Join(dir, "edge.crt"), keyPath: filepath.Join(dir, "edge.key")}
	p.pool.AddCert(ca)
	require.NoError(t, os.WriteFile(p.caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	edge := p.issue(t, itAPI, itGRPC, itGrafana, itKibana, itPrometheus)
	require.NoError(t, os.WriteFile(p.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: edge.Certificate[0]}), 0o644))
	keyDER, err := x509.MarshalPKCS8PrivateKey(edge.PrivateKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return p
}

var serial atomic.Int64

// issue signs a server certificate for names, like the stack's leaf certificates.
func (p *testPKI) issue(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100 + serial.Add(1)), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
