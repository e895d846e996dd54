//go:build integration

package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rendered directories script passes shellcheck, creates data/ and
// logs/ owned by the image's user, and is idempotent: a second run keeps
// what the replica wrote.
func TestIntegrationDirsScript(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required (apt-get install shellcheck)")
	require.Equal(t, 0, os.Geteuid(), "this test creates directories owned by uid %d: run it as root (CI does)", UID)

	dir := filepath.Join(t.TempDir(), "aurigraph-v11", "aurigraph-v11-blue-slim-1")
	script, err := RenderDirsScript(DirsValues{Replica: "aurigraph-v11-blue-slim-1", Dir: dir, UID: UID})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "dirs.sh")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))

	out, err := exec.Command(shellcheck, "-s", "sh", file).CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)

	for i := 0; i < 2; i++ {
		out, err := exec.Command("sh", file).CombinedOutput()
		require.NoError(t, err, "run %d:\n%s", i+1, out)
		for _, d := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "logs")} {
			st, err := os.Stat(d)
			require.NoError(t, err)
			assert.True(t, st.IsDir())
			assert.Equal(t, os.FileMode(0o750), st.Mode().Perm(), d)
			sys := st.Sys().(*syscall.Stat_t)
			assert.Equal(t, uint32(UID), sys.Uid, d)
			assert.Equal(t, uint32(UID), sys.Gid, d)
		}
		if i == 0 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "ledger"), []byte("blocks"), 0o600))
		}
	}
	kept, err := os.ReadFile(filepath.Join(dir, "data", "ledger"))
	require.NoError(t, err)
	assert.Equal(t, "blocks", string(kept))
}
