//go:build integration

package configfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationScriptsPassShellcheck(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required: apt-get install shellcheck")
	install, err := InstallScript([]Staged{{File: File{Path: "/srv/aurigraph/nginx/conf/nginx.conf", Owner: "101:101"}, From: "/srv/aurigraph/.staging/nginx-conf"}},
		"nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	secret, err := WriteSecretsScript([]SecretFile{{Path: "/srv/aurigraph/nginx/tls/edge.key", Owner: "101:101"}}, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	for name, script := range map[string]string{"install": install, "secret": secret} {
		cmd := exec.Command("shellcheck", "-s", "bash", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}

// fakeDocker puts a `docker` on PATH that answers inspect with running and
// records every other call.
func fakeDocker(t *testing.T, running string) (string, string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	script := "#!/bin/sh\nif [ \"$1\" = inspect ]; then echo " + running + "; exit 0; fi\necho \"$*\" >> " + log + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755))
	return dir, log
}

func TestIntegrationInstallPlacesFilesAndReloadsOnlyWhenTheContainerRuns(t *testing.T) {
	for _, tc := range []struct {
		running  string
		reloaded bool
	}{{"true", true}, {"false", false}} {
		dir, log := fakeDocker(t, tc.running)
		staged := filepath.Join(t.TempDir(), "nginx-conf")
		require.NoError(t, os.WriteFile(staged, []byte("events {}\n"), 0o600))
		target := filepath.Join(t.TempDir(), "conf", "nginx.conf")
		owner := strings.TrimSpace(run(t, "id", "-u")) + ":" + strings.TrimSpace(run(t, "id", "-g"))
		script, err := InstallScript([]Staged{{File: File{Path: target, Owner: owner}, From: staged}}, "nginx", "docker exec nginx nginx -s reload")
		require.NoError(t, err)
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		got, err := os.ReadFile(target)
		require.NoError(t, err)
		assert.Equal(t, "events {}\n", string(got))
		st, err := os.Stat(target)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "readable by the container's user")
		calls, _ := os.ReadFile(log)
		if tc.reloaded {
			assert.Equal(t, "exec nginx nginx -s reload\n", string(calls))
			assert.Contains(t, string(out), "reloaded nginx")
		} else {
			assert.Empty(t, string(calls))
			assert.Contains(t, string(out), "not running yet")
		}
	}
}

func TestIntegrationSecretFilesAreWrittenPrivatelyAtomicallyAndReloadOnce(t *testing.T) {
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "tls", "edge.key"), filepath.Join(dir, "tls", "edge.crt")
	owner := "0:0"
	if os.Geteuid() != 0 {
		owner = strings.TrimSpace(run(t, "id", "-u")) + ":" + strings.TrimSpace(run(t, "id", "-g"))
	}
	files := []SecretFile{{Path: key, Owner: owner, Mode: "0600"}, {Path: cert, Owner: owner, Mode: "0644"}}
	script, err := WriteSecretsScript(files, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	bin, log := fakeDocker(t, "true")
	for _, content := range [][]string{
		{"first key\n", "first cert"},
		{"rotated key with 'quotes' and $(no expansion)\n\nend", "rotated cert\x00binary"},
	} {
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		cmd.Stdin = strings.NewReader(SecretsStdin(content))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		for i, f := range files {
			got, err := os.ReadFile(f.Path)
			require.NoError(t, err)
			assert.Equal(t, content[i], string(got))
		}
		st, err := os.Stat(key)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		st, err = os.Stat(cert)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	}
	calls, _ := os.ReadFile(log)
	assert.Equal(t, "exec nginx nginx -s reload\nexec nginx nginx -s reload\n", string(calls), "one reload per write of the set")
	leftovers, _ := filepath.Glob(key + ".*")
	assert.Empty(t, leftovers, "no temporary file is left behind")

	short := exec.Command("bash", "-c", script)
	short.Stdin = strings.NewReader(SecretsStdin([]string{"only one"}))
	out, err := short.CombinedOutput()
	assert.Error(t, err, "a truncated stdin fails the step: %s", out)
	assert.Contains(t, string(out), "stdin ended before "+cert)
}

func run(t *testing.T, name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	require.NoError(t, err)
	return string(out)
}
