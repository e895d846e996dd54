//go:build integration

package gateway

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testserver"
)

// TestIntegrationBrokenNginxConfigNeverGoesLive installs nginx.conf with the
// configfile step, validated by Debian's real nginx -t in its candidate
// directory: a good file goes live and is served; a broken one fails the
// step with nginx's message, the live file stays byte for byte, nginx is not
// even signalled and keeps serving the previous configuration.
func TestIntegrationBrokenNginxConfigNeverGoesLive(t *testing.T) {
	nginxBin := findNginx(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	pki := newTestPKI(t, dir)
	blue, green := startSlot(t, "blue"), startSlot(t, "green")
	live, staging := filepath.Join(dir, "nginx"), filepath.Join(dir, ".staging")
	require.NoError(t, os.MkdirAll(staging, 0o755))
	conf := filepath.Join(live, "conf", "nginx.conf")
	httpPort, httpsPort := testserver.FreePort(t), testserver.FreePort(t)
	values := func(blueW, greenW int, greenServer string) Values {
		return localValues(dir, pki, httpPort, httpsPort, blueW, blue, greenW, greenServer)
	}
	ng := &nginxProc{bin: nginxBin, dir: dir, conf: conf}
	// The production step runs nginx -t in the gateway's image with the
	// candidate mounted at the gateway's directory; here Debian's nginx
	// tests the candidate's nginx.conf directly (its other files are
	// absolute paths outside the directory).
	validate := shell.Quote(nginxBin) + ` -t -c "$CANDIDATE"/conf/nginx.conf -p ` + shell.Quote(dir+"/") + " -e " + shell.Quote(filepath.Join(dir, "error.log"))
	reload := shell.Quote(nginxBin) + " " + strings.Join(quoteAll(ng.args("-s", "reload")), " ")
	staged := filepath.Join(staging, "nginx-conf-nginx-conf")
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	script, err := configfile.InstallScript(
		[]configfile.Staged{{File: configfile.File{Path: conf, Owner: owner, Mode: "0640"}, From: staged}},
		&configfile.Check{Dir: live, Command: validate, Candidate: filepath.Join(staging, "nginx-conf.candidate")},
		ContainerName, reload)
	require.NoError(t, err)
	bin, running := scripttest.FakeDockerInspect(t)
	stage := func(content string) {
		require.NoError(t, os.WriteFile(staged, []byte(content), 0o600))
	}
	render := func(v Values) string {
		c, err := Render(v)
		require.NoError(t, err)
		return c
	}
	servedSlot := func() string {
		client := newClient(pki, httpsPort)
		defer client.CloseIdleConnections()
		status, slot, err := fetch(client, "https://"+itAPI+"/")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		return slot
	}

	// First deployment: the file goes live before nginx starts.
	first := render(values(100, 0, green))
	stage(first)
	out, _, err := scripttest.RunBash(t, script, bin)
	require.NoError(t, err)
	assert.Contains(t, out, "not running yet")
	assert.Equal(t, first, readFile(t, conf))
	ng.cmd = exec.Command(nginxBin, ng.args("-g", "daemon off;")...)
	ng.cmd.Stdout, ng.cmd.Stderr = os.Stderr, os.Stderr
	testserver.Start(t, ng.cmd, fmt.Sprintf("127.0.0.1:%d", httpsPort), 5*time.Second, syscall.SIGQUIT)
	require.NoError(t, os.WriteFile(running, []byte("true\n"), 0o644))
	assert.Equal(t, "blue", servedSlot())

	// A good change goes live and is reloaded.
	good := render(values(0, 100, green))
	stage(good)
	old := ng.workers()
	out, _, err = scripttest.RunBash(t, script, bin)
	require.NoError(t, err)
	assert.Contains(t, out, "passed validation")
	assert.Contains(t, out, "reloaded "+ContainerName)
	ng.awaitReload(t, old)
	assert.Equal(t, good, readFile(t, conf))
	assert.Equal(t, "green", servedSlot())

	for _, c := range []struct{ name, conf, message string }{
		{"unknown directive", strings.Replace(good, "server_tokens off;", "server_tokens off;\n    bogus_directive on;", 1),
			`unknown directive "bogus_directive"`},
		// Debian's nginx resolves upstream servers when it reads the file.
		{"upstream that does not resolve", render(values(0, 100, "no-such-replica.invalid:9003")),
			`host not found in upstream "no-such-replica.invalid:9003"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			stage(c.conf)
			workers := ng.workers()
			out, stderr, err := scripttest.RunBash(t, script, bin)
			require.Error(t, err, "a broken configuration fails the step")
			assert.Contains(t, stderr, c.message, "nginx's own message")
			assert.Contains(t, stderr, "the live files and the service are unchanged")
			assert.NotContains(t, out, "reloaded")
			assert.Equal(t, good, readFile(t, conf), "the live file is byte-identical")
			assert.Equal(t, workers, ng.workers(), "nginx was not reloaded")
			assert.Equal(t, "green", servedSlot(), "nginx serves the previous configuration")
			// The live file still passes nginx -t: a later reload or restart is safe.
			tested, err := exec.Command(nginxBin, ng.args("-t")...).CombinedOutput()
			assert.NoError(t, err, "%s", tested)
			leftovers, _ := filepath.Glob(filepath.Join(staging, "nginx-conf.candidate*"))
			assert.Empty(t, leftovers, "the candidate directory is removed")
			entries, _ := os.ReadDir(filepath.Dir(conf))
			require.Len(t, entries, 1, "no temporary file beside the live one")
		})
	}
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shell.Quote(a)
	}
	return out
}

func TestIntegrationGatewayCommandsPassShellcheck(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: apt-get install -y shellcheck")
	// ValidateCommand runs with CANDIDATE and IMAGE in its environment.
	validate := "CANDIDATE=/srv/aurigraph/.staging/nginx-conf.candidate.x\nIMAGE=nginx:1.27.3-alpine\n" + ValidateCommand + "\n"
	for name, script := range map[string]string{"validate": validate, "reload": ReloadCommand, "wait": WaitCommand} {
		cmd := exec.Command("shellcheck", "-s", "sh", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}

// TestIntegrationWaitReturnsOnceNginxAnswersAndFailsWhenItNeverDoes runs the
// rendered wait with a `docker` whose exec answers the health request from
// a counter: it goes on at the first answer and fails after its bound.
func TestIntegrationWaitReturnsOnceNginxAnswersAndFailsWhenItNeverDoes(t *testing.T) {
	for _, c := range []struct {
		failures int
		ok       bool
	}{{0, true}, {2, true}, {5, false}} {
		bin := t.TempDir()
		count := filepath.Join(bin, "count")
		// exec: fail the first FAILURES health requests; logs: print a line.
		script := fmt.Sprintf(`#!/bin/sh
case "$1" in
exec)
  n=$(cat %[1]s 2>/dev/null || echo 0)
  echo $((n + 1)) > %[1]s
  [ "$n" -ge %[2]d ] ;;
logs) echo "nginx: [emerg] last log line" ;;
*) exit 1 ;;
esac
`, shell.Quote(count), c.failures)
		require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755))
		out, stderr, err := scripttest.RunBash(t, WaitScript(3, 0), bin)
		requests := strings.TrimSpace(readFile(t, count))
		if c.ok {
			require.NoError(t, err)
			assert.Contains(t, out, "nginx answers "+HealthURL)
			assert.Equal(t, fmt.Sprint(c.failures+1), requests, "stops at the first answer")
		} else {
			require.Error(t, err)
			assert.Contains(t, stderr, "did not answer "+HealthURL+" after 3 tries")
			assert.Contains(t, stderr, "last log line", "nginx's own log explains why")
			assert.Equal(t, "3", requests, "bounded")
		}
	}
}
