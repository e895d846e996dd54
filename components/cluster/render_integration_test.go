//go:build integration

package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationSwarmScriptsPassShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatalf("shellcheck is required (apt-get install shellcheck): %v", err)
	}
	init, err := RenderInit(SwarmValues{Host: "h1", Address: "192.0.2.10"})
	require.NoError(t, err)
	join, err := RenderJoin(SwarmValues{Host: "h2", Address: "2001:db8::2", Manager: "192.0.2.10:2377", Token: "SWMTKN-1-x"})
	require.NoError(t, err)
	labels, err := RenderLabels(SwarmValues{Host: "h1", Nodes: []Node{{ID: "a", Name: "h1", Roles: []string{"manager"}}, {ID: "", Name: "h2", Roles: []string{"app", "data"}}}})
	require.NoError(t, err)
	dir := t.TempDir()
	var paths []string
	for name, s := range map[string]string{"init.sh": init, "join.sh": join, "labels.sh": labels} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		paths = append(paths, p)
	}
	out, err := exec.Command(shellcheck, append([]string{"-s", "bash"}, paths...)...).CombinedOutput()
	assert.NoError(t, err, string(out))
}
