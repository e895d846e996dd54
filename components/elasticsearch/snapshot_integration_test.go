//go:build integration

package elasticsearch

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
)

// No Elasticsearch runs here (not in Debian, no registry): these tests run
// the rendered scripts for real with bash, docker faked by
// scripttest.FakeDockerExec (the in-container bash runs on this machine) and
// the real curl, through a recording wrapper, against fakeES: an HTTPS
// server implementing the snapshot endpoints the scripts use with the
// request and response shapes of Elasticsearch 8's reference.

type esRequest struct {
	Method, Path, Query, Body, User, Password string
}

type fakeSnapshot struct {
	name, state string
	streams     []string
}

type fakeES struct {
	mu        sync.Mutex
	requests  []esRequest
	snapshots []fakeSnapshot // in creation order
	streams   []string       // live data streams
	nextState string         // the state the next snapshot ends in
	// unavailable requests are answered 503 first, as a starting node does.
	unavailable int
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	f.requests = append(f.requests, esRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body), user, pass})
	if user == "" {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`)
		return
	}
	if f.unavailable > 0 {
		f.unavailable--
		w.WriteHeader(503)
		fmt.Fprint(w, `{"error":{"type":"master_not_discovered_exception"},"status":503}`)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	find := func(name string) int {
		for i, s := range f.snapshots {
			if s.name == name {
				return i
			}
		}
		return -1
	}
	notFound := func(name string) {
		reply(404, map[string]any{"error": map[string]any{"type": "snapshot_missing_exception",
			"reason": "[aurigraph-logs:" + name + "] is missing"}, "status": 404})
	}
	switch {
	case r.Method == "GET" && parts[0] == "_cluster":
		reply(200, map[string]any{"cluster_name": "aurigraph", "status": "green"})
	case r.Method == "PUT" && (parts[0] == "_security" || parts[0] == "_snapshot" && len(parts) == 2):
		reply(200, map[string]any{"acknowledged": true})
	case r.Method == "GET" && parts[0] == "_cat" && parts[1] == "snapshots":
		// h=id,status: one line per snapshot, columns separated by spaces.
		for _, s := range f.snapshots {
			fmt.Fprintf(w, "%s %s\n", s.name, s.state)
		}
	case r.Method == "PUT" && parts[0] == "_snapshot" && len(parts) == 3:
		if strings.ToLower(parts[2]) != parts[2] {
			reply(400, map[string]any{"error": map[string]any{"type": "invalid_snapshot_name_exception",
				"reason": "[" + parts[1] + ":" + parts[2] + "] Invalid snapshot name [" + parts[2] + "], must be lowercase"}, "status": 400})
			return
		}
		state := f.nextState
		if state == "" {
			state = "SUCCESS"
		}
		s := fakeSnapshot{name: parts[2], state: state, streams: append([]string(nil), f.streams...)}
		f.snapshots = append(f.snapshots, s)
		failed := 0
		if state != "SUCCESS" {
			failed = 1
		}
		reply(200, map[string]any{"snapshot": map[string]any{
			"snapshot": s.name, "uuid": "dKb54xw67gvdRctLCxSket", "repository": parts[1], "version_id": 8110099, "version": "8.11.0",
			"indices": backing(s.streams), "data_streams": s.streams, "include_global_state": false, "metadata": map[string]any{},
			"state": s.state, "start_time": "2026-12-06T02:30:00.000Z", "start_time_in_millis": 1796524200000,
			"end_time": "2026-12-06T02:30:01.000Z", "end_time_in_millis": 1796524201000, "duration_in_millis": 1000,
			"failures": []any{}, "shards": map[string]any{"total": len(s.streams), "failed": failed, "successful": len(s.streams) - failed},
			"feature_states": []any{},
		}})
	case r.Method == "GET" && parts[0] == "_snapshot" && len(parts) == 3:
		i := find(parts[2])
		if i < 0 {
			notFound(parts[2])
			return
		}
		s := f.snapshots[i]
		reply(200, map[string]any{"snapshots": []any{map[string]any{
			"snapshot": s.name, "uuid": "dKb54xw67gvdRctLCxSket", "repository": parts[1], "indices": backing(s.streams),
			"data_streams": s.streams, "include_global_state": false, "state": s.state,
			"shards": map[string]any{"total": len(s.streams), "failed": 0, "successful": len(s.streams)},
		}}, "total": 1, "remaining": 0})
	case r.Method == "DELETE" && parts[0] == "_snapshot" && len(parts) == 3:
		i := find(parts[2])
		if i < 0 {
			notFound(parts[2])
			return
		}
		f.snapshots = append(f.snapshots[:i], f.snapshots[i+1:]...)
		reply(200, map[string]any{"acknowledged": true})
	case r.Method == "DELETE" && parts[0] == "_data_stream":
		for _, name := range strings.Split(parts[1], ",") {
			for i, s := range f.streams {
				if s == name {
					f.streams = append(f.streams[:i], f.streams[i+1:]...)
					break
				}
			}
		}
		reply(200, map[string]any{"acknowledged": true})
	case r.Method == "POST" && parts[0] == "_snapshot" && len(parts) == 4 && parts[3] == "_restore":
		i := find(parts[2])
		if i < 0 {
			notFound(parts[2])
			return
		}
		var req struct {
			Indices           string `json:"indices"`
			RenamePattern     string `json:"rename_pattern"`
			RenameReplacement string `json:"rename_replacement"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			reply(400, map[string]any{"error": map[string]any{"type": "parse_exception", "reason": err.Error()}, "status": 400})
			return
		}
		var restored []string
		for _, name := range strings.Split(req.Indices, ",") {
			if req.RenamePattern != "" {
				// Java's $1 is Go's ${1}.
				name = regexp.MustCompile(req.RenamePattern).ReplaceAllString(name, strings.ReplaceAll(req.RenameReplacement, "$1", "${1}"))
			}
			for _, s := range f.streams {
				if s == name {
					reply(500, map[string]any{"error": map[string]any{"type": "snapshot_restore_exception",
						"reason": "cannot restore data stream [" + name + "] because a data stream with the same name already exists"}, "status": 500})
					return
				}
			}
			restored = append(restored, name)
		}
		f.streams = append(f.streams, restored...)
		reply(200, map[string]any{"snapshot": map[string]any{"snapshot": parts[2], "indices": backing(restored),
			"shards": map[string]any{"total": len(restored), "failed": 0, "successful": len(restored)}}})
	default:
		reply(400, map[string]any{"error": "no such endpoint in the fake: " + r.Method + " " + r.URL.Path})
	}
}

