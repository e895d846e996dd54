//go:build integration

package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/tests/harness"
)

// fakeDebian is a machine as .ci/install-deps sees it: dpkg-query answers from
// a list of installed packages, apt-get installs into that list and logs its
// calls, id says the user, sudo runs as root or refuses. The programs' version
// commands are this machine's real ones (integration).
type fakeDebian struct {
	bin, installed, aptLog, sudoLog, policy string
}

func newFakeDebian(t *testing.T, uid string, sudoWorks bool, installed []string) fakeDebian {
	t.Helper()
	dir := t.TempDir()
	f := fakeDebian{
		bin:       filepath.Join(dir, "bin"),
		installed: filepath.Join(dir, "installed"),
		aptLog:    filepath.Join(dir, "apt.log"),
		sudoLog:   filepath.Join(dir, "sudo.log"),
		policy:    filepath.Join(dir, "policy-rc.d"),
	}
	require.NoError(t, os.Mkdir(f.bin, 0o755))
	require.NoError(t, os.WriteFile(f.installed, []byte(strings.Join(installed, "\n")+"\n"), 0o644))
	sudo := "exit 1"
	if sudoWorks {
		sudo = `[ "$1" = -n ] || exit 1; shift; FAKE_UID=0 exec "$@"`
	}
	scripts := map[string]string{
		"id": `[ "$1" = -u ] && echo "${FAKE_UID:-` + uid + `}"`,
		"dpkg-query": `case "$*" in *Version*) echo 1.0-fake; exit 0 ;; esac
rc=0; for a in "$@"; do case "$a" in -*) continue ;; esac
  if grep -qx "$a" ` + shell.Quote(f.installed) + `; then echo "ii $a"; else echo "no packages found matching $a" >&2; rc=1; fi
done; exit $rc`,
		"apt-get": `echo "uid=$(id -u) policy=$([ -x ` + shell.Quote(f.policy) + ` ] && echo yes || echo no) $*" >> ` + shell.Quote(f.aptLog) + `
[ "$1" = install ] || exit 0
for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> ` + shell.Quote(f.installed) + ` ;; esac; done`,
		"sudo": `echo "$*" >> ` + shell.Quote(f.sudoLog) + "\n" + sudo,
	}
	for name, body := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(f.bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	return f
}

func (f fakeDebian) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(harness.RepoRoot(t), ".ci", "install-deps"), args...)
	cmd.Env = append(os.Environ(), "PATH="+f.bin+":"+os.Getenv("PATH"), "INSTALL_DEPS_POLICY_RC_D="+f.policy)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

func (f fakeDebian) log(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

// depsPackages is the installer's own package list (its table), so this test
// keeps no second copy.
func depsPackages(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(filepath.Join(harness.RepoRoot(t), ".ci", "install-deps"), "--packages").Output()
	require.NoError(t, err)
	pkgs := strings.Fields(string(out))
	require.Contains(t, pkgs, "nginx")
	require.Contains(t, pkgs, "shellcheck")
	return pkgs
}

// TestIntegrationInstallDepsEnsure: what `make test` does first, on every kind
// of machine: nothing at all when everything is there, install the missing
// packages only (as root or through a password-less sudo), or stop at once
// with the one command to run.
func TestIntegrationInstallDepsEnsure(t *testing.T) {
	all := depsPackages(t)
	var someMissing []string
	for _, p := range all {
		if p != "nginx" && p != "shellcheck" {
			someMissing = append(someMissing, p)
		}
	}

	t.Run("everything installed: no apt-get, no sudo, the versions", func(t *testing.T) {
		f := newFakeDebian(t, "1000", true, all)
		out, _, err := f.run(t, "--ensure")
		require.NoError(t, err)
		assert.Empty(t, f.log(t, f.aptLog), "nothing to install: apt-get (not even update) must not run")
		assert.Empty(t, f.log(t, f.sudoLog))
		assert.Regexp(t, `(?m)^  nginx +\d+\.\d+\S* +/\S+/nginx$`, out)
		assert.Regexp(t, `(?m)^  docker +\d+\.\d+\S* +/\S+/docker$`, out, "the running Docker Engine's version")
		assert.Regexp(t, `(?m)^  go +\d+\.\d+\S* +/\S+/go$`, out)
	})

	t.Run("root: installs exactly the missing packages, services kept off", func(t *testing.T) {
		f := newFakeDebian(t, "0", false, someMissing)
		out, _, err := f.run(t, "--ensure")
		require.NoError(t, err)
		assert.Equal(t, "uid=0 policy=yes update -qq\n"+
			"uid=0 policy=yes install -y -qq --no-install-recommends nginx shellcheck\n", f.log(t, f.aptLog))
		assert.NoFileExists(t, f.policy, "the service policy is removed after the install")
		assert.Empty(t, f.log(t, f.sudoLog))
		assert.Contains(t, out, "real programs the tests use")
	})

	t.Run("user with password-less sudo: installs through sudo -n", func(t *testing.T) {
		f := newFakeDebian(t, "1000", true, someMissing)
		_, _, err := f.run(t, "--ensure")
		require.NoError(t, err)
		script := filepath.Join(harness.RepoRoot(t), ".ci", "install-deps")
		assert.Equal(t, "-n true\n-n "+script+"\n", f.log(t, f.sudoLog))
		assert.Contains(t, f.log(t, f.aptLog), "uid=0 policy=yes install -y -qq --no-install-recommends nginx shellcheck\n")
	})

	t.Run("user without sudo: stops at once with the one command", func(t *testing.T) {
		f := newFakeDebian(t, "1000", false, someMissing)
		out, stderr, err := f.run(t, "--ensure")
		require.Error(t, err)
		assert.Contains(t, stderr, "missing Debian packages: nginx shellcheck")
		assert.Contains(t, stderr, "run this once, then make test again:  sudo make deps")
		assert.Empty(t, f.log(t, f.aptLog))
		assert.NotContains(t, out, "real programs", "it stops before anything else")
	})

	t.Run("make deps as a user: says to use sudo", func(t *testing.T) {
		f := newFakeDebian(t, "1000", true, someMissing)
		_, stderr, err := f.run(t)
		require.Error(t, err)
		assert.Contains(t, stderr, "needs root: run  sudo make deps")
		assert.Empty(t, f.log(t, f.aptLog))
	})

	t.Run("apt-get that installs nothing is an error", func(t *testing.T) {
		f := newFakeDebian(t, "0", false, someMissing)
		require.NoError(t, os.WriteFile(filepath.Join(f.bin, "apt-get"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
		_, stderr, err := f.run(t, "--ensure")
		require.Error(t, err)
		assert.Contains(t, stderr, "still not installed after apt-get: nginx shellcheck")
	})
}

// TestIntegrationInstallDepsShellcheck: the installer is a script the tests
// and CI run first; shellcheck holds it to the same bar as the host scripts.
func TestIntegrationInstallDepsShellcheck(t *testing.T) {
	out, err := exec.Command("shellcheck", filepath.Join(harness.RepoRoot(t), ".ci", "install-deps"),
		filepath.Join(harness.RepoRoot(t), ".ci", "run")).CombinedOutput()
	require.NoError(t, err, "shellcheck (make deps): %s", out)
}
