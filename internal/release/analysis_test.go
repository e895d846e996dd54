package release

import (
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
	require.Len(t, checks, 3)
	for _, c := range checks[:2] {
		assert.True(t, strings.Contains(squash(rules), squash(c.Query)), "%s: the rule's own expression, threshold included: %s", c.Name, c.Query)
	}
	assert.Contains(t, checks[0].Query, "> 0.05")
	assert.Contains(t, checks[1].Query, "histogram_quantile(0.99")
	assert.Contains(t, checks[1].Query, "> 1")

	short, err := Checks("30s")
	require.NoError(t, err)
	for i, c := range short {
		assert.NotContains(t, c.Query, "[5m]")
		assert.Equal(t, checks[i].Query, strings.ReplaceAll(c.Query, "[30s]", "[5m]"), "only the window differs")
		_, err := promql.Parse(c.Query)
		require.NoError(t, err, c.Name)
		names, err := promql.MetricNames(c.Query)
		require.NoError(t, err)
		for _, n := range names {
			assert.True(t, catalogued(n), "%s reads %s, which no scrape target exports", c.Name, n)
		}
	}
}

func catalogued(metric string) bool {
	for _, e := range prometheus.Catalogue {
		if e.Job == prometheus.AppJob || e.Job == prometheus.AnyJob {
			for _, m := range e.Metrics {
				if m == metric {
					return true
				}
			}
		}
	}
	return false
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