// backing names each data stream's one backing index as Elasticsearch does.
func backing(streams []string) []string {
	out := []string{}
	for _, s := range streams {
		out = append(out, ".ds-"+s+"-2026.12.06-000001")
	}
	return out
}

func (f *fakeES) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.snapshots {
		out = append(out, s.name)
	}
	return out
}

func (f *fakeES) take() []esRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

// curlWrapper records curl's argument list and runs the real curl.
const curlWrapper = `#!/bin/bash
printf '%s\n' "$@" >> "$LOGDIR/curl.argv"
exec REALCURL "$@"
`

type snapEnv struct {
	es       *fakeES
	bin, dir string
	env      []string
	password string
}

func newSnapEnv(t *testing.T) *snapEnv {
	t.Helper()
	scripttest.Need(t, "bash")
	realCurl := scripttest.Need(t, "curl")
	e := &snapEnv{es: &fakeES{streams: []string{"logs-aurigraph-app", "logs-aurigraph-nginx"}}, dir: t.TempDir(),
		password: `Sn4p"sh\ot pass-1`}
	tlsConf := scripttest.NewServerTLS(t, SelfHost)
	srv := httptest.NewUnstartedServer(e.es)
	srv.TLS = tlsConf.Config
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := strings.Replace(srv.URL, "127.0.0.1", SelfHost, 1)

	e.bin = filepath.Join(e.dir, "bin")
	logs := filepath.Join(e.dir, "logs")
	require.NoError(t, os.MkdirAll(e.bin, 0o755))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	scripttest.FakeDockerExec(t, e.bin)
	require.NoError(t, os.WriteFile(filepath.Join(e.bin, "curl"), []byte(strings.Replace(curlWrapper, "REALCURL", realCurl, 1)), 0o755))
	pwFile := filepath.Join(e.dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(e.password), 0o600))
	e.env = []string{"PATH=" + e.bin + ":" + os.Getenv("PATH"), "LOGDIR=" + logs, "ES_URL=" + url, "ES_CACERT=" + tlsConf.CAFile,
		"ES_PASSWORD_FILE=" + pwFile, "TEXTFILE_DIR=" + filepath.Join(e.dir, "textfile")}
	return e
}

