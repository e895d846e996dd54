package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/hosttest"
	"github.com/aurigraph/infra/internal/mockrun"

	"github.com/aurigraph/infra/components/network"
)

const testStaged = "/srv/aurigraph/.staging/nginx-conf-nginx-conf"

func guardScript(t *testing.T, v GuardValues) string {
	t.Helper()
	s, err := RenderGuard(v)
	require.NoError(t, err)
	return s
}

// replicaList is the REPLICAS block of a rendered guard.
func replicaList(t *testing.T, script string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\nREPLICAS='\n(.*?)\n'\n`).FindStringSubmatch(script)
	require.NotNil(t, m, "no REPLICAS block")
	return strings.Split(m[1], "\n")
}

func TestGuardChecksEveryReplicaOfEverySlotWithTraffic(t *testing.T) {
	cases := []struct {
		blue, green int
		want        []string
	}{
		{100, 0, []string{"app_blue=aurigraph-v11-blue-slim-1:9003", "app_blue=aurigraph-v11-blue-slim-2:9003", "app_blue=aurigraph-v11-blue-slim-3:9003"}},
		{95, 5, []string{"app_blue=aurigraph-v11-blue-slim-1:9003", "app_blue=aurigraph-v11-blue-slim-2:9003", "app_blue=aurigraph-v11-blue-slim-3:9003",
			"app_green=aurigraph-v11-green-slim-1:9003", "app_green=aurigraph-v11-green-slim-2:9003"}},
		{0, 100, []string{"app_green=aurigraph-v11-green-slim-1:9003", "app_green=aurigraph-v11-green-slim-2:9003"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/%d", c.blue, c.green), func(t *testing.T) {
			s := guardScript(t, ProductionGuard(sampleValues(c.blue, c.green), "/srv/aurigraph/nginx", testStaged, 0, 0))
			assert.Equal(t, c.want, replicaList(t, s), "REST servers of weighted slots only, never gRPC ports")
			assert.Contains(t, s, fmt.Sprintf("WEIGHTS='app_blue=%d%% app_green=%d%%'", c.blue, c.green))
		})
	}
}

func TestGuardProductionValues(t *testing.T) {
	s := guardScript(t, ProductionGuard(sampleValues(95, 5), "/srv/aurigraph/nginx", testStaged, 0, 0))
	for _, want := range []string{
		"CONF='/srv/aurigraph/nginx/conf/nginx.conf'\n",
		"GOOD='/srv/aurigraph/nginx/conf/nginx.conf.good'\n",
		"STAGED='" + testStaged + "'\n",
		"OWNER='101'\nGROUP='101'\nMODE='0640'\n",
		// Probes from inside nginx, which is on the application network.
		"DOCKER_EXEC='docker exec nginx'\n",
		"NGINX='docker exec nginx nginx -c " + ConfPath + "'\n",
		"ATTEMPTS=6\nINTERVAL=10\nTIMEOUT=5\n",
		"READY_PATH='/q/health/ready'\n",
		`$DOCKER_EXEC wget -q -O /dev/null -T "$TIMEOUT" "http://$1$READY_PATH"`,
	} {
		assert.Contains(t, s, want)
	}
	// The rollback is a file copy and a reload: nothing that recreates or restarts a container.
	for _, never := range []string{"docker run", "docker rm", "docker restart", "docker stop", "docker kill", "docker compose"} {
		assert.NotContains(t, s, never)
	}
	bounded := guardScript(t, ProductionGuard(sampleValues(95, 5), "/srv/aurigraph/nginx", testStaged, 3, 2))
	assert.Contains(t, bounded, "ATTEMPTS=3\nINTERVAL=2\n")
}

func TestGuardRefusesUnsafeValues(t *testing.T) {
	good := ProductionGuard(sampleValues(95, 5), "/srv/aurigraph/nginx", testStaged, 0, 0)
	cases := map[string]func(*GuardValues){
		"quote in command":   func(v *GuardValues) { v.Nginx = "nginx -s reload'; rm -rf /" },
		"relative path":      func(v *GuardValues) { v.GoodPath = "nginx.conf.good" },
		"good is the conf":   func(v *GuardValues) { v.GoodPath = v.ConfPath },
		"no attempt":         func(v *GuardValues) { v.Attempts = 0 },
		"no nginx command":   func(v *GuardValues) { v.Nginx = "" },
		"owner not numeric":  func(v *GuardValues) { v.Owner = "nginx" },
		"server not an addr": func(v *GuardValues) { v.Slots[1].HTTP = []string{"$(reboot):9003"} },
		"no traffic":         func(v *GuardValues) { v.Slots[0].Weight, v.Slots[1].Weight = 0, 0 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			v := good
			v.Slots = append([]Slot{}, good.Slots...)
			change(&v)
			_, err := RenderGuard(v)
			assert.Error(t, err)
			_, err = RenderRecordGood(v)
			assert.Error(t, err)
		})
	}
}

func TestRecordGoodOnlyCopiesTheDeployedFile(t *testing.T) {
	s, err := RenderRecordGood(ProductionGuard(sampleValues(95, 5), "/srv/aurigraph/nginx", testStaged, 0, 0))
	require.NoError(t, err)
	// The live file, without the readiness gate's marks, is the deployed one.
	assert.Contains(t, s, `$SUDO sed 's/ down;`+GateMark+`$/;/' "$CONF" | $SUDO cmp -s "$1" -`)
	assert.Contains(t, s, `if live_is "$STAGED"; then`)
	assert.Contains(t, s, `install_file "$STAGED" "$GOOD"`)
	assert.NotContains(t, s, "reload", "recording never reloads")
	assert.NotContains(t, s, "wget")
}

func TestGuardTriggersAreWeightsAndImages(t *testing.T) {
	images := map[string]string{"app_green": "aurigraph/v11:11.5.0", "app_blue": "aurigraph/v11:11.4.2"}
	a := GuardTriggers(sampleValues(95, 5).Slots, images)
	assert.Equal(t, []string{
		"image app_blue=aurigraph/v11:11.4.2", "image app_green=aurigraph/v11:11.5.0",
		"weight app_blue=95", "weight app_green=5",
	}, a)
	assert.Equal(t, a, GuardTriggers(sampleValues(95, 5).Slots, images), "deterministic")
	assert.NotEqual(t, a, GuardTriggers(sampleValues(80, 20).Slots, images))
	assert.NotEqual(t, a, GuardTriggers(sampleValues(95, 5).Slots, map[string]string{"app_green": "aurigraph/v11:11.5.1", "app_blue": "aurigraph/v11:11.4.2"}))
}

// runGateway records a mocked run of the gateway component alone.
func runGateway(t *testing.T, v Values, greenImage string) *mockrun.Result {
	t.Helper()
	return runGatewayImage(t, v, greenImage, "nginx:1.27.3-alpine")
}

// runGatewayImage is runGateway with the nginx image.
func runGatewayImage(t *testing.T, v Values, greenImage, nginxImage string) *mockrun.Result {
	t.Helper()
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := hosttest.NewEngine(ctx, "edge", "192.0.2.10")
		if err != nil {
			return err
		}
		secret := pulumi.ToSecret(pulumi.String("pem")).(pulumi.StringOutput)
		_, err = NewGateway(ctx, "nginx", GatewayArgs{
			Engine: h, Image: pulumi.String(nginxImage), Zones: network.NamedZones("aurigraph-network"),
			Resources: container.Resources{CPUs: 1, MemoryMB: 512},
			Dir:       "/srv/aurigraph/nginx", Config: v,
			Certificate: secret, PrivateKey: secret, CACert: secret, Htpasswd: secret,
			SlotImages: map[string]string{"app_blue": "aurigraph/v11:11.4.2", "app_green": greenImage},
		})
		return err
	}, mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)
	return res
}

func TestGatewayGuardStepsFollowTheInstall(t *testing.T) {
	const green = "aurigraph/v11:11.5.0"
	base := runGateway(t, sampleValues(100, 0), green)
	guard := base.Named("command:remote:Command", "nginx-release-guard")
	record := base.Named("command:remote:Command", "nginx-conf-known-good")
	install := base.Named("command:remote:Command", "nginx-conf-install")
	copyConf := base.Named("command:remote:CopyToRemote", "nginx-conf-nginx-conf")
	nginx := base.Named("docker:index/container:Container", "nginx")
	require.NotNil(t, guard)
	require.NotNil(t, record)
	require.NotNil(t, install)
	require.NotNil(t, nginx)
	assert.Contains(t, guard.DependsOn, install.URN, "the guard runs after the new file is installed and reloaded")
	assert.Contains(t, guard.DependsOn, nginx.URN, "the guard probes from inside the running nginx")
	assert.Contains(t, record.DependsOn, guard.URN, "a file is known-good only after the guard passed")
	assert.NotContains(t, nginx.DependsOn, guard.URN, "the container never waits on (or changes with) the guard")
	script := guard.Inputs["create"].StringValue()
	assert.Equal(t, script, guard.Inputs["update"].StringValue())
	assert.Contains(t, script, "STAGED='"+copyConf.Inputs["remotePath"].StringValue()+"'\n",
		"the guard re-applies the file configfile staged")

	triggers := func(r *mockrun.Result, name string) resource.PropertyValue {
		return r.Named("command:remote:Command", name).Inputs["triggers"]
	}
	// A canary step moves traffic: the guard and the record step run again.
	canary := runGateway(t, sampleValues(95, 5), green)
	assert.False(t, triggers(base, "nginx-release-guard").DeepEquals(triggers(canary, "nginx-release-guard")))
	assert.NotEqual(t, script, canary.Named("command:remote:Command", "nginx-release-guard").Inputs["create"].StringValue(),
		"green's replicas are now checked")
	assert.False(t, triggers(base, "nginx-conf-known-good").DeepEquals(triggers(canary, "nginx-conf-known-good")))

	// A new green image with traffic re-runs the guard, without touching the file.
	newImage := runGateway(t, sampleValues(95, 5), "aurigraph/v11:11.5.1")
	assert.False(t, triggers(canary, "nginx-release-guard").DeepEquals(triggers(newImage, "nginx-release-guard")))
	assert.True(t, triggers(canary, "nginx-conf-known-good").DeepEquals(triggers(newImage, "nginx-conf-known-good")))

	// A rate limit moves no traffic: the guard is unchanged, the file is recorded as known-good.
	limited := sampleValues(95, 5)
	limited.RateLimitPerSecond = 200
	lim := runGateway(t, limited, green)
	assert.True(t, canary.Named("command:remote:Command", "nginx-release-guard").Inputs.DeepEquals(
		lim.Named("command:remote:Command", "nginx-release-guard").Inputs), "no readiness check for a limit")
	assert.False(t, triggers(canary, "nginx-conf-known-good").DeepEquals(triggers(lim, "nginx-conf-known-good")))
}
