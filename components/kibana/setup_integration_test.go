//go:build integration

package kibana

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/internal/scripttest"
)

func TestIntegrationShellcheck(t *testing.T) {
	script, err := RenderSetupScript(testArgs().Setup(elasticsearch.IndexPattern))
	require.NoError(t, err)
	scripttest.Shellcheck(t, "sh", "the data view step", script)
	scripttest.Shellcheck(t, "sh", "the health check", "#!/bin/sh\n"+HealthCommand()[1]+"\n")
}

// curl records its arguments, then is the real curl.
const curlWrapper = `#!/bin/sh
printf '%s\n' "$@" >> "$LOGDIR/curl.argv"
exec REAL "$@"
`

// kibanaRequest is what the fake Kibana received.
type kibanaRequest struct {
	Method, Path, XSRF, User, Password string
	Body                               []byte
}

// fakeKibana emulates Kibana's status and data view endpoints over TLS
// under the name Name: /api/status answers 503 (unavailable) for the first
// unavailable calls, then 200 (available); POST /api/data_views/data_view
// answers dataViewStatus.
type fakeKibana struct {
	mu             sync.Mutex
	requests       []kibanaRequest
	unavailable    int
	dataViewStatus int
}

func (k *fakeKibana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	k.requests = append(k.requests, kibanaRequest{r.Method, r.URL.Path, r.Header.Get("kbn-xsrf"), user, pass, body})
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/status":
		if k.unavailable > 0 {
			k.unavailable--
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":{"overall":{"level":"unavailable","summary":"Elasticsearch is not available"}}}`)
			return
		}
		_, _ = io.WriteString(w, `{"name":"kibana","status":{"overall":{"level":"available","summary":"All services are available"},"core":{}}}`)
	case r.Method == http.MethodPost && r.URL.Path == "/api/data_views/data_view":
		if r.Header.Get("kbn-xsrf") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"statusCode":400,"message":"Request must contain a kbn-xsrf header."}`)
			return
		}
		w.WriteHeader(k.dataViewStatus)
		_, _ = w.Write(body)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/security/role/"):
		if r.Header.Get("kbn-xsrf") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (k *fakeKibana) received() []kibanaRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]kibanaRequest{}, k.requests...)
}

type setupRun struct {
	out              string
	err              error
	dockerArgv, curl string
}

// runSetup renders the step for a fake Kibana on loopback and runs it with
// sh, the password on stdin.
func runSetup(t *testing.T, k *fakeKibana, password string, attempts int) setupRun {
	t.Helper()
	scripttest.Need(t, "bash")
	realCurl := scripttest.Need(t, "curl")
	tlsCfg := scripttest.NewServerTLS(t, Name)
	srv := httptest.NewUnstartedServer(k)
	srv.TLS = tlsCfg.Config
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	bin, logs := filepath.Join(dir, "bin"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	// docker runs the script's in-container bash here, and the real curl
	// in it reaches the test server.
	scripttest.FakeDockerExec(t, bin)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "curl"), []byte(strings.Replace(curlWrapper, "REAL", realCurl, 1)), 0o755))

	v := testArgs().Setup(elasticsearch.IndexPattern)
	// The test server stands in for the container: its port, the test CA.
	v.Port = srv.Listener.Addr().(*net.TCPAddr).Port
	v.CAPath = tlsCfg.CAFile
	v.WaitAttempts, v.WaitSeconds = attempts, 1
	script, err := RenderSetupScript(v)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "LOGDIR=" + logs}
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	t.Logf("step output:\n%s", out)
	dockerArgv, _ := os.ReadFile(filepath.Join(logs, "docker.argv"))
	curlArgv, _ := os.ReadFile(filepath.Join(logs, "curl.argv"))
	return setupRun{out: string(out), err: err, dockerArgv: string(dockerArgv), curl: string(curlArgv)}
}

// The step waits through Kibana's 503s, then writes every data view as
// elastic with the password from stdin, and no password reaches an
// argument list.
func TestIntegrationSetupWritesDataViewsOnceKibanaIsAvailable(t *testing.T) {
	password := `Zq9"el\pass word-$1 'x'`
	k := &fakeKibana{unavailable: 2, dataViewStatus: http.StatusOK}
	run := runSetup(t, k, password, 5)
	require.NoError(t, run.err, run.out)

	reqs := k.received()
	want := LogDataViews(elasticsearch.IndexPattern, testArgs().Streams)
	require.Len(t, reqs, 3+len(want)+1, "three status calls (two 503s, then available), one POST per view, then the viewer role")
	for i, r := range reqs {
		assert.Equal(t, "elastic", r.User, "request %d", i)
		assert.Equal(t, password, r.Password, "request %d: the password from stdin, intact", i)
	}
	for _, r := range reqs[:3] {
		assert.Equal(t, "GET /api/status", r.Method+" "+r.Path)
		assert.Empty(t, r.Body)
	}
	for i, view := range want {
		r := reqs[3+i]
		assert.Equal(t, "POST /api/data_views/data_view", r.Method+" "+r.Path)
		assert.NotEmpty(t, r.XSRF, "Kibana refuses a POST without kbn-xsrf")
		var body struct {
			DataView map[string]string `json:"data_view"`
			Override bool
		}
		require.NoError(t, json.Unmarshal(r.Body, &body), "%s", r.Body)
		assert.True(t, body.Override, "create or overwrite: a second run succeeds")
		assert.Equal(t, map[string]string{"id": view.ID, "name": view.Name, "title": view.Title, "timeFieldName": "@timestamp"}, body.DataView)
	}
	var first struct {
		DataView struct{ Title string } `json:"data_view"`
	}
	require.NoError(t, json.Unmarshal(reqs[3].Body, &first))
	assert.Equal(t, elasticsearch.IndexPattern, first.DataView.Title, "the logs data view searches the index pattern Elasticsearch owns")
	assert.Contains(t, run.out, "kibana data views applied: "+LogsDataViewID+"="+elasticsearch.IndexPattern)
	last := reqs[len(reqs)-1]
	assert.Equal(t, "PUT /api/security/role/"+ViewerRole, last.Method+" "+last.Path)
	role, err := RenderViewerRole(elasticsearch.IndexPattern)
	require.NoError(t, err)
	assert.JSONEq(t, role, string(last.Body), "the viewer role is sent as rendered")
	assert.Contains(t, run.out, "role "+ViewerRole+" reads "+elasticsearch.IndexPattern)

	require.NotEmpty(t, run.curl)
	assert.Contains(t, run.curl, "--cacert\n", "Kibana's certificate is verified with the CA")
	for _, secret := range []string{password, "Zq9", "pass word"} {
		assert.NotContains(t, run.dockerArgv, secret, "docker's arguments")
		assert.NotContains(t, run.curl, secret, "curl's arguments")
	}
}