func (e *snapEnv) run(t *testing.T, script, stdin string, args []string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"-c", script, "script"}, args...)...)
	cmd.Env = append(append([]string{}, e.env...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	return string(out), err
}

// argv is every argument list docker and curl were given.
func (e *snapEnv) argv(t *testing.T) string {
	var all string
	for _, f := range []string{"docker.argv", "curl.argv"} {
		b, err := os.ReadFile(filepath.Join(e.dir, "logs", f))
		require.NoError(t, err, "%s: the fakes ran", f)
		all += string(b)
	}
	return all
}

func (e *snapEnv) metrics(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(e.dir, "textfile", "aurigraph-backup-elasticsearch-snapshot.prom"))
	require.NoError(t, err)
	return string(b)
}

func testSnapshots() SnapshotValues { return DefaultSnapshots("/srv/aurigraph/elasticsearch") }

func TestIntegrationSnapshotScriptsPassShellcheck(t *testing.T) {
	for name, render := range map[string]func(SnapshotValues) (string, error){
		"snapshot.sh": RenderSnapshot, "restore.sh": RenderRestore, "snapshot-setup.sh": RenderSnapshotSetup,
	} {
		script, err := render(testSnapshots())
		require.NoError(t, err)
		scripttest.Shellcheck(t, "bash", name, script)
	}
}

var snapName = regexp.MustCompile(`^logs-[0-9]{8}t[0-9]{6}z$`)

func TestIntegrationSnapshotTakesChecksAndRecords(t *testing.T) {
	e := newSnapEnv(t)
	script, err := RenderSnapshot(testSnapshots())
	require.NoError(t, err)
	out, err := e.run(t, script, "", nil)
	require.NoError(t, err, out)

	reqs := e.es.take()
	require.Len(t, reqs, 3, "list (Elasticsearch answers), create, then list for retention")
	assert.Equal(t, "GET", reqs[0].Method)
	assert.Equal(t, "/_cat/snapshots/aurigraph-logs", reqs[0].Path)
	reqs = reqs[1:]
	create := reqs[0]
	assert.Equal(t, "PUT", create.Method)
	assert.Regexp(t, `^/_snapshot/aurigraph-logs/logs-[0-9]{8}t[0-9]{6}z$`, create.Path)
	assert.Equal(t, "wait_for_completion=true", create.Query)
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(create.Body), &body), create.Body)
	assert.Equal(t, IndexPattern, body["indices"])
	assert.Equal(t, false, body["include_global_state"])
	assert.Equal(t, "GET", reqs[1].Method)
	assert.Equal(t, "/_cat/snapshots/aurigraph-logs", reqs[1].Path)
	for _, r := range reqs {
		assert.Equal(t, SnapshotUser, r.User, "every request authenticates as %s", SnapshotUser)
		assert.Equal(t, e.password, r.Password)
	}
	assert.NotContains(t, e.argv(t), e.password, "the password reached an argument list")
	assert.NotContains(t, e.argv(t), "Sn4p", "part of the password reached an argument list")
	assert.NotContains(t, out, "Sn4p", "the password reached the log")
	assert.Contains(t, e.metrics(t), `aurigraph_backup_last_run_success{store="elasticsearch",kind="snapshot"} 1`)
	assert.Contains(t, e.metrics(t), `aurigraph_backup_max_age_seconds{store="elasticsearch",kind="snapshot"} 93600`)
	require.Len(t, e.es.names(), 1)
	assert.Regexp(t, snapName, e.es.names()[0])
}

// A run caught up at boot waits for Elasticsearch to answer before it
// counts a failure; one that never answers within ES_WAIT fails the run.
func TestIntegrationSnapshotWaitsForElasticsearch(t *testing.T) {
	e := newSnapEnv(t)
	script, err := RenderSnapshot(testSnapshots())
	require.NoError(t, err)
	e.es.unavailable = 1
	out, err := e.run(t, script, "", nil)
	require.NoError(t, err, out)
	require.Len(t, e.es.names(), 1, "the snapshot is taken once Elasticsearch answers")

	e.es.unavailable = 1000
	out, err = e.run(t, script, "", nil, "ES_WAIT=0")
	require.Error(t, err)
	assert.Contains(t, out, "did not list aurigraph-logs within 0s")
	assert.Contains(t, e.metrics(t), `aurigraph_backup_last_run_success{store="elasticsearch",kind="snapshot"} 0`)
}

