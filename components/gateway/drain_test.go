package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
)

func TestDrainMarksOnlyTheHostsServersDown(t *testing.T) {
	v := sampleValues(90, 10)
	undrained := render(t, v)
	assert.NotContains(t, undrained, " down;")

	v.Down = []string{"aurigraph-v11-blue-slim-2:9003", "aurigraph-v11-blue-slim-2:9004"}
	drained := render(t, v)
	var downs []string
	for _, line := range strings.Split(drained, "\n") {
		if strings.HasSuffix(line, " down;") {
			downs = append(downs, strings.Fields(line)[1])
		}
	}
	assert.Equal(t, v.Down, downs, "exactly the drained servers, each once")
	assert.Contains(t, drained, "server aurigraph-v11-blue-slim-2:9003 max_fails=3 fail_timeout=10s resolve down;")
	// Everything else is the configuration `pulumi up` installed.
	assert.Equal(t, undrained, strings.ReplaceAll(drained, " down;", ";"))
}

func TestDrainNeverEmptiesASlotWithTraffic(t *testing.T) {
	v := sampleValues(100, 0)
	for _, s := range v.Slots {
		if s.Name == "app_blue" {
			v.Down = append(append([]string{}, s.HTTP...), s.GRPC...)
		}
	}
	_, err := Render(v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "leaves upstream app_blue (weight 100) with no server")
	assert.Contains(t, err.Error(), "leaves upstream app_blue_grpc (weight 100) with no server")

	// A slot without traffic may lose every server.
	v = sampleValues(100, 0)
	v.Down = append(append([]string{}, v.Slots[1].HTTP...), v.Slots[1].GRPC...)
	_, err = Render(v)
	assert.NoError(t, err)

	v.Down = []string{"postgres:5432"}
	_, err = Render(v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `drained server "postgres:5432" is not an upstream server`)
}

func TestDrainInstallsThroughTheValidatedSwap(t *testing.T) {
	script, err := InstallConfScript("/srv/aurigraph/nginx", "/srv/aurigraph/.staging/"+DrainStagedName, "/srv/aurigraph/.staging/reboot-drain.candidate")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(script, "IMAGE=$(docker inspect --format '{{.Config.Image}}' nginx)\n"))
	assert.Equal(t, []configfile.Install{{From: "/srv/aurigraph/.staging/" + DrainStagedName, To: "/srv/aurigraph/nginx/conf/nginx.conf"}}, configfile.Installs(script))
	assert.Contains(t, script, "prepare '/srv/aurigraph/.staging/reboot-drain-nginx.conf' '/srv/aurigraph/nginx/conf/nginx.conf' '0640' '101' '101'")
	// nginx -t before the swap, the graceful reload after it.
	validate, swap, reload := strings.Index(script, "VALIDATE="), strings.Index(script, "# 2. Swap"), strings.Index(script, " -s reload")
	assert.True(t, validate > 0 && validate < swap && swap < reload, script)
	// The readiness gate's marks are left out of the hash (run for real in
	// TestIntegrationReadinessGateStopsRoutingToUnreadyReplica).
	assert.Equal(t, "SUDO=\"\"; [ \"$(id -u)\" -eq 0 ] || SUDO=\"sudo -n\"; $SUDO cat '/srv/aurigraph/nginx/conf/nginx.conf' | sed 's/ down;"+GateMark+"$/;/' | sha256sum | cut -d' ' -f1", LiveConfHashCommand("/srv/aurigraph/nginx"))
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ConfHash(""))
}