// A Kibana that never becomes available fails the step after the bounded
// number of checks, before any data view is written.
func TestIntegrationSetupGivesUpWhenKibanaStaysUnavailable(t *testing.T) {
	k := &fakeKibana{unavailable: 1000, dataViewStatus: http.StatusOK}
	run := runSetup(t, k, "pw", 3)
	require.Error(t, run.err)
	assert.Contains(t, run.out, "kibana is not available after 3 attempts")
	reqs := k.received()
	assert.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, "/api/status", r.Path)
	}
}

// An answer outside 2xx to a data view request fails the step at once.
func TestIntegrationSetupFailsOnARefusedDataView(t *testing.T) {
	k := &fakeKibana{dataViewStatus: http.StatusBadRequest}
	run := runSetup(t, k, "pw", 3)
	require.Error(t, run.err)
	assert.Contains(t, run.out, "POST /api/data_views/data_view failed")
	assert.NotContains(t, run.out, "kibana data views applied")
	reqs := k.received()
	require.Len(t, reqs, 2, "the status check, then the first view, then nothing")
	assert.Equal(t, "/api/data_views/data_view", reqs[1].Path)
}

// A server whose certificate the CA did not issue is refused: no request
// reaches it, so no password does.
func TestIntegrationSetupVerifiesKibanasCertificate(t *testing.T) {
	scripttest.Need(t, "bash")
	k := &fakeKibana{dataViewStatus: http.StatusOK}
	srv := httptest.NewTLSServer(k) // Go's own certificate, for example.com
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	scripttest.FakeDockerExec(t, dir)
	v := testArgs().Setup(elasticsearch.IndexPattern)
	v.Port = srv.Listener.Addr().(*net.TCPAddr).Port
	v.CAPath = scripttest.NewServerTLS(t, Name).CAFile
	v.WaitAttempts, v.WaitSeconds = 1, 1
	script, err := RenderSetupScript(v)
	require.NoError(t, err)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "LOGDIR=" + dir}
	cmd.Stdin = strings.NewReader("pw\n")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "certificate", "curl refused the certificate")
	assert.Empty(t, k.received())
}
