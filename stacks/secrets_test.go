package stacks

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
)

// NeededSecrets (what `make plan` lists and plans with placeholders) names
// exactly the secrets validation refuses to go without, feature by feature.
func TestNeededSecretsAreTheOnesValidationRequires(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	s, err := stackfile.Load(filepath.Dir(filepath.Dir(file)), "prod")
	require.NoError(t, err)
	email := func(user string) *EmailReceiver {
		return &EmailReceiver{To: []string{"oncall@example.com"}, From: "am@example.com", Smarthost: "smtp.example.com:587", Username: user}
	}
	for name, c := range map[string]struct {
		set  func(*Config)
		more []string
	}{
		"nothing on":           {func(c *Config) {}, nil},
		"operator certificate": {func(c *Config) { c.PKI.OperatorCertificate = true }, OperatorCertificateSecrets},
		"webhook":              {func(c *Config) { c.Alerting.Webhook = &WebhookReceiver{} }, []string{SecretAlertWebhookURL}},
		"email, no user":       {func(c *Config) { c.Alerting.Email = email("") }, nil},
		"email with a user":    {func(c *Config) { c.Alerting.Email = email("alertmanager") }, []string{SecretSMTPPassword}},
		"pagerduty":            {func(c *Config) { c.Alerting.PagerDuty = &PagerDutyReceiver{} }, []string{SecretPagerDutyRoutingKey}},
		"opsgenie":             {func(c *Config) { c.Alerting.Opsgenie = &OpsgenieReceiver{} }, []string{SecretOpsgenieAPIKey}},
		"object store": {func(c *Config) {
			c.BackupObjectStore = BackupObjectStore{Endpoint: "https://s3.example.net", Bucket: "aurigraph-backups"}
		}, append([]string{SecretBackupRepositoryPassword}, BackupObjectStoreSecrets...)},
	} {
		cfg, raw := prodConfig(t, s)
		c.set(cfg)
		want := append(append([]string{}, RequiredSecrets...), c.more...)
		assert.ElementsMatch(t, want, NeededSecrets(cfg), name)

		// Without the feature's secrets validation names each of them ...
		var refused []string
		for _, p := range Validate(cfg, raw) {
			refused = append(refused, p.Key)
		}
		assert.ElementsMatch(t, c.more, refused, name)
		// ... with them, nothing.
		for _, k := range c.more {
			raw[k] = "a-strong-" + k + "-value"
		}
		assert.Empty(t, Validate(cfg, raw), name)

		// The same from the stack's values as the plan reads them.
		values := map[string]string{}
		for key, v := range map[string]any{"pki": cfg.PKI, "alerting": cfg.Alerting, "backupObjectStore": cfg.BackupObjectStore} {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			values[Namespace+":"+key] = string(b)
		}
		assert.Equal(t, NeededSecrets(cfg), NeededSecretsIn(values), name)
	}
	assert.Equal(t, RequiredSecrets, NeededSecretsIn(map[string]string{Namespace + ":alerting": `{"pagerduty": 1}`}),
		"a value that does not decode turns nothing on (validation reports it)")
}
