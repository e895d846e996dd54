package tests

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// everyReceiver configures all four receivers on a stack, each with a
// distinct secret value, and returns those values by key.
func everyReceiver(t *testing.T, stack string, preview bool) (*mockrun.Result, map[string]string) {
	t.Helper()
	s := harness.Stack(t, stack).Set("alerting",
		`{"webhook":{},"pagerduty":{},"opsgenie":{"apiUrl":"https://api.eu.opsgenie.com/"},"email":{"to":["oncall@example.com"],"from":"am@example.com","smarthost":"smtp.example.com:587","username":"am"}}`)
	values := map[string]string{}
	for _, k := range stacks.AlertingSecrets {
		values[k] = fmt.Sprintf("Distinct-%s-Value-41ab", k)
		if k == stacks.SecretAlertWebhookURL {
			values[k] = "https://hooks.example.com/" + values[k]
		}
		s = s.SetSecret(k, values[k])
	}
	if preview {
		return harness.Preview(t, s), values
	}
	return harness.Run(t, s), values
}

// alertmanagerFile is the configuration the secret step writes on the host.
func alertmanagerFile(t *testing.T, res *mockrun.Result) (string, harness.Write) {
	t.Helper()
	for _, w := range harness.Writes(res) {
		if w.Path == "/srv/aurigraph/alertmanager/config/alertmanager.yml" {
			return w.Content, w
		}
	}
	require.Fail(t, "no step writes alertmanager.yml")
	return "", harness.Write{}
}

func TestAlertReceiverCredentialsStaySecret(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			preview, values := everyReceiver(t, stack, true)
			for key, v := range values {
				assert.Empty(t, harness.PlaintextContaining(preview, v), "%s leaks in plain text in a preview", key)
			}
			res, values := everyReceiver(t, stack, false)
			for key, v := range values {
				assert.Empty(t, harness.PlaintextContaining(res, v), "%s leaks in plain text", key)
			}
			content, w := alertmanagerFile(t, res)
			step := res.ByURN(w.URN)
			require.NotNil(t, step)
			assert.True(t, step.Inputs["stdin"].IsSecret(), "the file travels as a secret")
			if tr, ok := step.Inputs["triggers"]; ok {
				assert.False(t, tr.ContainsSecrets(), "no secret in triggers")
			}
			for key, v := range values {
				assert.Contains(t, content, v, "%s reaches the host's file", key)
			}
			prom := harness.Containers(res)[stacks.Prometheus]
			assert.Equal(t, harness.Host(res, prom), w.Host, "beside Prometheus, on the monitoring host")
		})
	}
}

// The committed prod stack: Alertmanager on the monitoring host, its UI
// behind the gateway, Prometheus sending to it, e-mail as the receiver.
func TestProdAlertsReachAReceiver(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	content, w := alertmanagerFile(t, res)
	assert.Equal(t, "198.51.100.30", w.Host, "prod-obs-01, the monitoring host")
	var cfg struct {
		Receivers []map[string]any `yaml:"receivers"`
		Global    map[string]any   `yaml:"global"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(content), &cfg))
	for _, r := range cfg.Receivers {
		assert.Contains(t, r, "email_configs", "receiver %v sends e-mail", r["name"])
	}
	assert.Equal(t, "smtp.ops.aurigraph.example.com:587", cfg.Global["smtp_smarthost"])

	am := harness.Containers(res)[alertmanager.ContainerName]
	require.NotNil(t, am.Inputs, "an alertmanager container")
	prom := harness.Containers(res)[stacks.Prometheus]
	assert.Contains(t, prom.DependsOn, am.URN, "Prometheus waits for the Alertmanager it sends to")
	assert.Contains(t, configFile(t, res, "/prometheus.yml"), "targets: [\""+alertmanager.Address()+"\"]")

	nginx := configFile(t, res, "/nginx.conf")
	assert.Contains(t, nginx, "alertmanager.ops.aurigraph.example.com")
	assert.Contains(t, nginx, alertmanager.URL())
}
