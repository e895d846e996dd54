package promql

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (le) (rate(a_bucket{job="x"}[5m])) / on() group_left b`, []string{"a_bucket", "b"}},
		{`{__name__="c_total", job="y"}`, []string{"c_total"}},
		{`count(up == 0) or vector(0)`, []string{"up"}},
		{`time() - max by (host) (d_seconds) > 3600`, []string{"d_seconds"}},
		{`absent(e{job="z"} == 1) unless on() f offset 5m`, []string{"e", "f"}},
		{`max_over_time(g[1h:5m]) and h @ end()`, []string{"g", "h"}},
		// Label values, strings and function names are not metrics.
		{`label_replace(i, "dst", "$1", "src", "node_(.*)")`, []string{"i"}},
		{`histogram_quantile(0.99, sum by (le) (rate(j_bucket[5m])))`, []string{"j_bucket"}},
		{`1 + 2`, []string{}},
	} {
		got, err := MetricNames(c.expr)
		require.NoError(t, err, c.expr)
		assert.Equal(t, c.want, got, c.expr)
	}
}

func TestMetricNamesRefusesWhatItCannotCheck(t *testing.T) {
	for _, expr := range []string{
		`sum(rate(x[5m])`,            // unbalanced
		`rate(x[$__rate_interval])`,  // an unsubstituted Grafana variable
		`{__name__=~"node_.*"}`,      // names by regular expression
		`{__name__!="up", job="x"}`,  // names by negation
		`sum(rate(x[5m])) by (le) (`, // trailing garbage
	} {
		_, err := MetricNames(expr)
		assert.Error(t, err, expr)
	}
}

func TestUnexported(t *testing.T) {
	exporters := map[string][]string{
		"up":               {"*"},
		"node_load5":       {"node"},
		"container_memory": {"cadvisor", "node"},
		"redis_up":         {"redis"},
	}
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job="anything"} == 0`, []string{}},
		{`node_load5`, []string{}},
		{`node_load5{job="node"}`, []string{}},
		{`node_load5{job="redis"}`, []string{`node_load5{job="redis"}`}},
		{`node_load5{job!="node"}`, []string{`node_load5{job!="node"}`}},
		{`container_memory{job=~"node|cadvisor"} / node_load5{job=~"no.*"}`, []string{}},
		{`redis_up{job=~"node|cadvisor"}`, []string{`redis_up{job=~"node|cadvisor"}`}},
		{`sum(rate(nowhere_total[5m])) or vector(0)`, []string{`nowhere_total`}},
		{`{__name__="redis_up", job="redis"}`, []string{}},
	} {
		got, err := Unexported(c.expr, exporters, "*")
		require.NoError(t, err, c.expr)
		assert.Equal(t, c.want, got, c.expr)
	}
	_, err := Unexported(`{__name__=~"node_.+"}`, exporters, "*")
	assert.Error(t, err, "a name by regular expression cannot be checked")
}
