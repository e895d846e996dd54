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
