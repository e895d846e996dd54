//go:build integration

package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
)

// TestIntegrationValidateCommandRunsNginxInTheImage runs the production
// ValidateCommand, through the configfile step, against a candidate of a
// gateway directory laid out as on a host: nginx -t in a throw-away
// container (no network, the gateway's user, read-only, the candidate
// mounted at MountDir) passes a good configuration with its certificates,
// and refuses a broken one or one whose certificate is missing, before
// anything live changes.
func TestIntegrationValidateCommandRunsNginxInTheImage(t *testing.T) {
	image := scripttest.Import(t, scripttest.Image{
		Name: "aurigraph-swap-test/nginx-debian", Binary: findNginx(t), At: "/usr/sbin/nginx", Path: "/usr/sbin:/usr/bin",
		Dirs: []string{"etc/nginx/aurigraph", "var/cache/nginx", "tmp", "var/lib/nginx"},
		// nginx opens its compiled-in error log before it reads -c.
		Links: map[string]string{"var/log/nginx/error.log": "/dev/stderr"},
	})
	root := t.TempDir()
	dir, staging := filepath.Join(root, "nginx"), filepath.Join(root, ".staging")
	for _, d := range []string{filepath.Join(dir, "conf"), filepath.Join(dir, "tls"), filepath.Join(dir, "auth"), staging} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	newTestPKI(t, filepath.Join(dir, "tls"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "auth", "htpasswd"), []byte("operator:x\n"), 0o600))
	owner := fmt.Sprintf("%d:%d", UID, UID)
	out, err := exec.Command("chown", "-R", owner, filepath.Join(dir, "tls"), filepath.Join(dir, "auth")).CombinedOutput()
	require.NoError(t, err, "%s", out)

	v := ProductionValues(Values{
		APIHostname: itAPI,
		Slots: []Slot{{Name: "app_blue", Weight: 100, HTTP: []string{"127.0.0.1:9003"}},
			{Name: "app_green", Weight: 0, HTTP: []string{"127.0.0.2:9003"}}},
		RateLimitPerSecond: 100, RateLimitBurst: 200,
	})
	v.Modern = false // Debian's nginx 1.22 in the test image
	conf, err := Render(v)
	require.NoError(t, err)
	live := filepath.Join(dir, "conf", "nginx.conf")
	staged := filepath.Join(staging, "nginx-conf-nginx-conf")
	script, err := configfile.InstallScript(
		[]configfile.Staged{{File: configfile.File{Path: live, Owner: owner, Mode: "0640"}, From: staged}},
		&configfile.Check{Dir: dir, Command: ValidateCommand, Candidate: filepath.Join(staging, "nginx-conf.candidate")}, "", "")
	require.NoError(t, err)
	script = "IMAGE=" + shell.Quote(image) + "\n" + script // as configfile.New prefixes it
	step := func(content string) (string, error) {
		require.NoError(t, os.WriteFile(staged, []byte(content), 0o600))
		_, stderr, err := scripttest.RunBash(t, script, "")
		return stderr, err
	}

	stderr, err := step(conf)
	require.NoError(t, err, "a good configuration passes nginx -t in the image")
	assert.Contains(t, stderr, "nginx: configuration file "+ConfPath+" test is successful", "nginx read it at the production path")
	assert.Equal(t, conf, readFile(t, live))

	stderr, err = step(strings.Replace(conf, "server_tokens off;", "server_tokens off;\n    bogus_directive on;", 1))
	require.Error(t, err)
	assert.Contains(t, stderr, `unknown directive "bogus_directive" in `+ConfPath)
	assert.Equal(t, conf, readFile(t, live), "unchanged")

	// The check sees the live directory's certificates: without them, it fails.
	require.NoError(t, os.Rename(filepath.Join(dir, "tls", "edge.crt"), filepath.Join(root, "edge.crt")))
	stderr, err = step(strings.Replace(conf, "keepalive_timeout 65s;", "keepalive_timeout 70s;", 1))
	require.Error(t, err)
	assert.Contains(t, stderr, `cannot load certificate "`+CertPath+`"`)
	assert.Equal(t, conf, readFile(t, live), "unchanged")
	leftovers, _ := filepath.Glob(filepath.Join(staging, "nginx-conf.candidate*"))
	assert.Empty(t, leftovers)
}
