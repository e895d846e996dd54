package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// Kibana's data view step runs on Kibana's host once its container is
// healthy, as the elastic superuser whose password is secret end to end,
// in a normal run and in a first preview of both stacks.
func TestKibanaDataViewStepRunsAfterKibanaWithASecretPassword(t *testing.T) {
	const password = "Distinct-elastic-Value-5c3b"
	for _, stack := range engineStacks {
		for _, preview := range []bool{false, true} {
			name := stack
			if preview {
				name += "/preview"
			}
			t.Run(name, func(t *testing.T) {
				s := harness.Stack(t, stack).SetSecret(stacks.SecretElasticPassword, password)
				res := harness.Run(t, s)
				if preview {
					res = harness.Preview(t, s)
				}
				step := res.Named("command:remote:Command", kibana.Name+"-data-views")
				require.NotNil(t, step, "Kibana's data view step")
				c, ok := harness.Containers(res)[kibana.Name]
				require.True(t, ok, "the Kibana container")
				assert.True(t, harness.Closure(res, step.URN)[c.URN], "the step waits for the (healthy) Kibana container")
				require.NotEmpty(t, harness.Host(res, c))
				assert.Equal(t, harness.Host(res, c), harness.Host(res, *step), "it runs on Kibana's host")
				setup := res.Named("command:remote:Command", elasticsearch.Name+"-setup")
				require.NotNil(t, setup)
				assert.True(t, harness.Closure(res, c.URN)[setup.URN], "Kibana starts after the Elasticsearch setup")

				assert.Empty(t, harness.PlaintextContaining(res, password), "the elastic password leaks in plain text")
				assert.True(t, step.Inputs["stdin"].ContainsSecrets(), "the password arrives on a secret stdin")
				assert.Equal(t, "none", harness.Str(step.Inputs, "logging"), "nothing the step prints is logged")
				assert.False(t, step.Inputs["triggers"].ContainsSecrets(), "no secret in triggers")
				create := harness.Str(step.Inputs, "create")
				require.NotEmpty(t, create, "the script is known, in a preview too")
				triggers := harness.Elements(step.Inputs["triggers"])
				require.Len(t, triggers, 1)
				sum := sha256.Sum256([]byte(create))
				assert.Equal(t, hex.EncodeToString(sum[:]), harness.Plain(triggers[0]).StringValue(), "the script's hash: a change rewrites the views")
				assert.NotContains(t, create, password)
				assert.Contains(t, create, `"title":"`+elasticsearch.IndexPattern+`"`)
			})
		}
	}
}
