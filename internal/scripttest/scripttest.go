//go:build integration

// Package scripttest runs the program's rendered steps for real in
// integration tests: with bash, with fakes on PATH, and against local images
// made from Debian's own binaries (there is no registry to pull from).
package scripttest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
)

// RunBash runs a rendered step with bash, as the remote command does, with
// dir first on PATH, and returns its stdout, stderr and error.
func RunBash(t *testing.T, script, dir string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("step stdout:\n%s\nstep stderr:\n%s", stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

// FakeDockerInspect puts a `docker` on PATH whose inspect answers what the
// file state holds ("true" once the service runs), as configfile's
// ReloadScript asks; every other call fails.
func FakeDockerInspect(t *testing.T) (bin, state string) {
	t.Helper()
	bin = t.TempDir()
	state = filepath.Join(bin, "running")
	require.NoError(t, os.WriteFile(state, []byte("false\n"), 0o644))
	script := "#!/bin/sh\nif [ \"$1\" = inspect ]; then cat " + shell.Quote(state) + "; exit 0; fi\nexit 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755))
	return bin, state
}

// Need is the path of program bin, or fails the test with the Debian
// package to install (named like the program).
func Need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	require.NoError(t, err, "%s is required for this test (apt-get install %s)", bin, bin)
	return p
}

// Shellcheck checks a rendered script with the real shellcheck in dialect
// (sh, bash); name says which in a failure.
func Shellcheck(t *testing.T, dialect, name, script string) {
	t.Helper()
	Need(t, "shellcheck")
	cmd := exec.Command("shellcheck", "-s", dialect, "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", name, out)
}

// fakeDockerExec records its arguments in $LOGDIR/docker.argv and runs the
// command given to `docker exec` here, stdin included.
const fakeDockerExec = `#!/bin/bash
printf '%s\n' "$@" >> "$LOGDIR/docker.argv"
[ "$1" = exec ] || exit 2
shift
while [ "${1#-}" != "$1" ]; do case "$1" in -e) shift 2 ;; *) shift ;; esac; done
shift
exec "$@"
`

// FakeDockerExec puts a `docker` in bin whose exec runs the command it is
// given on this machine (flags and the container name dropped), so a
// step's in-container code runs for real; it records every argument list
// in $LOGDIR/docker.argv, for the test to check no secret is among them.
func FakeDockerExec(t *testing.T, bin string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDockerExec), 0o755))
}

// Image is a local image holding one program of this machine and the shared
// libraries it loads, nothing else.
type Image struct {
	Name   string            // repository part of the tag, e.g. "aurigraph-test/nginx"
	Binary string            // the program on this machine
	At     string            // where the image has it (the official image's path)
	Dirs   []string          // empty directories it needs, relative to /
	Links  map[string]string // symlinks it needs (relative path → target)
	Path   string            // the image's PATH
}

// Import builds img with `docker import` and removes it when the test ends;
// it returns the image's reference.
func Import(t *testing.T, img Image) string {
	t.Helper()
	_, err := exec.LookPath("docker")
	require.NoError(t, err, "Docker Engine is required")
	root := t.TempDir()
	files := map[string]string{img.At: img.Binary}
	out, err := exec.Command("ldd", img.Binary).CombinedOutput()
	// A static binary (busybox) loads no libraries: ldd says so and fails.
	if err != nil && strings.Contains(string(out), "not a dynamic executable") {
		out, err = nil, nil
	}
	require.NoError(t, err, "ldd %s: %s", img.Binary, out)
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				files[f] = f
			}
		}
	}
	for to, from := range files {
		real, err := filepath.EvalSymlinks(from)
		require.NoError(t, err)
		b, err := os.ReadFile(real)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(to)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, to), b, 0o755))
	}
	for _, d := range img.Dirs {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for link, target := range img.Links {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(link)), 0o755))
		require.NoError(t, os.Symlink(target, filepath.Join(root, link)))
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ref := img.Name + ":" + hex.EncodeToString(suffix)
	cmd := exec.Command("sh", "-c", "tar -C "+shell.Quote(root)+" -c . | docker import --change "+shell.Quote("ENV PATH="+img.Path)+" - "+shell.Quote(ref))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "docker import: %s", out)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}
