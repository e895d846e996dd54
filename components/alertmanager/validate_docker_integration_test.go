//go:build integration

package alertmanager

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
)

// TestIntegrationValidateCommandRunsAmtoolInTheImage runs the production
// ValidateCommand through the checked secret step: amtool in a throw-away
// container as the server's user (uid 65534), the candidate mounted at
// /etc/alertmanager, the file owned by that user with mode 0600 as it will
// be live. A refused file leaves the live one; no credential is printed.
func TestIntegrationValidateCommandRunsAmtoolInTheImage(t *testing.T) {
	image := scripttest.Import(t, scripttest.Image{
		Name: "aurigraph-swap-test/amtool", Binary: amtool(t), At: "/bin/amtool", Path: "/bin",
		Dirs: []string{"etc/alertmanager", "tmp"},
	})
	root := t.TempDir()
	dir, staging := ConfigDir(filepath.Join(root, "alertmanager")), filepath.Join(root, ".staging")
	require.NoError(t, os.MkdirAll(dir, 0o750))
	require.NoError(t, os.MkdirAll(staging, 0o755))
	live := filepath.Join(dir, configFile)
	script, err := configfile.WriteCheckedSecretsScript(
		[]configfile.SecretFile{{Path: live, Owner: "65534:65534", Mode: "0600"}},
		&configfile.Check{Dir: dir, Command: ValidateCommand, Candidate: filepath.Join(staging, "alertmanager-config.candidate")}, "", "")
	require.NoError(t, err)
	script = "IMAGE=" + shell.Quote(image) + "\n" + script // as configfile.NewSecrets prefixes it
	step := func(content string) (string, error) {
		f := filepath.Join(root, "stdin")
		require.NoError(t, os.WriteFile(f, []byte(configfile.SecretsStdin([]string{content})), 0o600))
		_, stderr, err := scripttest.RunBash(t, "exec < "+shell.Quote(f)+"\n"+script, "")
		return stderr, err
	}

	good, err := RenderConfig(allReceivers())
	require.NoError(t, err)
	stderr, err := step(good)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "Checking '/etc/alertmanager/alertmanager.yml'  SUCCESS")
	got, err := os.ReadFile(live)
	require.NoError(t, err)
	assert.Equal(t, good, string(got))

	bad := allReceivers()
	bad.Webhook.URL = "hooks.example.com/T0KEN-without-a-scheme"
	badText, err := RenderConfig(bad)
	require.NoError(t, err, "the renderer cannot see the secret URL's shape: amtool does")
	stderr, err = step(badText)
	require.Error(t, err)
	assert.Contains(t, stderr, "failed validation")
	for _, cred := range []string{"T0KEN-without-a-scheme", smtpPassword, routingKey, opsgenieKey} {
		assert.NotContains(t, stderr, cred, "the refusal prints no credential")
	}
	got, err = os.ReadFile(live)
	require.NoError(t, err)
	assert.Equal(t, good, string(got), "unchanged")
	leftovers, _ := filepath.Glob(filepath.Join(staging, "alertmanager-config.candidate*"))
	assert.Empty(t, leftovers, "the candidate directory (credentials inside) is removed")
	leftovers, _ = filepath.Glob(live + ".*")
	assert.Empty(t, leftovers)
}
