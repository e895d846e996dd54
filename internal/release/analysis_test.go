package release

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/promql"
)

func TestChecksAreTheCriticalRulesQueries(t *testing.T) {
	rules, err := prometheus.RenderRules(prometheus.RulesValues{PoolMaxSize: 20})
	require.NoError(t, err)
	checks, err := Checks("")
	require.NoError(t, err)
	require.Len(t, checks, 4)
	assert.Equal(t, "max by (slot, replica) (aurigraph_readiness_failures) >= 3", checks[2].Query, "unready: as many failed probes in a row as the gate needs to take it out")
	for _, c := range checks[:2] {
		assert.True(t, strings.Contains(squash(rules), squash(c.Query)), "%s: the rule's own expression, threshold included: %s", c.Name, c.Query)
	}
	assert.Contains(t, checks[0].Query, "> 0.05")
	assert.Contains(t, checks[1].Query, "histogram_quantile(0.99")
	assert.Contains(t, checks[1].Query, "> 1")

	short, err := Checks("30s")
	require.NoError(t, err)
	exporters, err := prometheus.ExportersWith(os.DirFS("../../components"), rules)
	require.NoError(t, err)
	for i, c := range short {
		assert.NotContains(t, c.Query, "[5m]")
		assert.Equal(t, checks[i].Query, strings.ReplaceAll(c.Query, "[30s]", "[5m]"), "only the window differs")
		_, err := promql.Parse(c.Query)
		require.NoError(t, err, c.Name)
		names, err := promql.MetricNames(c.Query)
		require.NoError(t, err)
		for _, n := range names {
			assert.True(t, catalogued(exporters, n), "%s reads %s, which no scrape target exports", c.Name, n)
		}
	}
}

// catalogued: the application's metrics, Prometheus's own, or a textfile
// metric (the readiness gate's, served by node exporter). exporters maps a
// metric to the jobs exporting it.
func catalogued(exporters map[string][]string, metric string) bool {
	for _, job := range exporters[metric] {
		if job == prometheus.AppJob || job == prometheus.AnyJob || job == prometheus.JobNode {
			return true
		}
	}
	return false
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestPrometheusAnalysisReadsTheSlotsSeriesWithAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "ops" || pw != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":"error","error":"unauthorized"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"slot":"green","instance":"g1:9003"},"value":[1,"0.2"]}]}}`))
	}))
	defer srv.Close()
	a := &PrometheusAnalysis{URL: srv.URL, User: "ops", Password: "s3cret", Checks: []Check{{Name: "error rate > 5%", Query: "x"}}}
	err := a.Analyse(context.Background(), Green)
	var failed *Failed
	require.ErrorAs(t, err, &failed)
	assert.Equal(t, []string{"error rate > 5% on the green slot on g1:9003 (value 0.2)"}, failed.Reasons)
	assert.NoError(t, a.Analyse(context.Background(), Blue), "another slot's series do not count")
	a.Password = "wrong"
	err = a.Analyse(context.Background(), Green)
	require.Error(t, err)
	assert.NotErrorAs(t, err, &failed, "an unanswered query is inconclusive, not a failure")
	assert.Contains(t, err.Error(), "unauthorized")
}

// The readiness gate's series name the replica, not the gateway host that
// node exporter runs on: the reason says which replica is unready.
func TestReadinessFailuresNameTheReplica(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"slot":"green","replica":"aurigraph-v11-green-slim-1:9003","instance":"prod-edge-01:9100"},"value":[1,"3"]}]}}`))
	}))
	defer srv.Close()
	checks, err := Checks("")
	require.NoError(t, err)
	a := &PrometheusAnalysis{URL: srv.URL, Checks: checks[2:3]}
	var failed *Failed
	require.ErrorAs(t, a.Analyse(context.Background(), Green), &failed)
	assert.Equal(t, []string{"readiness failures on the green slot on aurigraph-v11-green-slim-1:9003 (value 3)"}, failed.Reasons)
}
