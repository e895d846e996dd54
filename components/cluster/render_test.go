package cluster

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderSwarmScripts(t *testing.T) {
	init, err := RenderInit(SwarmValues{Host: "prod-edge-01", Address: "192.0.2.10"})
	require.NoError(t, err)
	assert.Contains(t, init, "docker swarm init --advertise-addr '192.0.2.10' --listen-addr '192.0.2.10:2377' --data-path-addr '192.0.2.10'")
	assert.Contains(t, init, "docker info --format '{{.Swarm.LocalNodeState}}'", "idempotent: an active node is left alone")

	join, err := RenderJoin(SwarmValues{Host: "prod-app-01", Address: "192.0.2.41", Manager: "192.0.2.10:2377", Token: "SWMTKN-1-abc"})
	require.NoError(t, err)
	assert.Contains(t, join, `"JoinToken":"SWMTKN-1-abc"`)
	assert.Contains(t, join, `"RemoteAddrs":["192.0.2.10:2377"]`)
	_, err = RenderJoin(SwarmValues{Host: "x", Token: "bad'; rm -rf /"})
	assert.Error(t, err)

	labels, err := RenderLabels(SwarmValues{Host: "prod-edge-01", Nodes: []Node{{ID: "n1", Name: "prod-edge-01", Roles: []string{"manager", "edge"}}}})
	require.NoError(t, err)
	assert.Contains(t, labels, "label 'n1' aurigraph.host 'prod-edge-01'")
	assert.Contains(t, labels, "label 'n1' 'aurigraph.role.edge' true")
	again, _ := RenderLabels(SwarmValues{Host: "prod-edge-01", Nodes: []Node{{ID: "n1", Name: "prod-edge-01", Roles: []string{"manager", "edge"}}}})
	assert.Equal(t, labels, again)
}

func TestNodeID(t *testing.T) {
	assert.Equal(t, "abc123", NodeID("  swarm state pending\nstep=swarm-join changed=yes node-id=abc123\n"))
	assert.Equal(t, "", NodeID(""))
}

// The join runs for real with docker and curl replaced by recorders: the
// token reaches the Engine API in the request body, never any argv.
func TestJoinKeepsTheTokenOffEveryCommandLine(t *testing.T) {
	const token = "SWMTKN-1-0123456789abcdef-secretpart"
	join, err := RenderJoin(SwarmValues{Host: "prod-app-01", Address: "192.0.2.41", Manager: "192.0.2.10:2377", Token: token})
	require.NoError(t, err)
	bin, logs := t.TempDir(), t.TempDir()
	// Only curl reads its stdin: the script itself is bash's stdin.
	recorder := func(name, answer string) {
		script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + logs + "/argv\n" + answer + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	recorder("docker", `case "$*" in *LocalNodeState*) [ -e `+logs+`/joined ] && echo active || echo inactive ;; *NodeID*) echo node1 ;; esac`)
	recorder("curl", "cat > "+logs+"/curl.stdin; touch "+logs+"/joined; echo '{}'")
	cmd := exec.Command("bash", "-s")
	cmd.Stdin = strings.NewReader(join)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "step=swarm-join changed=yes node-id=node1")
	argv, err := os.ReadFile(filepath.Join(logs, "argv"))
	require.NoError(t, err)
	assert.NotContains(t, string(argv), "secretpart", "no argv holds the token")
	assert.NotContains(t, string(out), "secretpart", "nor the output")
	body, err := os.ReadFile(filepath.Join(logs, "curl.stdin"))
	require.NoError(t, err)
	var req struct{ JoinToken, AdvertiseAddr string }
	require.NoError(t, json.Unmarshal(body, &req))
	assert.Equal(t, token, req.JoinToken)
	assert.Equal(t, "192.0.2.41", req.AdvertiseAddr)
}
