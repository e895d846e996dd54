//go:build integration

package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/shell"
)

// importNginxImage makes a local image of Debian's nginx (the binary and
// its libraries, nothing else), so the production ValidateCommand runs for
// real with Docker Engine and no registry. Removed when the test ends.
func importNginxImage(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("docker")
	require.NoError(t, err, "Docker Engine is required")
	bin := findNginx(t)
	root := t.TempDir()
	files := []string{bin}
	out, err := exec.Command("ldd", bin).Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				files = append(files, f)
			}
		}
	}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		require.NoError(t, err)
		b, err := os.ReadFile(real)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), b, 0o755))
	}
	if bin != "/usr/sbin/nginx" {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755))
		require.NoError(t, os.Symlink(bin, filepath.Join(root, "usr/sbin/nginx")))
	}
	for _, d := range []string{"etc/nginx/aurigraph", "var/cache/nginx", "tmp", "var/log/nginx", "var/lib/nginx"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	// nginx opens its compiled-in error log before it reads -c.
	require.NoError(t, os.Symlink("/dev/stderr", filepath.Join(root, "var/log/nginx/error.log")))
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ref := "aurigraph-swap-test/nginx-debian:" + hex.EncodeToString(suffix)
	cmd := exec.Command("sh", "-c", "tar -C "+shell.Quote(root)+" -c . | docker import --change 'ENV PATH=/usr/sbin:/usr/bin' - "+shell.Quote(ref))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "docker import: %s", out)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}

// TestIntegrationValidateCommandRunsNginxInTheImage runs the production
// ValidateCommand, through the configfile step, against a candidate of a
// gateway directory laid out as on a host: nginx -t in a throw-away
// container (no network, the gateway's user, read-only, the candidate
// mounted at MountDir) passes a good configuration with its certificates,
// and refuses a broken one or one whose certificate is missing, before
// anything live changes.
func TestIntegrationValidateCommandRunsNginxInTheImage(t *testing.T) {
	image := importNginxImage(t)
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
		_, stderr, err := runBash(t, script, "")
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
