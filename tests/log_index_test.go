package tests

import (
	"encoding/json"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

var (
	logstashIndex   = regexp.MustCompile(`(?m)^\s*index => "([^"]+)"`)
	grafanaLogIndex = regexp.MustCompile(`(?m)^\s*index: "?([^"\s]+)"?\s*$`)
	templatePattern = regexp.MustCompile(`"index_patterns":\s*(\[[^\]]*\])`)
	rolePattern     = regexp.MustCompile(`"names":\s*(\[[^\]]*\])`)
	ilmPolicyPut    = regexp.MustCompile(`(?m)^es PUT /_ilm/policy/(\S+) `)
	templatePolicy  = regexp.MustCompile(`"index\.lifecycle\.name":\s*"([^"]+)"`)
	streamField     = regexp.MustCompile(`%\{\[@metadata\]\[stream\]\}`)
	dataViewTitle   = regexp.MustCompile(`(?m)^\{"data_view":\{.*"title":("[^"]+")`)
	unsafeStream    = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

// Logstash writes one index per stream; Grafana's logs data source,
// Kibana's logs data view, the retention (index template + ILM policy) and
// Logstash's own write permission must all cover every one of them, or logs
// land where Grafana or Kibana shows nothing and retention never deletes
// them. Kibana's per-stream views each search an index Logstash writes.
func TestLogIndicesWrittenAreTheOnesSearchedAndRetained(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			files := harness.InstalledFiles(res)
			written := writtenIndices(t, res, installedFile(t, files, "/pipeline/aurigraph.conf"))

			m := grafanaLogIndex.FindStringSubmatch(installedFile(t, files, "/datasources.yml"))
			require.NotNil(t, m, "Grafana's Elasticsearch data source names an index")
			setup := res.Named("command:remote:Command", "elasticsearch-setup")
			require.NotNil(t, setup)
			script := harness.Str(setup.Inputs, "create")

			views := res.Named("command:remote:Command", "kibana-data-views")
			require.NotNil(t, views)
			titles := dataViewTitles(t, harness.Str(views.Inputs, "create"))

			readers := map[string][]string{"Grafana logs data source": {m[1]}}
			readers["Kibana logs data view"] = titles[:1]
			readers["index template (retention)"] = jsonList(t, templatePattern, script)
			readers["Logstash writer role"] = jsonList(t, rolePattern, script)
			for reader, patterns := range readers {
				for _, index := range written {
					assert.True(t, matchesAny(t, patterns, index), "%s %v does not cover %s, which Logstash writes", reader, patterns, index)
				}
			}

			assert.Equal(t, readers["index template (retention)"], titles[:1], "Kibana's logs data view searches exactly the pattern retention covers")
			for _, title := range titles[1:] {
				assert.Contains(t, written, title, "Kibana's stream data view searches an index Logstash writes")
			}
			assert.Len(t, titles[1:], len(written), "one Kibana data view per index written")

			// The template applies the policy the setup creates.
			policy := ilmPolicyPut.FindStringSubmatch(script)
			lifecycle := templatePolicy.FindStringSubmatch(script)
			require.NotNil(t, policy)
			require.NotNil(t, lifecycle)
			assert.Equal(t, policy[1], lifecycle[1])
		})
	}
}

// writtenIndices are the indices the pipeline's output writes: its index
// setting with each stream the routing table (stacks.LogServices, the table
// the pipeline's conditionals are rendered from) gives the services whose
// containers log, and the hosts' journal.
func writtenIndices(t *testing.T, res *mockrun.Result, pipeline string) []string {
	m := logstashIndex.FindStringSubmatch(pipeline)
	require.NotNil(t, m, "the pipeline's elasticsearch output names an index")
	require.Regexp(t, streamField, m[1], "one index per stream")
	streams := map[string]bool{stacks.LogServices.StreamOf(logstash.SystemService): true}
	for _, c := range res.OfType(harness.ContainerType) {
		if svc := harness.Label(c, container.ServiceLabel); svc != "" {
			streams[stacks.LogServices.StreamOf(svc)] = true
		}
	}
	var out []string
	for s := range streams {
		require.NotRegexp(t, unsafeStream, s)
		out = append(out, streamField.ReplaceAllString(m[1], s))
		assert.Equal(t, logstash.Index(s), streamField.ReplaceAllString(m[1], s), "the pipeline and logstash.Index name the same index")
	}
	sort.Strings(out)
	want := stacks.LogServices.Streams()
	assert.Len(t, out, len(want), "every stream of the table is written: %v", out)
	return out
}

// dataViewTitles are the titles of the data views Kibana's step writes, in
// order: the logs view first.
func dataViewTitles(t *testing.T, script string) []string {
	t.Helper()
	var out []string
	for _, m := range dataViewTitle.FindAllStringSubmatch(script, -1) {
		var title string
		require.NoError(t, json.Unmarshal([]byte(m[1]), &title))
		out = append(out, title)
	}
	require.NotEmpty(t, out, "Kibana's step writes data views")
	return out
}

func installedFile(t *testing.T, files map[string]string, suffix string) string {
	t.Helper()
	var found []string
	for p, content := range files {
		if strings.HasSuffix(p, suffix) {
			found = append(found, content)
		}
	}
	require.Len(t, found, 1, "exactly one installed file ending in %s", suffix)
	return found[0]
}

func jsonList(t *testing.T, re *regexp.Regexp, text string) []string {
	t.Helper()
	m := re.FindStringSubmatch(text)
	require.NotNil(t, m, "%s in the Elasticsearch setup", re)
	var out []string
	require.NoError(t, json.Unmarshal([]byte(m[1]), &out))
	require.NotEmpty(t, out)
	return out
}

// matchesAny reports whether an Elasticsearch wildcard pattern (index
// names hold no '/') matches index.
func matchesAny(t *testing.T, patterns []string, index string) bool {
	for _, p := range patterns {
		ok, err := path.Match(p, index)
		require.NoError(t, err, p)
		if ok {
			return true
		}
	}
	return false
}
