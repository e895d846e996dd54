//go:build integration

package prometheus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// promtool returns the path of the real promtool, failing (never skipping)
// when it is missing.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is required for the integration tests: apt-get install prometheus")
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %v:\n%s", args, out)
	return string(out)
}

// renderInto writes prometheus.yml, the rules and a CA file into dir, with
// the paths pointing into dir so promtool resolves them.
func renderInto(t *testing.T, dir string, v ConfigValues) string {
	t.Helper()
	v.RulesFile = filepath.Join(dir, "alerts.yml")
	v.VaultCAFile = filepath.Join(dir, "vault-ca.pem")
	cfg, err := RenderConfig(v)
	require.NoError(t, err)
	rules, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(v.RulesFile, []byte(rules), 0o644))
	require.NoError(t, os.WriteFile(v.VaultCAFile, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o644))
	path := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path
}

func TestIntegrationPromtoolCheckConfig(t *testing.T) {
	for _, n := range []int{0, 5, 25} {
		dir := t.TempDir()
		path := renderInto(t, dir, sampleValues(n))
		out := runPromtool(t, dir, "check", "config", path)
		require.Contains(t, out, "SUCCESS")
	}
}

func TestIntegrationPromtoolCheckRules(t *testing.T) {
	dir := t.TempDir()
	rules, err := RenderRules(RulesValues{PoolMaxSize: 20})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644))
	out := runPromtool(t, dir, "check", "rules", "alerts.yml")
	require.Contains(t, out, fmt.Sprintf("SUCCESS: %d rules found", len(alertNames(t, rules))))
}

// TestIntegrationPromtoolTestRules runs testdata/alerts_test.yml: every SPEC
// alert fires above its threshold and stays silent below it.
func TestIntegrationPromtoolTestRules(t *testing.T) {
	dir := t.TempDir()
	rules, err := RenderRules(RulesValues{PoolMaxSize: 30}) // the test series assume a pool of 30
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644))
	tests, err := os.ReadFile("testdata/alerts_test.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o644))
	out := runPromtool(t, dir, "test", "rules", "alerts_test.yml")
	require.Contains(t, out, "SUCCESS")
}

// TestIntegrationPromtoolTestRebootRule runs testdata/reboot_test.yml: every
// host waiting over an hour for a reboot has its own HostRebootRequired.
func TestIntegrationPromtoolTestRebootRule(t *testing.T) {
	dir := t.TempDir()
	rules, err := RenderRules(RulesValues{PoolMaxSize: 30})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644))
	tests, err := os.ReadFile("testdata/reboot_test.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "reboot_test.yml"), tests, 0o644))
	out := runPromtool(t, dir, "test", "rules", "reboot_test.yml")
	require.Contains(t, out, "SUCCESS")
}
