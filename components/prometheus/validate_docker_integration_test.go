//go:build integration

package prometheus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
)

// TestIntegrationValidateCommandRunsPromtoolInTheImage runs the production
// ValidateCommand through the configfile step: promtool in a throw-away
// container, the candidate mounted at /etc/prometheus, checks the files at
// their production paths. (promtool 2.42 does not open the Vault CA file the
// configuration names; the candidate carries it anyway, for versions that do.)
func TestIntegrationValidateCommandRunsPromtoolInTheImage(t *testing.T) {
	image := scripttest.Import(t, scripttest.Image{
		Name: "aurigraph-swap-test/promtool", Binary: promtool(t), At: "/bin/promtool", Path: "/bin",
		Dirs: []string{"etc/prometheus"},
	})
	root := t.TempDir()
	dir, staging := ConfigDir(filepath.Join(root, "prometheus")), filepath.Join(root, ".staging")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.MkdirAll(staging, 0o755))
	// The Vault CA is written by its own secret step, beside the files.
	ca := filepath.Join(dir, vaultCAFile)
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(root, "ca.key"), "-out", ca, "-subj", "/CN=test CA", "-days", "1").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.Chmod(ca, 0o644))

	v := sampleValues(2) // production paths: /etc/prometheus/alerts.yml, /etc/prometheus/vault-ca.pem
	conf, err := RenderConfig(v)
	require.NoError(t, err)
	rules, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	confPath, rulesPath := filepath.Join(dir, configFile), filepath.Join(dir, rulesFile)
	stagedConf, stagedRules := filepath.Join(staging, "c"), filepath.Join(staging, "r")
	script, err := configfile.InstallScript([]configfile.Staged{
		{File: configfile.File{Path: confPath}, From: stagedConf},
		{File: configfile.File{Path: rulesPath}, From: stagedRules},
	}, &configfile.Check{Dir: dir, Command: ValidateCommand, Candidate: filepath.Join(staging, "prometheus-config.candidate")}, "", "")
	require.NoError(t, err)
	script = "IMAGE=" + shell.Quote(image) + "\n" + script // as configfile.New prefixes it
	step := func(c, r string) (string, error) {
		require.NoError(t, os.WriteFile(stagedConf, []byte(c), 0o600))
		require.NoError(t, os.WriteFile(stagedRules, []byte(r), 0o600))
		_, stderr, err := scripttest.RunBash(t, script, "")
		return stderr, err
	}

	stderr, err := step(conf, rules)
	require.NoError(t, err)
	assert.Contains(t, stderr, "SUCCESS: /etc/prometheus/prometheus.yml is valid prometheus config file syntax")
	assert.Contains(t, stderr, fmt.Sprintf("SUCCESS: %d rules found", len(alertNames(t, rules))))
	assert.Equal(t, conf, readAll(t, confPath))
	assert.Equal(t, rules, readAll(t, rulesPath))

	stderr, err = step(conf, rules+"  - name: broken\n    rules:\n      - alert: Broken\n        expr: 'sum(rate(x[5m])'\n")
	require.Error(t, err)
	assert.Contains(t, stderr, "/etc/prometheus/alerts.yml")
	assert.Contains(t, stderr, "unclosed left parenthesis")
	assert.Equal(t, rules, readAll(t, rulesPath), "unchanged")

	leftovers, _ := filepath.Glob(filepath.Join(staging, "prometheus-config.candidate*"))
	assert.Empty(t, leftovers, "the candidate directory is removed")
}
