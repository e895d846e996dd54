package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/internal/derive"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// The elastic superuser is the setup's alone: of all containers in both
// stacks only Elasticsearch (its bootstrap password) holds the elastic
// password; Grafana reads the logs as the read-only grafana_reader, whose
// password is the one the setup step gives that user, derived from the
// elastic password and secret end to end.
func TestOnlySetupUsesTheElasticSuperuser(t *testing.T) {
	const elastic = "Distinct-elastic-Value-9d41"
	reader := derive.Password(elastic, "grafana_reader")
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack).SetSecret(stacks.SecretElasticPassword, elastic))
			for name, c := range harness.Containers(res) {
				var holds bool
				for _, e := range harness.Elements(c.Inputs["envs"]) {
					holds = holds || strings.Contains(harness.Plain(e).StringValue(), elastic)
				}
				assert.False(t, holds, "%s holds the elastic password in its environment", name)
			}
			assert.Equal(t, elastic, secretFileOf(t, res, harness.Containers(res)[elasticsearch.Name], envFile(harness.Containers(res)[elasticsearch.Name], "ELASTIC_PASSWORD_FILE")),
				"only Elasticsearch reads it, from its secret file")

			g, ok := harness.Containers(res)[grafana.ContainerName]
			require.True(t, ok, "the Grafana container")
			assert.Equal(t, reader, secretFileOf(t, res, g, grafana.ElasticPasswordFile), "Grafana's logs data source password is grafana_reader's")
			var datasources string
			for p, content := range harness.InstalledFiles(res) {
				if strings.HasSuffix(p, "datasources.yml") {
					datasources = content
				}
			}
			require.NotEmpty(t, datasources, "Grafana's datasources file")
			assert.Contains(t, datasources, "basicAuthUser: "+`"`+elasticsearch.ReaderUser+`"`)
			assert.NotContains(t, datasources, `"elastic"`)

			setup := res.Named("command:remote:Command", elasticsearch.Name+"-setup")
			require.NotNil(t, setup)
			assert.True(t, setup.Inputs["stdin"].ContainsSecrets())
			lines := strings.Split(harness.Plain(setup.Inputs["stdin"]).StringValue(), "\n")
			require.Len(t, lines, 5, "four passwords, one per line")
			assert.Equal(t, elastic, lines[0])
			assert.Equal(t, reader, lines[3], "the setup gives grafana_reader the password Grafana holds")
			assert.Empty(t, harness.PlaintextContaining(res, reader), "the reader's password leaks in plain text")
			assert.Contains(t, harness.Str(setup.Inputs, "create"), "es PUT /_security/user/"+elasticsearch.ReaderUser)
		})
	}
}

// Every container of both stacks runs on a read-only root, in a preview
// too (no exception is left in the policy pack), and Elasticsearch, Kibana
// and Logstash write only to their tmpfs and to host directories under the
// stack's data path.
func TestEveryContainerHasAReadOnlyRoot(t *testing.T) {
	for _, stack := range engineStacks {
		for _, preview := range []bool{false, true} {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			if preview {
				res = harness.Preview(t, s)
			}
			containers := harness.Containers(res)
			require.NotEmpty(t, containers)
			for name, c := range containers {
				ro := harness.Plain(c.Inputs["readOnly"])
				assert.True(t, ro.IsBool() && ro.BoolValue(), "%s (preview %v): %s has a writable root", stack, preview, name)
			}
			dataPath := harness.Config(t, s).Preflight.DataPath
			for name, tmpfs := range map[string]map[string]string{
				elasticsearch.Name: elasticsearch.Tmpfs(), kibana.Name: kibana.Tmpfs(), logstash.Name: logstash.Tmpfs(),
			} {
				c, ok := containers[name]
				require.True(t, ok, name)
				got := map[string]string{}
				for k, v := range harness.Plain(c.Inputs["tmpfs"]).ObjectValue() {
					got[string(k)] = harness.Plain(v).StringValue()
				}
				assert.Equal(t, tmpfs, got, "%s/%s: tmpfs", stack, name)
				for _, m := range harness.Elements(c.Inputs["mounts"]) {
					if harness.Field(m, "readOnly").BoolValue() {
						continue
					}
					assert.True(t, strings.HasPrefix(harness.Field(m, "source").StringValue(), dataPath+"/"+name+"/"),
						"%s/%s writes only to its own host directories, not %v", stack, name, m)
				}
			}
		}
	}
}
