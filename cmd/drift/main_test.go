package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The command as the workflow runs it: exit 0 on a clean night, 1 on
// drift or a failed command (the workflow fails on it), 2 on misuse.
func TestExitStatus(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "drift")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	fixture := func(name string) string { return filepath.Join("..", "..", "internal", "drift", "testdata", name) }
	missing := filepath.Join(t.TempDir(), "absent.json")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-stack", "prod", "-refresh", fixture("refresh-clean.json"), "-preview", fixture("preview-clean.json")}, 0, "## No drift in stack `prod`"},
		{[]string{"-stack", "prod", "-refresh", fixture("refresh-drift.json"), "-preview", fixture("preview-clean.json")}, 1, "changed outside Pulumi"},
		{[]string{"-stack", "prod", "-refresh", fixture("refresh-clean.json"), "-preview", fixture("preview-clean.json"), "-preview-exit", "255"}, 1, "pulumi preview failed (exit 255)"},
		{[]string{"-stack", "prod", "-refresh", missing, "-refresh-exit", "1", "-preview", fixture("preview-clean.json")}, 1, "pulumi refresh printed no result"},
		{[]string{"-stack", "prod"}, 2, ""},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, c.code, code, "%v", c.args)
		assert.Contains(t, string(out), c.says, "%v", c.args)
	}
}