// A snapshot that ends PARTIAL or FAILED is not a backup: the run fails,
// records run=0 and deletes nothing.
func TestIntegrationSnapshotNotSuccessFailsTheRun(t *testing.T) {
	for _, state := range []string{"PARTIAL", "FAILED"} {
		t.Run(state, func(t *testing.T) {
			e := newSnapEnv(t)
			for i := 0; i < 20; i++ {
				e.es.snapshots = append(e.es.snapshots, fakeSnapshot{name: fmt.Sprintf("logs-202611%02dt023000z", i+1), state: "SUCCESS"})
			}
			e.es.nextState = state
			script, err := RenderSnapshot(testSnapshots())
			require.NoError(t, err)
			out, err := e.run(t, script, "", nil)
			require.Error(t, err)
			assert.Contains(t, out, "ended "+state)
			assert.Contains(t, e.metrics(t), `aurigraph_backup_last_run_success{store="elasticsearch",kind="snapshot"} 0`)
			for _, r := range e.es.take() {
				assert.NotEqual(t, "DELETE", r.Method, "a failed run deletes nothing")
			}
			assert.Len(t, e.es.names(), 21)
		})
	}
}

// Retention keeps the newest KEEP successful logs-* snapshots and deletes
// exactly the older logs-* ones; a snapshot taken by hand stays.
func TestIntegrationSnapshotRetentionDeletesExactlyTheOldest(t *testing.T) {
	e := newSnapEnv(t)
	var old []string
	for i := 0; i < 18; i++ {
		name := fmt.Sprintf("logs-202611%02dt023000z", i+1)
		state := "SUCCESS"
		if i == 16 {
			state = "PARTIAL" // newer than the cut: kept, not counted
		}
		e.es.snapshots = append(e.es.snapshots, fakeSnapshot{name: name, state: state})
		old = append(old, name)
	}
	e.es.snapshots = append(e.es.snapshots, fakeSnapshot{name: "before-upgrade", state: "SUCCESS"})
	script, err := RenderSnapshot(testSnapshots())
	require.NoError(t, err)
	_, err = e.run(t, script, "", nil, "KEEP=5")
	require.NoError(t, err)

	var deleted []string
	for _, r := range e.es.take() {
		if r.Method == "DELETE" {
			deleted = append(deleted, strings.TrimPrefix(r.Path, "/_snapshot/aurigraph-logs/"))
		}
	}
	// 18 old + 1 new logs-* snapshots, 18 of them successful: keep the
	// newest 5 successful (14, 15, 16, 18 and the new one) and the PARTIAL
	// 17 between them; delete 1..13.
	assert.Equal(t, old[:13], deleted)
	left := e.es.names()
	sort.Strings(left)
	require.Len(t, left, 7)
	assert.Equal(t, "before-upgrade", left[0])
	assert.Equal(t, old[13:], left[1:6])
	assert.Regexp(t, snapName, left[6])
}

