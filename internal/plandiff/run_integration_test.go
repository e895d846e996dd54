//go:build integration

package plandiff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyRepo copies the project's tracked and untracked (not ignored) files
// into a fresh git repository with two commits: the first without cmd/plan
// (a base that predates the plan), the second with everything.
func copyRepo(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../..")
	require.NoError(t, err)
	files := run(t, src, "git", "ls-files", "-z", "-co", "--exclude-standard")
	dst := filepath.Join(t.TempDir(), "repo")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(src, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dst, f), data, 0o644))
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A", ".", ":!cmd/plan"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "before the plan"},
		{"add", "-A", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "with the plan"},
	} {
		run(t, dst, "git", args...)
	}
	return dst
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("%s %v: %v\n%s", name, args, err, ee.Stderr)
	}
	require.NoError(t, err, "%s %v", name, args)
	return string(out)
}

func TestIntegrationPlanDiffAgainstAWorktree(t *testing.T) {
	_, err := exec.LookPath("git")
	require.NoError(t, err, "git is required")
	_, err = exec.LookPath("go")
	require.NoError(t, err, "the go tool is required (the base is planned with go run)")
	repo := copyRepo(t)
	// No wall-clock deadline: how long the base's build takes depends on
	// the machine's load, not on the code under test (go test -timeout
	// bounds a hung run).
	ctx := t.Context()
	var stderr strings.Builder
	opts := Options{Dir: repo, Base: "HEAD", Stack: "staging", Stderr: &stderr}

	// Same commit, clean tree: nothing changes.
	d, err := Run(ctx, opts)
	require.NoError(t, err, stderr.String())
	assert.True(t, d.Empty(), "HEAD vs its own clean tree")
	assert.Greater(t, d.BaseResources, 0)

	// Move one host: its Docker provider's endpoint changes.
	file := filepath.Join(repo, "Pulumi.staging.yaml")
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	const from, to = "address: 203.0.113.21\n", "address: 203.0.113.121\n"
	require.Contains(t, string(raw), from)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(raw), from, to, 1)), 0o644))
	d, err = Run(ctx, opts)
	require.NoError(t, err, stderr.String())
	assert.Greater(t, d.Changed, 0)
	var out strings.Builder
	require.NoError(t, d.Write(&out))
	t.Logf("diff:\n%s", out.String())
	assert.Contains(t, out.String(), "203.0.113.21")
	assert.Contains(t, out.String(), "203.0.113.121")
	assert.Contains(t, out.String(), "→")

	// A base from before cmd/plan is refused clearly.
	_, err = Run(ctx, Options{Dir: repo, Base: "HEAD~1", Stack: "staging", Stderr: &stderr})
	require.ErrorIs(t, err, ErrNoPlanInBase)
	assert.Contains(t, err.Error(), "HEAD~1")

	// Every temporary worktree is gone.
	list := run(t, repo, "git", "worktree", "list", "--porcelain")
	assert.Equal(t, 1, strings.Count(list, "worktree "), list)
}
