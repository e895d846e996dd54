package kibana

import (
	"encoding/json"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/elasticsearch"
)

func testArgs() KibanaArgs {
	return KibanaArgs{
		PublicBaseURL: "https://kibana.ops.example.com", ElasticsearchURL: "https://elasticsearch:9200",
		Username: "kibana_system",
		Streams:  []Stream{{Name: "app", Index: "logs-aurigraph-app"}, {Name: "nginx", Index: "logs-aurigraph-nginx"}},
	}
}

func TestConfig(t *testing.T) {
	cfg, err := testArgs().Config()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &m), cfg)
	assert.Equal(t, "https://kibana.ops.example.com", m["server.publicBaseUrl"])
	assert.Equal(t, true, m["server.ssl.enabled"])
	assert.Equal(t, CertPath, m["server.ssl.certificate"])
	assert.Equal(t, KeyPath, m["server.ssl.key"])
	assert.Equal(t, []any{"https://elasticsearch:9200"}, m["elasticsearch.hosts"])
	assert.Equal(t, "kibana_system", m["elasticsearch.username"])
	assert.Equal(t, []any{CAPath}, m["elasticsearch.ssl.certificateAuthorities"])
	assert.Equal(t, "full", m["elasticsearch.ssl.verificationMode"])
	// Secrets are environment references only.
	assert.Equal(t, "${"+PasswordEnv+"}", m["elasticsearch.password"])
	assert.Equal(t, "${"+SecurityKeyEnv+"}", m["xpack.security.encryptionKey"])
	assert.Equal(t, "${"+SavedObjectsKeyEnv+"}", m["xpack.encryptedSavedObjects.encryptionKey"])
	assert.Equal(t, "${"+ReportingKeyEnv+"}", m["xpack.reporting.encryptionKey"])
	for k, v := range m {
		if s, ok := v.(string); ok && (strings.Contains(k, "password") || strings.Contains(k, "Key")) {
			assert.Regexp(t, `^\$\{[A-Z_]+\}$`, s, k)
		}
	}
	again, err := testArgs().Config()
	require.NoError(t, err)
	assert.Equal(t, cfg, again)
}

