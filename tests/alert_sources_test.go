package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// The alerts' host-side sources reach the hosts of both stacks: every host
// exports the expiry of the certificates under its data path, and the host
// running Elasticsearch (Logstash) asks it for its health (events), none
// other.
func TestAlertSourcesReachTheirHosts(t *testing.T) {
	for _, name := range []string{"staging", "prod"} {
		s := harness.Stack(t, name)
		cfg := harness.Config(t, s)
		place, dataPath := stacks.Place(cfg), cfg.Preflight.DataPath
		var hosts []string
		for _, h := range cfg.Hosts {
			hosts = append(hosts, h.Name)
		}
		require.NotEmpty(t, hosts)
		res := harness.Run(t, s)
		for _, h := range hosts {
			step := res.Named("command:remote:Command", h+"-prepare-exporters")
			require.NotNil(t, step, "%s/%s has no exporters step", name, h)
			script := harness.Str(step.Inputs, "stdin")
			assert.Contains(t, script, "\nEnvironment=CERT_ROOT="+dataPath+"\n", "%s/%s", name, h)
			es, ls := place.Services[stacks.Elasticsearch] == h, place.Services[stacks.Logstash] == h
			assert.Equal(t, es, strings.Contains(script, "\nEnvironment=ES_CONTAINER=elasticsearch\nEnvironment=ES_URL=https://localhost:9200\nEnvironment=ES_CA=/run/elasticsearch/config/certs/ca.crt\nEnvironment=ES_PASSWORD_FILE=/run/secrets/elastic-password\n"), "%s/%s asks Elasticsearch", name, h)
			assert.Equal(t, ls, strings.Contains(script, "\nEnvironment=LOGSTASH_CONTAINER=logstash\nEnvironment=LOGSTASH_API=http://127.0.0.1:9600\n"), "%s/%s asks Logstash", name, h)
		}
	}
}
