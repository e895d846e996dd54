//go:build integration

package prometheus

import (
	"encoding/json"
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

// TestIntegrationBrokenPrometheusFilesNeverGoLive installs prometheus.yml
// and the rules with the configfile step, validated by the real promtool in
// the candidate directory, in front of a real Prometheus server: good files
// go live and are reloaded; a broken prometheus.yml or rules file fails the
// step with promtool's message, both live files stay byte for byte and the
// server keeps the configuration it had, without a reload.
func TestIntegrationBrokenPrometheusFilesNeverGoLive(t *testing.T) {
	promtoolBin := promtool(t)
	serverBin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "the Prometheus server is required: apt-get install prometheus")
	dir := t.TempDir()
	live, staging := filepath.Join(dir, "config"), filepath.Join(dir, ".staging")
	require.NoError(t, os.MkdirAll(staging, 0o755))
	confPath, rulesPath := filepath.Join(live, configFile), filepath.Join(live, rulesFile)
	stagedConf, stagedRules := filepath.Join(staging, "prometheus-config-prometheus-yml"), filepath.Join(staging, "prometheus-config-alerts-yml")
	render := func(replicas, pool int) (string, string) {
		v := sampleValues(replicas)
		// Relative: Prometheus and promtool resolve it beside prometheus.yml,
		// so the candidate's copy checks the candidate's rules (production
		// mounts the candidate where the live directory is mounted).
		v.RulesFile, v.Vault = rulesFile, ""
		conf, err := RenderConfig(v)
		require.NoError(t, err)
		rules, err := RenderRules(RulesValues{PoolMaxSize: pool})
		require.NoError(t, err)
		return conf, rules
	}
	stage := func(conf, rules string) {
		require.NoError(t, os.WriteFile(stagedConf, []byte(conf), 0o600))
		require.NoError(t, os.WriteFile(stagedRules, []byte(rules), 0o600))
	}
	validate := shell.Quote(promtoolBin) + ` check config "$CANDIDATE"/` + configFile + "\n" +
		shell.Quote(promtoolBin) + ` check rules "$CANDIDATE"/` + rulesFile
	pidFile := filepath.Join(dir, "prometheus.pid")
	// ReloadCommand sends SIGHUP to the container; here to the server's pid.
	reload := `kill -HUP "$(cat ` + shell.Quote(pidFile) + `)"`
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	script, err := configfile.InstallScript([]configfile.Staged{
		{File: configfile.File{Path: confPath, Owner: owner}, From: stagedConf},
		{File: configfile.File{Path: rulesPath, Owner: owner}, From: stagedRules},
	}, &configfile.Check{Dir: live, Command: validate, Candidate: filepath.Join(staging, "prometheus-config.candidate")}, ContainerName, reload)
	require.NoError(t, err)
	bin, running := scripttest.FakeDockerInspect(t)

	// First deployment: the files go live, then the server starts.
	firstConf, firstRules := render(1, 30)
	stage(firstConf, firstRules)
	out, _, err := scripttest.RunBash(t, script, bin)
	require.NoError(t, err)
	assert.Contains(t, out, "not running yet")
	port := testserver.FreePort(t)
	server := exec.Command(serverBin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	testserver.Start(t, server, fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second, syscall.SIGTERM)
	require.NoError(t, os.WriteFile(pidFile, []byte(fmt.Sprint(server.Process.Pid)), 0o644))
	require.NoError(t, os.WriteFile(running, []byte("true\n"), 0o644))
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", port)
	// tryLoaded is the running configuration and when it was loaded (an
	// error until the server is ready).
	tryLoaded := func() (string, string, error) {
		var cfg struct {
			Data struct{ YAML string } `json:"data"`
		}
		var info struct {
			Data struct {
				LastConfigTime string `json:"lastConfigTime"`
			} `json:"data"`
		}
		if err := getJSON(api+"status/config", &cfg); err != nil {
			return "", "", err
		}
		err := getJSON(api+"status/runtimeinfo", &info)
		return cfg.Data.YAML, info.Data.LastConfigTime, err
	}
	loaded := func() (string, string) {
		yaml, at, err := tryLoaded()
		require.NoError(t, err)
		return yaml, at
	}
	awaitLoaded := func(replica string) string {
		deadline := time.Now().Add(20 * time.Second)
		for {
			yaml, _, err := tryLoaded()
			if err == nil && strings.Contains(yaml, replica) {
				// The new configuration shows before the reload that loads
				// it (with its rules) records its time: read the time once
				// the reload is over, or a later read differs.
				time.Sleep(500 * time.Millisecond)
				_, at := loaded()
				return at
			}
			require.True(t, time.Now().Before(deadline), "Prometheus did not load the configuration naming %s", replica)
			time.Sleep(100 * time.Millisecond)
		}
	}
	awaitLoaded("aurigraph-v11-blue-slim-1")

	// A good change goes live and is reloaded.
	goodConf, goodRules := render(2, 20)
	stage(goodConf, goodRules)
	out, _, err = scripttest.RunBash(t, script, bin)
	require.NoError(t, err)
	assert.Contains(t, out, "passed validation")
	assert.Contains(t, out, "reloaded "+ContainerName)
	loadedAt := awaitLoaded("aurigraph-v11-blue-slim-2")
	assert.Equal(t, goodConf, readAll(t, confPath))
	assert.Equal(t, goodRules, readAll(t, rulesPath))

	brokenRule := "  - name: broken\n    rules:\n      - alert: Broken\n        expr: 'sum(rate(x[5m])'\n"
	for _, c := range []struct{ name, conf, rules, message string }{
		{"prometheus.yml", strings.Replace(goodConf, "scrape_interval: 15s", "scrape_interval: fifteen", 1), goodRules,
			`not a valid duration string: "fifteen"`},
		{"rules", goodConf, goodRules + brokenRule, "unclosed left parenthesis"},
	} {
		t.Run(c.name, func(t *testing.T) {
			changedConf, _ := render(3, 20) // the good part of the set changes too
			if c.conf != goodConf {
				changedConf = c.conf
			}
			stage(changedConf, c.rules)
			out, stderr, err := scripttest.RunBash(t, script, bin)
			require.Error(t, err, "a broken file fails the step")
			assert.Contains(t, stderr, c.message, "promtool's own message")
			assert.Contains(t, stderr, "FAILED")
			assert.Contains(t, stderr, "the live files and the service are unchanged")
			assert.NotContains(t, out, "reloaded")
			assert.Equal(t, goodConf, readAll(t, confPath), "prometheus.yml is byte-identical")
			assert.Equal(t, goodRules, readAll(t, rulesPath), "the rules are byte-identical")
			yaml, at := loaded()
			assert.Contains(t, yaml, "aurigraph-v11-blue-slim-2")
			assert.NotContains(t, yaml, "aurigraph-v11-blue-slim-3")
			assert.Equal(t, loadedAt, at, "Prometheus was not reloaded")
			// The live files still pass promtool: a later reload or restart is safe.
			runPromtool(t, live, "check", "config", confPath)
			leftovers, _ := filepath.Glob(filepath.Join(staging, "prometheus-config.candidate*"))
			assert.Empty(t, leftovers, "the candidate directory is removed")
			entries, _ := os.ReadDir(live)
			assert.Len(t, entries, 2, "no temporary file beside the live ones")
		})
	}
}

func getJSON(url string, v any) error {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func readAll(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func TestIntegrationValidateCommandPassesShellcheck(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: apt-get install -y shellcheck")
	// It runs with CANDIDATE and IMAGE in its environment.
	cmd := exec.Command("shellcheck", "-s", "sh", "-")
	cmd.Stdin = strings.NewReader("CANDIDATE=/srv/x\nIMAGE=prom/prometheus\n" + ValidateCommand + "\n" + ReloadCommand + "\n")
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}
