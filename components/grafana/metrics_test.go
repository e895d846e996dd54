package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/promql"
)

// variable is a dashboard template variable, as far as the tests read it.
type variable struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Query    json.RawMessage `json:"query"` // a string, or {"query": "..."} for Prometheus
	AllValue string          `json:"allValue"`
	Current  struct {
		Value any `json:"value"`
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// promQuery is the PromQL of a query variable: label_values(<selector>, label)
// is Grafana's, its selector is PromQL; query_result(<expr>) wraps PromQL.
func (v variable) promQuery() (string, bool) {
	if v.Type != "query" {
		return "", false
	}
	var q string
	if json.Unmarshal(v.Query, &q) != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &obj) != nil {
			return "", false
		}
		q = obj.Query
	}
	q = strings.TrimSpace(q)
	if m := labelValues.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	if strings.HasPrefix(q, "query_result(") && strings.HasSuffix(q, ")") {
		return strings.TrimSuffix(strings.TrimPrefix(q, "query_result("), ")"), true
	}
	return "", false
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

// sample is the value a variable stands for in a test: the dashboard's
// current choice, "All" as the allValue (or .* as Grafana builds it), else
// the first option, else a label-safe placeholder.
func (v variable) sample() string {
	cur := ""
	switch c := v.Current.Value.(type) {
	case string:
		cur = c
	case []any:
		if len(c) > 0 {
			cur, _ = c[0].(string)
		}
	}
	switch {
	case cur == "$__all" && v.AllValue != "":
		return v.AllValue
	case cur == "$__all":
		return ".*"
	case cur != "":
		return cur
	case len(v.Options) > 0:
		return v.Options[0].Value
	}
	return "sample"
}

// builtins are Grafana's own variables, replaced by values Prometheus parses.
var builtins = map[string]string{
	"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__interval_ms": "60000",
	"__range_s": "3600", "__range_ms": "3600000",
}

// grafanaVar matches $name, ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\[\[([a-zA-Z0-9_]+)\]\]|\$([a-zA-Z0-9_]+)`)

// substitute replaces every variable by its sample value; a variable the
// dashboard does not define is an error.
func substitute(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sm := grafanaVar.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		if v, ok := vars[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown variables %v in %q", unknown, expr)
	}
	return out, nil
}

// query is one PromQL query of a dashboard, variables substituted.
type query struct {
	Where string // dashboard / panel / refId, or dashboard / $variable
	Expr  string
}

func flatten(panels []Panel) []Panel {
	var out []Panel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// dashboardQueries is every PromQL query of every dashboard: each panel
// target (rows' panels included) and each query variable, sorted.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, db := range loadDashboards(t) {
		vars := map[string]string{}
		for k, v := range builtins {
			vars[k] = v
		}
		for _, v := range db.Templating.List {
			vars[v.Name] = v.sample()
		}
		add := func(where, expr string) {
			e, err := substitute(expr, vars)
			require.NoError(t, err, where)
			out = append(out, query{Where: where, Expr: e})
		}
		for _, v := range db.Templating.List {
			if q, ok := v.promQuery(); ok {
				add(fmt.Sprintf("%s / $%s", db.Title, v.Name), q)
			}
		}
		for _, p := range flatten(db.Panels) {
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s / %d %s / %s", db.Title, p.ID, p.Title, tg.RefID), tg.Expr)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Where < out[j].Where })
	return out
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"host": ".+", "__rate_interval": "5m", "node": "a"}
	got, err := substitute(`rate(x{host=~"$host",n="${node}",m="[[node]]",f="${node:regex}"}[$__rate_interval])`, vars)
	require.NoError(t, err)
	assert.Equal(t, `rate(x{host=~".+",n="a",m="a",f="a"}[5m])`, got)
	_, err = substitute(`x{host="$nothere"}`, vars)
	assert.Error(t, err)
}

func TestVariableSamplesAndQueries(t *testing.T) {
	var v variable
	require.NoError(t, json.Unmarshal([]byte(`{"name":"host","type":"query",
		"query":{"query":"label_values(node_uname_info{job=\"node\"}, host)"},
		"includeAll":true,"allValue":".+","current":{"value":"$__all"}}`), &v))
	assert.Equal(t, ".+", v.sample())
	q, ok := v.promQuery()
	assert.True(t, ok)
	assert.Equal(t, `node_uname_info{job="node"}`, q)

	v = variable{}
	require.NoError(t, json.Unmarshal([]byte(`{"name":"i","type":"query","query":"query_result(up == 1)","current":{"value":["a","b"]}}`), &v))
	assert.Equal(t, "a", v.sample())
	q, _ = v.promQuery()
	assert.Equal(t, "up == 1", q)

	v = variable{}
	require.NoError(t, json.Unmarshal([]byte(`{"name":"c","type":"custom","options":[{"value":"x"}]}`), &v))
	assert.Equal(t, "x", v.sample())
	_, ok = v.promQuery()
	assert.False(t, ok)
}

// TestDashboardQueriesNameExportedMetrics: every panel query and variable
// query parses with Prometheus's parser, and every metric it names is
// exported by a scrape job its selector accepts (components/prometheus
// Catalogue, the host scripts' textfile metrics, the recorded rules).
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	rules, err := prometheus.RenderRules(prometheus.RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	ex, err := prometheus.ExportersWith(os.DirFS("../../components"), rules)
	require.NoError(t, err)
	qs := dashboardQueries(t)
	require.NotEmpty(t, qs)
	for _, q := range qs {
		missing, err := promql.Unexported(q.Expr, ex, prometheus.AnyJob)
		if assert.NoError(t, err, q.Where) {
			assert.Empty(t, missing, "%s names metrics no scrape job exports: fix the query, or add the exporter's names to components/prometheus Catalogue", q.Where)
		}
	}
	t.Logf("%d dashboard queries checked", len(qs))
}

func TestSystemHealthShowsDisksAndGC(t *testing.T) {
	var all []string
	for _, q := range dashboardQueries(t) {
		if strings.HasPrefix(q.Where, "System Health / ") {
			names, err := promql.MetricNames(q.Expr)
			require.NoError(t, err)
			all = append(all, names...)
		}
	}
	for _, n := range []string{"node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_disk_read_bytes_total",
		"node_disk_written_bytes_total", "node_disk_io_time_seconds_total", "jvm_gc_pause_seconds_sum",
		"jvm_gc_pause_seconds_count", "jvm_gc_pause_seconds_max", "jvm_gc_memory_allocated_bytes_total",
		"jvm_gc_memory_promoted_bytes_total"} {
		assert.Contains(t, all, n)
	}
}
