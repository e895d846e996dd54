package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGatePairsEachReplicaWithItsGRPCServer(t *testing.T) {
	slots := []Slot{
		{Name: "app_blue", Weight: 100, HTTP: []string{"b-2:9003", "b-1:9003"}, GRPC: []string{"b-1:9004", "b-2:9004"}},
		{Name: "app_green", Route: "green", Weight: 0, HTTP: []string{"g-1:9003"}},
	}
	assert.Equal(t, []string{"b-1:9003,b-1:9004,app_blue", "b-2:9003,b-2:9004,app_blue", "g-1:9003,-,green"}, gateReplicas(slots), "the slot: its route, else its upstream")
}

func TestProductionGateProbesInsideNginxAndInstallsATimer(t *testing.T) {
	v := ProductionGate(Values{Slots: []Slot{{Name: "app_blue", Weight: 100, HTTP: []string{"a-1:9003"}, GRPC: []string{"a-1:9004"}}}}, "/srv/aurigraph/nginx")
	script, err := RenderGate(v)
	require.NoError(t, err)
	for _, want := range []string{
		"\nCONF='/srv/aurigraph/nginx/conf/nginx.conf'\n", "\nDOCKER_EXEC='docker exec nginx'\n",
		"\nNGINX='docker exec nginx nginx -c /etc/nginx/aurigraph/conf/nginx.conf'\n",
		"\nTIMEOUT=5\nRETRIES=3\nREADY_PATH='/q/health/ready'\nMARK=' # unready'\n",
		"\nREPLICAS='a-1:9003,a-1:9004,app_blue'\n",
	} {
		assert.Contains(t, script, want)
	}
	install, err := RenderGateInstall(v)
	require.NoError(t, err)
	assert.Contains(t, install, "\n"+strings.TrimRight(script, "\n")+"\nAURIGRAPH_EOF\n", "the script travels verbatim")
	assert.Contains(t, install, "[Timer]\nOnBootSec=1min\nOnUnitActiveSec=10s\nAccuracySec=1s\n")
	assert.Contains(t, install, "systemctl enable --now 'aurigraph-readiness-gate.timer'")
}

func TestGateRefusesUnsafeValues(t *testing.T) {
	v := ProductionGate(Values{Slots: []Slot{{Name: "app_blue", Weight: 100, HTTP: []string{"a-1:9003;reboot"}}}}, "/srv/aurigraph/nginx")
	v.Nginx, v.Retries = "nginx; rm -rf /", 0
	_, err := RenderGate(v)
	require.Error(t, err)
	for _, want := range []string{`server "a-1:9003;reboot" is not host:port`, "unsafe characters", "0 retries"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = RenderGate(ProductionGate(Values{}, "/srv/aurigraph/nginx"))
	assert.ErrorContains(t, err, "no replica to probe")
}
