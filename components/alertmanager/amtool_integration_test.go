//go:build integration

package alertmanager

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
)

// amtool returns the path of the real amtool, failing (never skipping)
// when it is missing.
func amtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("amtool")
	require.NoError(t, err, "amtool is required for the integration tests: apt-get install prometheus-alertmanager")
	return p
}

func writeConfig(t *testing.T, v ConfigValues) string {
	t.Helper()
	out, err := RenderConfig(v)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	return path
}

func TestIntegrationAmtoolAcceptsEveryShape(t *testing.T) {
	noAuth := allReceivers()
	noAuth.Email.Username, noAuth.Email.Password = "", ""
	for name, v := range map[string]ConfigValues{
		"every receiver":                allReceivers(),
		"no receiver":                   {},
		"e-mail without authentication": {Email: noAuth.Email},
		"webhook only, fast timing":     {Webhook: &Webhook{URL: "http://127.0.0.1:9/hook"}, Timing: Timing{GroupWait: "1s", GroupInterval: "1s", RepeatInterval: "1m", CriticalRepeatInterval: "30s"}},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(amtool(t), "check-config", writeConfig(t, v)).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "SUCCESS")
			assert.Contains(t, string(out), " - 2 inhibit rules")
			assert.Contains(t, string(out), " - 2 receivers")
			for _, cred := range []string{webhookURL, smtpPassword, routingKey, opsgenieKey} {
				assert.NotContains(t, string(out), cred, "amtool prints no credential")
			}
		})
	}
}

// amtool's own routing tree says where each severity goes.
func TestIntegrationAmtoolRoutesBySeverity(t *testing.T) {
	path := writeConfig(t, allReceivers())
	for labels, want := range map[string]string{
		"severity=critical":                           CriticalReceiver,
		"severity=warning":                            WarningReceiver,
		"alertname=Unlabelled":                        WarningReceiver,
		"severity=critical condition=high_error_rate": CriticalReceiver,
	} {
		args := append([]string{"config", "routes", "test", "--config.file=" + path}, strings.Fields(labels)...)
		out, err := exec.Command(amtool(t), args...).Output() // stdout: the receiver; a notice goes to stderr
		require.NoError(t, err, "%s", out)
		assert.Equal(t, want, strings.TrimSpace(string(out)), labels)
	}
}

// The secret set's validation with the real amtool on this machine: a
// configuration amtool refuses never replaces the live one; one it accepts
// does, with the secret file's owner and mode.
func TestIntegrationCheckedSecretSetKeepsTheLiveFileOnARefusal(t *testing.T) {
	root := t.TempDir()
	live := filepath.Join(root, "config")
	require.NoError(t, os.MkdirAll(live, 0o750))
	path := filepath.Join(live, "alertmanager.yml")
	good, err := RenderConfig(allReceivers())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("# the live file\n"), 0o600))
	check := &configfile.Check{Dir: live, Candidate: filepath.Join(root, "staging", "am.candidate"),
		Command: amtool(t) + ` check-config "$CANDIDATE"/alertmanager.yml`}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "staging"), 0o755))
	script, err := configfile.WriteCheckedSecretsScript([]configfile.SecretFile{{Path: path, Owner: "65534:65534", Mode: "0600"}}, check, "", "")
	require.NoError(t, err)
	run := func(content string) (string, error) {
		cmd := exec.Command("bash", "-c", script)
		cmd.Stdin = strings.NewReader(configfile.SecretsStdin([]string{content}))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	bad := strings.Replace(good, "receivers:", "receivers:\n  - name: critical", 1) // a duplicate receiver
	out, err := run(bad)
	require.Error(t, err, "%s", out)
	assert.Contains(t, out, "failed validation")
	assert.NotContains(t, out, smtpPassword, "the refusal prints no credential")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# the live file\n", string(got), "the live file is unchanged")

	out, err = run(good)
	require.NoError(t, err, "%s", out)
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, good, string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(root, "staging", "*"))
	require.NoError(t, err)
	assert.Empty(t, left, "the candidate holding the credentials is removed")
	left, err = filepath.Glob(path + ".*")
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file is left beside the live one")
}