func TestSecretEnvNamesAreNotKibanaSettings(t *testing.T) {
	// The image turns environment variables named after settings
	// (ELASTICSEARCH_PASSWORD → --elasticsearch.password=…) into command-line
	// flags; ours must not look like any setting.
	for _, e := range []string{PasswordEnv, SecurityKeyEnv, SavedObjectsKeyEnv, ReportingKeyEnv} {
		assert.True(t, strings.HasPrefix(e, "AURIGRAPH_"), e)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	a := testArgs()
	a.PublicBaseURL = "http://kibana.example.com"
	_, err := a.Config()
	assert.Error(t, err)
	a = testArgs()
	a.ElasticsearchURL = "http://elasticsearch:9200"
	_, err = a.Config()
	assert.Error(t, err)
	_, err = RenderConfig(ConfigValues{PasswordEnv: "plain secret value"})
	assert.Error(t, err)
}

func TestNodeOptionsAndHealth(t *testing.T) {
	n, err := RenderNodeOptions(NodeOptionsValues{HeapMB: 1024})
	require.NoError(t, err)
	assert.Contains(t, n, "--max-old-space-size=1024\n")
	_, err = RenderNodeOptions(NodeOptionsValues{HeapMB: 0})
	assert.Error(t, err)
	h := HealthCommand()
	assert.Equal(t, "CMD-SHELL", h[0])
	assert.Contains(t, h[1], "https://kibana:5601/api/status")
	assert.Contains(t, h[1], "--cacert "+CAPath)
	for _, d := range Dirs("/srv/aurigraph/kibana") {
		assert.Equal(t, [2]int{UID, GID}, [2]int{d.UID, d.GID})
	}
}

// Every https URL the component builds (the gateway's upstream, the health
// check) names one of TLSHosts, the list its certificate is issued for.
func TestEveryURLItBuildsNamesATLSHost(t *testing.T) {
	hosts := map[string]bool{}
	script, err := RenderSetupScript(testArgs().Setup(elasticsearch.IndexPattern))
	require.NoError(t, err)
	for _, text := range []string{URL(), HealthCommand()[1], script} {
		for _, m := range regexp.MustCompile(`https://([^:/"'\s]+)`).FindAllStringSubmatch(text, -1) {
			hosts[m[1]] = true
		}
	}
	var used []string
	for h := range hosts {
		used = append(used, h)
	}
	assert.ElementsMatch(t, TLSHosts(), used)
}

// The logs data view is a valid create-or-overwrite request for Kibana 8's
// data views API over the index pattern Elasticsearch owns, and every
// stream's view searches an index under it.
func TestLogDataViewsNameTheLogIndices(t *testing.T) {
	views := LogDataViews(elasticsearch.IndexPattern, testArgs().Streams)
	require.Len(t, views, 3)
	ids := map[string]bool{}
	for i, v := range views {
		doc, err := RenderDataView(v)
		require.NoError(t, err)
		var req map[string]any
		require.NoError(t, json.Unmarshal([]byte(doc), &req), doc)
		assert.ElementsMatch(t, []string{"data_view", "override"}, keys(req), "the body of POST /api/data_views/data_view")
		assert.Equal(t, true, req["override"], "a second run overwrites instead of failing")
		dv := req["data_view"].(map[string]any)
		assert.ElementsMatch(t, []string{"id", "name", "title", "timeFieldName"}, keys(dv))
		assert.Equal(t, "@timestamp", dv["timeFieldName"])
		assert.Equal(t, v.ID, dv["id"])
		assert.Equal(t, v.Title, dv["title"])
		assert.False(t, ids[v.ID], "ids are unique")
		ids[v.ID] = true
		if i == 0 {
			assert.Equal(t, elasticsearch.IndexPattern, dv["title"])
			assert.Equal(t, LogsDataViewID, dv["id"])
			continue
		}
		ok, err := path.Match(elasticsearch.IndexPattern, v.Title)
		require.NoError(t, err)
		assert.True(t, ok, "%s falls under %s", v.Title, elasticsearch.IndexPattern)
	}
	assert.Equal(t, "logs-aurigraph-nginx", views[2].Title)
	assert.Equal(t, LogsDataViewID+"-nginx", views[2].ID)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderDataViewRefusesBadValues(t *testing.T) {
	for _, v := range []DataView{
		{ID: "", Name: "n", Title: "logs-*"},
		{ID: "Bad ID", Name: "n", Title: "logs-*"},
		{ID: "ok", Name: "", Title: "logs-*"},
		{ID: "ok", Name: "n", Title: ""},
		{ID: "ok", Name: "n", Title: "logs-*,other-*"},
		{ID: "ok", Name: "n", Title: `logs-"x`},
	} {
		_, err := RenderDataView(v)
		assert.Error(t, err, "%+v", v)
	}
}

func TestSetupScriptHoldsNoSecretAndSendsEveryView(t *testing.T) {
	v := testArgs().Setup(elasticsearch.IndexPattern)
	script, err := RenderSetupScript(v)
	require.NoError(t, err)
	again, err := RenderSetupScript(v)
	require.NoError(t, err)
	assert.Equal(t, script, again, "deterministic, so its hash triggers a rerun only on a change")
	// The password comes from stdin, one line, and never sits in a command.
	assert.Equal(t, 1, strings.Count(script, "IFS= read -r ELASTIC_PASSWORD"))
	assert.NotContains(t, script, "-u elastic")
	assert.NotContains(t, script, "-e ELASTIC_PASSWORD")
	assert.Contains(t, script, `docker exec -i "$CONTAINER"`)
	assert.Contains(t, script, "CONTAINER='"+Name+"'")
	assert.Contains(t, script, "CA='"+CAPath+"'", "Kibana's certificate is verified with the stack CA in the container")
	assert.Contains(t, script, "kbn-xsrf")
	for _, view := range v.Views {
		body, err := RenderDataView(view)
		require.NoError(t, err)
		assert.Contains(t, script, "kibana POST /api/data_views/data_view <<'JSON'\n"+body+"\nJSON\n", "%s is sent as rendered", view.ID)
	}
	role, err := RenderViewerRole(elasticsearch.IndexPattern)
	require.NoError(t, err)
	assert.Contains(t, script, "kibana PUT /api/security/role/"+ViewerRole+" <<'JSON'\n"+role+"\nJSON\n", "the viewer role is sent as rendered")
	assert.Contains(t, script, "[ \"$attempt\" -ge 60 ]", "the wait is bounded")
}

// Kibana's end users read the logs and nothing else: the body of Kibana 8's
// role API (elasticsearch + kibana sections) grants read and
// view_index_metadata on the log pattern, no cluster privilege, and only
// the read privilege of the Discover, Dashboard and Visualize features
// (no base privilege, which would include every feature). No Kibana runs
// here: the shape and names are those of Kibana's role API documentation.
func TestViewerRoleOnlyReadsLogs(t *testing.T) {
	doc, err := RenderViewerRole(elasticsearch.IndexPattern)
	require.NoError(t, err)
	var role struct {
		Metadata      map[string]string `json:"metadata"`
		Elasticsearch struct {
			Cluster []string `json:"cluster"`
			Indices []struct {
				Names      []string `json:"names"`
				Privileges []string `json:"privileges"`
			} `json:"indices"`
			RunAs []string `json:"run_as"`
		} `json:"elasticsearch"`
		Kibana []struct {
			Base    []string            `json:"base"`
			Feature map[string][]string `json:"feature"`
			Spaces  []string            `json:"spaces"`
		} `json:"kibana"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&role), doc)
	assert.Empty(t, role.Elasticsearch.Cluster)
	assert.Empty(t, role.Elasticsearch.RunAs)
	require.Len(t, role.Elasticsearch.Indices, 1)
	assert.Equal(t, []string{elasticsearch.IndexPattern}, role.Elasticsearch.Indices[0].Names)
	assert.Equal(t, []string{"read", "view_index_metadata"}, role.Elasticsearch.Indices[0].Privileges)
	require.Len(t, role.Kibana, 1)
	assert.Empty(t, role.Kibana[0].Base, "a base privilege (all, read) would grant every feature")
	assert.Equal(t, map[string][]string{"dashboard": {"read"}, "discover": {"read"}, "visualize": {"read"}}, role.Kibana[0].Feature)
	assert.Equal(t, []string{"*"}, role.Kibana[0].Spaces)

	for _, bad := range []string{"", "logs-*,.security*", "a b"} {
		_, err := RenderViewerRole(bad)
		assert.Error(t, err, bad)
	}
}

// The root is read-only: Kibana writes its data directory (host) and /tmp.
func TestReadOnlyRootLayout(t *testing.T) {
	dirs := Dirs("/srv/aurigraph/kibana")
	require.Len(t, dirs, 4)
	assert.Equal(t, "/srv/aurigraph/kibana/data", dirs[3].Path)
	assert.Equal(t, map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=256m,mode=1777"}, Tmpfs())
}

func TestSetupScriptRefusesBadValues(t *testing.T) {
	good := testArgs().Setup(elasticsearch.IndexPattern)
	for name, change := range map[string]func(*SetupValues){
		"no view":        func(v *SetupValues) { v.Views = nil },
		"no container":   func(v *SetupValues) { v.Container = "" },
		"no CA":          func(v *SetupValues) { v.CAPath = "" },
		"no wait":        func(v *SetupValues) { v.WaitAttempts = 0 },
		"duplicate id":   func(v *SetupValues) { v.Views = append(v.Views, v.Views[0]) },
		"bad view title": func(v *SetupValues) { v.Views[0].Title = "a b" },
	} {
		v := good
		v.Views = append([]DataView{}, good.Views...)
		change(&v)
		_, err := RenderSetupScript(v)
		assert.Error(t, err, name)
	}
}
