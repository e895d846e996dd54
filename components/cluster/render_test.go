package cluster

import (
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
	assert.Contains(t, join, "token=SWMTKN-1-abc\nAURIGRAPH_TOKEN")
	assert.Contains(t, join, `docker swarm join --token "$token"`, "the token never appears on a command line")
	assert.Contains(t, join, "'192.0.2.10:2377'")
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