func TestIntegrationRestoreRenamesByDefault(t *testing.T) {
	e := newSnapEnv(t)
	e.es.snapshots = []fakeSnapshot{
		{name: "logs-20261204t023000z", state: "SUCCESS", streams: []string{"logs-aurigraph-app"}},
		{name: "logs-20261205t023000z", state: "SUCCESS", streams: []string{"logs-aurigraph-app", "logs-aurigraph-nginx"}},
		{name: "logs-20261206t023000z", state: "FAILED"},
	}
	script, err := RenderRestore(testSnapshots())
	require.NoError(t, err)

	out, err := e.run(t, script, "", []string{"list"})
	require.NoError(t, err)
	assert.Contains(t, out, "logs-20261206t023000z FAILED")
	e.es.take()

	out, err = e.run(t, script, "", nil)
	require.NoError(t, err, out)
	reqs := e.es.take()
	require.Len(t, reqs, 3, "list, snapshot info, restore")
	assert.Equal(t, "/_snapshot/aurigraph-logs/logs-20261205t023000z", reqs[1].Path, "the newest successful snapshot")
	restore := reqs[2]
	assert.Equal(t, "POST", restore.Method)
	assert.Equal(t, "/_snapshot/aurigraph-logs/logs-20261205t023000z/_restore", restore.Path)
	assert.Equal(t, "wait_for_completion=true", restore.Query)
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(restore.Body), &body), restore.Body)
	assert.Equal(t, map[string]any{"indices": "logs-aurigraph-app,logs-aurigraph-nginx", "include_global_state": false,
		"include_aliases": false, "rename_pattern": "(.+)", "rename_replacement": "restored-$1",
		"ignore_index_settings": []any{"index.lifecycle.name"}}, body)
	for _, r := range reqs {
		assert.Equal(t, "elastic", r.User)
		assert.NotEqual(t, "DELETE", r.Method, "the live data is untouched")
	}
	assert.ElementsMatch(t, []string{"logs-aurigraph-app", "logs-aurigraph-nginx", "restored-logs-aurigraph-app", "restored-logs-aurigraph-nginx"}, e.es.streams)
	assert.NotContains(t, e.argv(t), e.password)

	_, err = e.run(t, script, "", []string{"../_all"})
	assert.Error(t, err, "a name that is not a snapshot's is refused")
}

func TestIntegrationRestoreInPlaceNeedsConfirmation(t *testing.T) {
	e := newSnapEnv(t)
	e.es.snapshots = []fakeSnapshot{{name: "logs-20261205t023000z", state: "SUCCESS", streams: []string{"logs-aurigraph-nginx"}}}
	script, err := RenderRestore(testSnapshots())
	require.NoError(t, err)
	out, err := e.run(t, script, "", []string{"logs-20261205t023000z"}, "RESTORE_CONFIRM=yes")
	require.NoError(t, err, out)
	reqs := e.es.take()
	require.Len(t, reqs, 3, "snapshot info, delete the live stream, restore")
	assert.Equal(t, "DELETE", reqs[1].Method)
	assert.Equal(t, "/_data_stream/logs-aurigraph-nginx", reqs[1].Path, "only the stream the snapshot holds")
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(reqs[2].Body), &body))
	assert.Equal(t, map[string]any{"indices": "logs-aurigraph-nginx", "include_global_state": false}, body)
	assert.ElementsMatch(t, []string{"logs-aurigraph-app", "logs-aurigraph-nginx"}, e.es.streams)
}

func TestIntegrationSnapshotSetupRegistersRepositoryAndUser(t *testing.T) {
	e := newSnapEnv(t)
	script, err := RenderSnapshotSetup(testSnapshots())
	require.NoError(t, err)
	elastic := `El"astic\ pw-9`
	out, err := e.run(t, script, elastic+"\n"+e.password+"\n", nil)
	require.NoError(t, err, out)
	reqs := e.es.take()
	require.Len(t, reqs, 4)
	byPath := map[string]esRequest{}
	for _, r := range reqs {
		assert.Equal(t, "elastic", r.User)
		assert.Equal(t, elastic, r.Password)
		byPath[r.Method+" "+r.Path] = r
	}
	repo := byPath["PUT /_snapshot/aurigraph-logs"]
	assert.JSONEq(t, `{"type":"fs","settings":{"location":"/usr/share/elasticsearch/snapshots"}}`, repo.Body)
	role := byPath["PUT /_security/role/"+SnapshotRole]
	assert.JSONEq(t, `{"cluster":["create_snapshot","cluster:admin/snapshot/delete"],"metadata":{"managed_by":"aurigraph-infra"}}`, role.Body)
	var user struct {
		Password string   `json:"password"`
		Roles    []string `json:"roles"`
	}
	require.NoError(t, json.Unmarshal([]byte(byPath["PUT /_security/user/"+SnapshotUser].Body), &user))
	assert.Equal(t, e.password, user.Password)
	assert.Equal(t, []string{SnapshotRole}, user.Roles)
	argv := e.argv(t)
	assert.NotContains(t, argv, e.password)
	assert.NotContains(t, argv, "El\"astic")
	assert.NotContains(t, out, "Sn4p")
}
