package grafana

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/elasticsearch"
)

func sampleDatasources() DatasourceValues {
	return DatasourceValues{
		PrometheusURL: "http://prometheus:9090", ElasticsearchURL: "https://elasticsearch:9200",
		ElasticsearchUser: elasticsearch.ReaderUser, LogIndex: elasticsearch.IndexPattern, CAFile: "/etc/grafana/certs/ca.pem",
		JaegerURL: "http://jaeger:16686", RedisURL: "redis://redis:6379", RedisUser: "grafana",
	}
}

type datasource struct {
	Name           string         `yaml:"name"`
	UID            string         `yaml:"uid"`
	Type           string         `yaml:"type"`
	URL            string         `yaml:"url"`
	IsDefault      bool           `yaml:"isDefault"`
	BasicAuth      bool           `yaml:"basicAuth"`
	BasicAuthUser  string         `yaml:"basicAuthUser"`
	JSONData       map[string]any `yaml:"jsonData"`
	SecureJSONData map[string]any `yaml:"secureJsonData"`
}

func TestRenderDatasources(t *testing.T) {
	out, err := RenderDatasources(sampleDatasources())
	require.NoError(t, err)
	var f struct {
		APIVersion  int          `yaml:"apiVersion"`
		Datasources []datasource `yaml:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &f), out)
	assert.Equal(t, 1, f.APIVersion)
	byUID := map[string]datasource{}
	for _, d := range f.Datasources {
		byUID[d.UID] = d
	}
	require.Len(t, byUID, 4)

	p := byUID["prometheus"]
	assert.Equal(t, "prometheus", p.Type)
	assert.Equal(t, "http://prometheus:9090", p.URL)
	assert.True(t, p.IsDefault)

	es := byUID["elasticsearch"]
	assert.Equal(t, "https://elasticsearch:9200", es.URL)
	assert.True(t, es.BasicAuth)
	assert.Equal(t, elasticsearch.ReaderUser, es.BasicAuthUser)
	assert.Equal(t, "$__file{/run/secrets/elasticsearch-password}", es.SecureJSONData["basicAuthPassword"])
	assert.Equal(t, "$__file{/etc/grafana/certs/ca.pem}", es.SecureJSONData["tlsCACert"])
	assert.Equal(t, true, es.JSONData["tlsAuthWithCACert"])
	assert.Equal(t, elasticsearch.IndexPattern, es.JSONData["index"], "the pattern Logstash's indices fall under")

	assert.Equal(t, "http://jaeger:16686", byUID["jaeger"].URL)
	r := byUID["redis"]
	assert.Equal(t, "redis-datasource", r.Type)
	assert.Equal(t, "redis://redis:6379", r.URL)
	assert.Equal(t, "$__file{/run/secrets/redis-password}", r.SecureJSONData["password"])
	assert.Equal(t, true, r.JSONData["acl"], "an ACL user, not Redis's default user")
	assert.Equal(t, "grafana", r.JSONData["user"])

	superuser := sampleDatasources()
	superuser.ElasticsearchUser = "elastic"
	_, err = RenderDatasources(superuser)
	assert.ErrorContains(t, err, "superuser", "Grafana never reads logs as elastic")

	_, err = RenderDatasources(DatasourceValues{})
	assert.Error(t, err)
}

func TestRenderDashboardProvider(t *testing.T) {
	out, err := RenderDashboardProvider(ProviderValues{Path: "/etc/grafana/dashboards"})
	require.NoError(t, err)
	var f struct {
		Providers []struct {
			Type    string            `yaml:"type"`
			Options map[string]string `yaml:"options"`
		} `yaml:"providers"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &f))
	require.Len(t, f.Providers, 1)
	assert.Equal(t, "file", f.Providers[0].Type)
	assert.Equal(t, "/etc/grafana/dashboards", f.Providers[0].Options["path"])
}

// Panel is the part of a dashboard panel the tests read.
type Panel struct {
	ID         int    `json:"id"`
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	// Panels are a row's panels (collapsed rows hold their own).
	Panels      []Panel `json:"panels"`
	FieldConfig struct {
		Defaults struct {
			Thresholds *struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	ds, err := Dashboards()
	require.NoError(t, err)
	out := map[string]dashboard{}
	for _, d := range ds {
		var db dashboard
		require.NoError(t, json.Unmarshal([]byte(d.JSON), &db), d.File)
		out[db.Title] = db
	}
	return out
}

func TestDashboardsPanelCountsAndIDs(t *testing.T) {
	want := map[string]int{
		// The SPEC's 10, plus disk (4) and JVM GC (4) panels (issue 13).
		"System Health": 18, "Application Metrics": 10, "Blockchain Status": 8,
		"Performance Analysis": 12, "Infrastructure": 10,
	}
	got := loadDashboards(t)
	require.Len(t, got, len(want))
	uids := map[string]bool{}
	for title, n := range want {
		db, ok := got[title]
		require.True(t, ok, title)
		assert.Len(t, db.Panels, n, title)
		assert.False(t, uids[db.UID], "duplicate dashboard uid %s", db.UID)
		uids[db.UID] = true
		ids := map[int]bool{}
		for _, p := range db.Panels {
			assert.False(t, ids[p.ID], "%s: duplicate panel id %d", title, p.ID)
			ids[p.ID] = true
			assert.Equal(t, "prometheus", p.Datasource.UID, "%s/%s", title, p.Title)
			require.NotEmpty(t, p.Targets, "%s/%s has no query", title, p.Title)
			for _, tg := range p.Targets {
				assert.NotEmpty(t, tg.Expr, "%s/%s", title, p.Title)
			}
		}
	}
}

// thresholdValues collects every threshold step value of every dashboard.
func thresholdValues(t *testing.T) map[float64]bool {
	out := map[float64]bool{}
	for _, db := range loadDashboards(t) {
		for _, p := range db.Panels {
			if th := p.FieldConfig.Defaults.Thresholds; th != nil {
				for _, s := range th.Steps {
					if s.Value != nil {
						out[*s.Value] = true
					}
				}
			}
		}
	}
	return out
}

func TestDashboardsShowSPECTargets(t *testing.T) {
	th := thresholdValues(t)
	for name, v := range map[string]float64{
		"2M TPS": 2000000, "p99 100 ms": 0.1, "DB query 50 ms": 0.05, "cache hit 95%": 0.95, "availability 99.99%": 0.9999,
	} {
		assert.True(t, th[v], "no threshold for %s (%v)", name, v)
	}
	var all strings.Builder
	for _, db := range loadDashboards(t) {
		for _, p := range db.Panels {
			for _, tg := range p.Targets {
				all.WriteString(tg.Expr + "\n")
			}
		}
	}
	for _, metric := range []string{"http_server_requests_seconds_bucket", "agroal_active_count", "aurigraph_transactions_total",
		"aurigraph_active_validators", "aurigraph_consensus_leader_elections_total", "redis_keyspace_hits_total",
		"pg_stat_database_numbackends", "container_memory_working_set_bytes", "node_cpu_seconds_total"} {
		assert.Contains(t, all.String(), metric)
	}
}
