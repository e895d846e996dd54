package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/shell"
)

func createText(t *testing.T, r *mockrun.Resource) string {
	t.Helper()
	require.NotNil(t, r)
	return mockrun.Unwrap(r.Inputs["create"]).StringValue()
}

func TestNginxConfigIsTestedInTheGatewayImageBeforeItIsInstalled(t *testing.T) {
	res := runGateway(t, sampleValues(100, 0), "aurigraph/v11:11.5.0")
	install := res.Named("command:remote:Command", "nginx-conf-install")
	script := createText(t, install)
	assert.True(t, strings.HasPrefix(script, "IMAGE='nginx:1.27.3-alpine'\n"), "the check runs in the gateway's own image")
	assert.Contains(t, script, "LIVE_DIR='/srv/aurigraph/nginx'\n", "the candidate copies the whole gateway directory (certificates included)")
	assert.Contains(t, script, "VALIDATE="+shell.Quote(ValidateCommand)+"\n")
	validate := strings.Index(script, `if ! sh -eu -c "$VALIDATE"`)
	rename := strings.Index(script, "mv -f")
	require.Positive(t, validate)
	assert.Less(t, validate, rename, "tested before it is renamed into place")
	assert.Less(t, rename, strings.Index(script, " -s reload"))

	// The check mounts the candidate where nginx reads the directory, as
	// nginx's user, read-only, with no network (no DNS lookup at test time).
	for _, want := range []string{"--network none", `-v "$CANDIDATE":` + MountDir + ":ro", "--user 101:101", "--read-only",
		"--entrypoint nginx", `"$IMAGE" -t -c ` + ConfPath} {
		assert.Contains(t, ValidateCommand, want)
	}
	// nginx -t loads the certificates: the check runs after they are written.
	tls := res.Named("command:remote:Command", "nginx-tls")
	htpasswd := res.Named("command:remote:Command", "nginx-htpasswd")
	require.NotNil(t, tls)
	require.NotNil(t, htpasswd)
	assert.Contains(t, install.DependsOn, tls.URN)
	assert.Contains(t, install.DependsOn, htpasswd.URN)
	assert.Equal(t, []configfile.Install{{From: "/srv/aurigraph/.staging/nginx-conf-nginx-conf", To: "/srv/aurigraph/nginx/conf/nginx.conf"}},
		configfile.Installs(script))
}

func TestGatewayCertificateAndKeyAreCheckedBeforeTheyReplaceTheLiveOnes(t *testing.T) {
	res := runGateway(t, sampleValues(100, 0), "aurigraph/v11:11.5.0")
	script := createText(t, res.Named("command:remote:Command", "nginx-tls"))
	assert.Contains(t, script, "CERT_NEW=$(new '/srv/aurigraph/nginx/tls/edge.crt')\nKEY_NEW=$(new '/srv/aurigraph/nginx/tls/edge.key')\n")
	assert.Less(t, strings.Index(script, "openssl pkey -pubout"), strings.Index(script, "mv -f"))
}

func TestNginxReloadWaitsUntilTheGatewayAnswers(t *testing.T) {
	assert.NotContains(t, ReloadCommand, " -t", "the file was tested before it was installed")
	reload := strings.Index(ReloadCommand, "nginx -c "+ConfPath+" -s reload")
	wait := strings.Index(ReloadCommand, "until docker exec nginx wget -q -O /dev/null -T 5 "+HealthURL)
	require.GreaterOrEqual(t, reload, 0)
	assert.Greater(t, wait, reload, "the reload waits for the health endpoint")
	assert.Contains(t, WaitCommand, `if [ "$n" -ge 30 ]; then`, "bounded")
	assert.Contains(t, WaitCommand, "exit 1", "a gateway that never answers fails the step")
	res := runGateway(t, sampleValues(100, 0), "aurigraph/v11:11.5.0")
	for _, step := range []string{"nginx-conf-install", "nginx-tls"} {
		assert.Contains(t, createText(t, res.Named("command:remote:Command", step)), WaitCommand, step)
	}
}

func TestNewNginxContainerIsWaitedForBeforeTheGuard(t *testing.T) {
	res := runGateway(t, sampleValues(100, 0), "aurigraph/v11:11.5.0")
	ready := res.Named("command:remote:Command", "nginx-ready")
	nginx := res.Named("docker:index/container:Container", "nginx")
	guard := res.Named("command:remote:Command", "nginx-release-guard")
	require.NotNil(t, ready)
	require.NotNil(t, nginx)
	assert.Equal(t, WaitCommand, createText(t, ready))
	assert.Contains(t, ready.DependsOn, nginx.URN)
	assert.Contains(t, guard.DependsOn, ready.URN, "the guard and everything after it wait until nginx answers")
	triggers := mockrun.Unwrap(ready.Inputs["triggers"]).ArrayValue()
	require.Len(t, triggers, 1)
	assert.Equal(t, "nginx:1.27.3-alpine", mockrun.Unwrap(triggers[0]).StringValue(), "a new image (a new container) waits again")
	other := runGatewayImage(t, sampleValues(100, 0), "aurigraph/v11:11.5.0", "nginx:1.27.4-alpine")
	assert.False(t, ready.Inputs["triggers"].DeepEquals(other.Named("command:remote:Command", "nginx-ready").Inputs["triggers"]))
}

func TestGuardRearmsWhenTheNginxImageChanges(t *testing.T) {
	const green = "aurigraph/v11:11.5.0"
	a := runGatewayImage(t, sampleValues(95, 5), green, "nginx:1.27.3-alpine")
	b := runGatewayImage(t, sampleValues(95, 5), green, "nginx:1.27.4-alpine")
	ta := a.Named("command:remote:Command", "nginx-release-guard").Inputs["triggers"]
	tb := b.Named("command:remote:Command", "nginx-release-guard").Inputs["triggers"]
	assert.False(t, mockrun.Unwrap(ta).DeepEquals(mockrun.Unwrap(tb)), "a new nginx image re-runs the readiness checks")
	same := runGatewayImage(t, sampleValues(95, 5), green, "nginx:1.27.3-alpine")
	assert.True(t, mockrun.Unwrap(ta).DeepEquals(mockrun.Unwrap(same.Named("command:remote:Command", "nginx-release-guard").Inputs["triggers"])),
		"deterministic")
}
