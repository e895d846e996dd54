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
	nginxConf := []Staged{{File: File{Path: "/srv/aurigraph/nginx/conf/nginx.conf", Owner: "101:101"}, From: "/srv/aurigraph/.staging/nginx-conf"}}
	install, err := InstallScript(nginxConf, nil, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	validated, err := InstallScript(nginxConf, &Check{
		Dir: "/srv/aurigraph/nginx", Candidate: "/srv/aurigraph/.staging/nginx-conf.candidate",
		Command: `docker run --rm --network none -v "$CANDIDATE":/etc/nginx/aurigraph:ro --entrypoint nginx "$IMAGE" -t -c '/etc/nginx/aurigraph/conf/nginx.conf'`,
	}, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	validated = "IMAGE='nginx:1.27.3-alpine'\n" + validated // as New prefixes it
	files := []SecretFile{{Path: "/srv/aurigraph/nginx/tls/edge.crt", Owner: "101:101"}, {Path: "/srv/aurigraph/nginx/tls/edge.key", Owner: "101:101"}}
	secret, err := WriteSecretsScript(files, nil, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	pair, err := WriteSecretsScript(files, &KeyPair{Cert: files[0].Path, Key: files[1].Path}, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	checked, err := WriteCheckedSecretsScript([]SecretFile{{Path: "/srv/aurigraph/alertmanager/config/alertmanager.yml", Owner: "65534:65534"}}, &Check{
		Dir: "/srv/aurigraph/alertmanager/config", Candidate: "/srv/aurigraph/.staging/alertmanager-config.candidate",
		Command: `docker run --rm --network none -v "$CANDIDATE":/etc/alertmanager:ro --entrypoint amtool "$IMAGE" check-config /etc/alertmanager/alertmanager.yml`,
	}, "alertmanager", "docker kill -s HUP alertmanager")
	require.NoError(t, err)
	checked = "IMAGE='prom/alertmanager:v0.27.0'\n" + checked
	for name, script := range map[string]string{"install": install, "validated install": validated, "secret": secret, "secret pair": pair, "checked secret": checked} {
		cmd := exec.Command("shellcheck", "-s", "bash", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
		out, err = exec.Command("bash", "-n", "-c", script).CombinedOutput()
		assert.NoError(t, err, "bash -n %s: %s", name, out)
	}
}

// tracingMv puts an `mv` on PATH that logs "SRC DST" before moving.
func tracingMv(t *testing.T, dir string) string {
	t.Helper()
	log := filepath.Join(dir, "mv-calls")
	script := "#!/bin/sh\nshift\necho \"$1 $2\" >> " + log + "\nexec /bin/mv -f \"$1\" \"$2\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mv"), []byte(script), 0o755))
	return log
}

func TestIntegrationValidatedInstallRenamesWithinTheDestinationAndOnlyAfterTheCheck(t *testing.T) {
	root := t.TempDir()
	live, staging := filepath.Join(root, "svc"), filepath.Join(root, ".staging")
	require.NoError(t, os.MkdirAll(filepath.Join(live, "conf"), 0o755))
	require.NoError(t, os.MkdirAll(staging, 0o755))
	// A file the new set refers to but does not carry: the candidate has it.
	require.NoError(t, os.WriteFile(filepath.Join(live, "tls.crt"), []byte("cert\n"), 0o600))
	owner := strings.TrimSpace(run(t, "id", "-u")) + ":" + strings.TrimSpace(run(t, "id", "-g"))
	files := []Staged{
		{File: File{Path: filepath.Join(live, "conf", "a.conf"), Owner: owner}, From: filepath.Join(staging, "a")},
		{File: File{Path: filepath.Join(live, "rules", "b.yml"), Owner: owner, Mode: "0640"}, From: filepath.Join(staging, "b")},
	}
	// The check: both new files and the referenced live file are in the
	// candidate, at their place under the directory; "bad" anywhere fails.
	check := &Check{Dir: live, Candidate: filepath.Join(staging, "svc.candidate"), Command: `test -f "$CANDIDATE"/tls.crt
echo "checking $(cat "$CANDIDATE"/conf/a.conf) $(cat "$CANDIDATE"/rules/b.yml)"
! grep -q bad "$CANDIDATE"/conf/a.conf "$CANDIDATE"/rules/b.yml`}
	script, err := InstallScript(files, check, "svc", "docker exec svc reload")
	require.NoError(t, err)
	bin, calls := fakeDocker(t, "true")
	mvLog := tracingMv(t, bin)
	runStep := func(a, b string) (string, error) {
		require.NoError(t, os.WriteFile(files[0].From, []byte(a), 0o600))
		require.NoError(t, os.WriteFile(files[1].From, []byte(b), 0o600))
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := runStep("good a\n", "good b\n")
	require.NoError(t, err, out)
	assert.Contains(t, out, "checking good a good b")
	assert.Equal(t, "good a\n", readString(t, files[0].Path))
	assert.Equal(t, "good b\n", readString(t, files[1].Path))
	st, err := os.Stat(files[1].Path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	moves := strings.Split(strings.TrimSpace(readString(t, mvLog)), "\n")
	require.Len(t, moves, 2, "one rename per file")
	for _, m := range moves {
		src, dst, _ := strings.Cut(m, " ")
		assert.Equal(t, filepath.Dir(dst), filepath.Dir(src), "the temporary file is beside its destination: the rename is atomic")
		assert.True(t, strings.HasPrefix(filepath.Base(src), filepath.Base(dst)+"."), src)
	}
	assert.Equal(t, "exec svc reload\n", readString(t, calls))

	// One bad file of the set: nothing moves, nothing reloads.
	require.NoError(t, os.Remove(mvLog))
	require.NoError(t, os.Remove(calls))
	out, err = runStep("good a, changed\n", "bad b\n")
	require.Error(t, err, out)
	assert.Contains(t, out, "failed validation")
	assert.Equal(t, "good a\n", readString(t, files[0].Path), "the good file of a failed set is not installed either")
	assert.Equal(t, "good b\n", readString(t, files[1].Path))
	assert.NoFileExists(t, mvLog, "nothing was renamed")
	assert.NoFileExists(t, calls, "nothing was reloaded")
	for _, d := range []string{staging, filepath.Join(live, "conf"), filepath.Join(live, "rules")} {
		leftovers, _ := filepath.Glob(filepath.Join(d, "*.*"))
		for _, l := range leftovers {
			assert.NotContains(t, filepath.Base(l), ".candidate", "candidate removed")
			assert.NotRegexp(t, `\.[A-Za-z0-9]{6}$`, l, "no temporary file left")
		}
	}
}

func TestIntegrationSecretPairThatDoesNotMatchNeverReplacesTheLiveOne(t *testing.T) {
	dir := t.TempDir()
	genKey := func(name string) string {
		p := filepath.Join(dir, name)
		out, err := exec.Command("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p).CombinedOutput()
		require.NoError(t, err, string(out))
		return readString(t, p)
	}
	cert := func(key string) string {
		kp := filepath.Join(dir, "k.pem")
		require.NoError(t, os.WriteFile(kp, []byte(key), 0o600))
		out, err := exec.Command("openssl", "req", "-new", "-x509", "-key", kp, "-subj", "/CN=edge", "-days", "1").Output()
		require.NoError(t, err)
		return string(out)
	}
	keyA, keyB := genKey("a.key"), genKey("b.key")
	owner := strings.TrimSpace(run(t, "id", "-u")) + ":" + strings.TrimSpace(run(t, "id", "-g"))
	crtPath, keyPath := filepath.Join(dir, "tls", "edge.crt"), filepath.Join(dir, "tls", "edge.key")
	files := []SecretFile{{Path: crtPath, Owner: owner}, {Path: keyPath, Owner: owner}}
	script, err := WriteSecretsScript(files, &KeyPair{Cert: crtPath, Key: keyPath}, "nginx", "docker exec nginx nginx -s reload")
	require.NoError(t, err)
	bin, calls := fakeDocker(t, "true")
	step := func(crt, key string) (string, error) {
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		cmd.Stdin = strings.NewReader(SecretsStdin([]string{crt, key}))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := step(cert(keyA), keyA)
	require.NoError(t, err, out)
	liveCrt, liveKey := readString(t, crtPath), readString(t, keyPath)
	assert.Equal(t, keyA, liveKey)
	for _, c := range []struct{ name, crt, key, message string }{
		{"key of another certificate", cert(keyA), keyB, "does not match the certificate"},
		{"certificate that does not parse", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", keyA, "is not a PEM certificate"},
		{"key that does not parse", cert(keyB), "not a key\n", "is not a PEM private key"},
	} {
		out, err := step(c.crt, c.key)
		assert.Error(t, err, "%s: %s", c.name, out)
		assert.Contains(t, out, c.message, c.name)
		assert.Equal(t, liveCrt, readString(t, crtPath), "%s: the live certificate stays", c.name)
		assert.Equal(t, liveKey, readString(t, keyPath), "%s: the live key stays", c.name)
	}
	assert.Equal(t, "exec nginx nginx -s reload\n", readString(t, calls), "only the good pair reloaded nginx")
	leftovers, _ := filepath.Glob(filepath.Join(dir, "tls", "*.*.*"))
	assert.Empty(t, leftovers, "no temporary file is left behind")
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
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
		script, err := InstallScript([]Staged{{File: File{Path: target, Owner: owner}, From: staged}}, nil, "nginx", "docker exec nginx nginx -s reload")
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
	script, err := WriteSecretsScript(files, nil, "nginx", "docker exec nginx nginx -s reload")
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
