package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRebootState(t *testing.T) {
	s, err := ParseRebootState("boot=0b6f-17\nrequired=yes\ncontainer=redis\ncontainer=aurigraph-v11-blue-slim-1\n")
	require.NoError(t, err)
	assert.Equal(t, RebootState{Boot: "0b6f-17", Required: true, Containers: []string{"redis", "aurigraph-v11-blue-slim-1"}}, s)
	s, err = ParseRebootState("boot=0b6f-17\nrequired=no\n")
	require.NoError(t, err)
	assert.False(t, s.Required)
	assert.Empty(t, s.Containers)

	for _, bad := range []string{"", "required=no\n", "boot=x\n", "boot=x\nrequired=no\ncontainer=$(id)\n"} {
		_, err := ParseRebootState(bad)
		assert.Error(t, err, bad)
	}
}

func TestRebootWaitWaitsForTheRecordedContainers(t *testing.T) {
	script, err := RenderRebootWait(RebootWaitValues{Host: "prod-app-01", Containers: []string{"redis", "aurigraph-v11-blue-slim-1"}})
	require.NoError(t, err)
	assert.Contains(t, script, "DOCKER_WAIT_SECONDS=${DOCKER_WAIT_SECONDS:-600}\nWAIT_AFTER=\"the reboot\"\n")
	assert.Contains(t, script, "\nwait_containers 'redis' 'aurigraph-v11-blue-slim-1'\n")
	assert.Contains(t, script, "wait_containers() {")

	_, err = RenderRebootWait(RebootWaitValues{Host: "prod-app-01", Containers: []string{"x; reboot"}})
	assert.Error(t, err)
	_, err = RenderRebootWait(RebootWaitValues{Host: "prod app"})
	assert.Error(t, err)
}
