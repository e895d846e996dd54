//go:build integration

package tests

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// actionlint is pinned in tools/go.mod (make lint builds the same one), so
// CI and a laptop check the workflows with the same rules.
const actionlint = "github.com/rhysd/actionlint/cmd/actionlint"

// Every workflow passes actionlint, with shellcheck over its run: scripts
// (actionlint finds shellcheck on PATH; .ci/install-deps installs it).
func TestIntegrationWorkflowsPassActionlint(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: actionlint checks the run: scripts with it")
	workflows, err := filepath.Glob(filepath.Join("..", ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, workflows)
	assert.Contains(t, workflows, filepath.Join("..", ".github", "workflows", "drift.yml"))
	assert.Contains(t, workflows, filepath.Join("..", ".github", "workflows", "release.yml"))

	args := []string{"run", actionlint, "-no-color"}
	for _, w := range workflows {
		args = append(args, filepath.ToSlash(filepath.Join("..", ".github", "workflows", filepath.Base(w))))
	}
	// Run in the tools module: its go.mod holds the version.
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join("..", "tools")
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "actionlint:\n%s", out)
}
