//go:build integration

package host

import (
	"bytes"
	"github.com/aurigraph/infra/internal/shell"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agent is a real ssh-agent on a socket in a test directory.
type agent struct{ sock string }

// startAgent runs ssh-agent in the foreground for the test's duration.
func startAgent(t *testing.T) *agent {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command(need(t, "ssh-agent"), "-D", "-a", sock)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return &agent{sock: sock}
		}
		require.True(t, time.Now().Before(deadline), "ssh-agent did not create %s", sock)
		time.Sleep(20 * time.Millisecond)
	}
}

// add loads a private key into the agent over stdin, as the wrapper does.
func (a *agent) add(t *testing.T, privatePEM []byte) {
	t.Helper()
	cmd := exec.Command(need(t, "ssh-add"), "-q", "-")
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+a.sock)
	cmd.Stdin = bytes.NewReader(privatePEM)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

// dockerSSH runs the real ssh client the way the Docker provider does
// (github.com/docker/cli connhelper: the provider's ssh opts, a
// ConnectTimeout only when the opts have none, -T, then
// `-l user -p port -- host docker system dial-stdio`), with command in place
// of `docker system dial-stdio`. env is the whole environment ssh gets.
func dockerSSH(t *testing.T, s Settings, env []string, extra []string, command ...string) (string, string, error) {
	t.Helper()
	args := append([]string{}, DockerSSHOpts(s)...)
	args = append(args, extra...)
	args = append(args, "-T", "-l", s.Target.User, "-p", strconv.Itoa(s.Target.Port), "--", s.Target.Address)
	args = append(args, command...)
	cmd := exec.Command(need(t, "ssh"), args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// baseEnv is a clean environment without an agent: HOME is empty, so no
// file of the machine running the test helps.
func baseEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SHELL=/bin/sh"}
}

func TestIntegrationDockerSSHOptsThroughAnAgent(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	ag := startAgent(t)
	ag.add(t, srv.clientKey)
	withAgent := append(baseEnv(t), "SSH_AUTH_SOCK="+ag.sock)
	s := ConnectionSettings(srv.args("it-host-01"))

	out, stderr, err := dockerSSH(t, s, withAgent, nil, "echo", "ok")
	require.NoError(t, err, stderr)
	assert.Equal(t, "ok\n", out)

	// A host presenting another key than the pinned one is refused.
	_, otherKey := newKey(t)
	wrong := srv.args("it-host-01")
	wrong.HostKey = otherKey
	out, stderr, err = dockerSSH(t, ConnectionSettings(wrong), withAgent, nil, "echo", "ok")
	assert.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "Host key verification failed")

	// Without the agent there is no key: no file is looked up either.
	out, stderr, err = dockerSSH(t, s, baseEnv(t), []string{"-v"}, "echo", "ok")
	assert.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "Permission denied (publickey)")
	assert.NotContains(t, stderr, "/.ssh/id_", "no default identity file is tried")

	// An agent holding another key does not get in either.
	other := startAgent(t)
	otherPriv, _ := newKey(t)
	other.add(t, otherPriv)
	_, stderr, err = dockerSSH(t, s, append(baseEnv(t), "SSH_AUTH_SOCK="+other.sock), nil, "echo", "ok")
	assert.Error(t, err)
	assert.Contains(t, stderr, "Permission denied (publickey)")
}

func TestIntegrationDockerSSHOptsThroughTheJumpHost(t *testing.T) {
	t.Parallel()
	target, jump := startSSHD(t), startSSHD(t)
	ag := startAgent(t)
	// Each test server authorizes its own generated key: the agent holds both.
	ag.add(t, target.clientKey)
	ag.add(t, jump.clientKey)
	env := append(baseEnv(t), "SSH_AUTH_SOCK="+ag.sock)
	viaJump := func(jumpKey string) HostArgs {
		a := target.args("it-host-01")
		a.Jump = &Jump{Address: "127.0.0.1", Port: jump.port, User: jump.user, HostKey: jumpKey}
		return a
	}

	out, stderr, err := dockerSSH(t, ConnectionSettings(viaJump(jump.hostKey)), env, nil, "echo", "ok")
	require.NoError(t, err, stderr)
	assert.Equal(t, "ok\n", out)

	// The jump host is pinned too: another key there stops the connection.
	_, otherKey := newKey(t)
	out, stderr, err = dockerSSH(t, ConnectionSettings(viaJump(otherKey)), env, nil, "echo", "ok")
	assert.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "Host key verification failed")

	// And the target behind it keeps its own pin.
	a := viaJump(jump.hostKey)
	a.HostKey = otherKey
	out, stderr, err = dockerSSH(t, ConnectionSettings(a), env, nil, "echo", "ok")
	assert.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "Host key verification failed")
}

// scripts/with-deploy-key loads the key that `pulumi config get
// sshPrivateKey` prints into a private agent, and with it the Docker
// provider's ssh reaches the host: the whole path a fresh CI runner takes.
// The agent and its directory are gone afterwards, and the key never
// touched the disk (the only file in the agent's directory is its socket).
func TestIntegrationDeployKeyWrapper(t *testing.T) {
	t.Parallel()
	wrapper, err := filepath.Abs(filepath.Join("..", "..", "scripts", "with-deploy-key"))
	require.NoError(t, err)
	out, err := exec.Command(need(t, "shellcheck"), wrapper).CombinedOutput()
	assert.NoError(t, err, "shellcheck:\n%s", out)

	srv := startSSHD(t)
	bin := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "stack-secret") // stands in for the encrypted stack config
	require.NoError(t, os.WriteFile(keyFile, srv.clientKey, 0o600))
	fake := "#!/bin/sh\n" +
		`[ "$1 $2 $3 $4 $5" = "config get sshPrivateKey --stack it" ] || { echo "unexpected: $*" >&2; exit 3; }` + "\n" +
		"cat " + shell.Quote(keyFile) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fake), 0o755))
	tmp := t.TempDir()
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SHELL=/bin/sh", "TMPDIR=" + tmp}

	s := ConnectionSettings(srv.args("it-host-01"))
	ssh := append([]string{"ssh"}, DockerSSHOpts(s)...)
	ssh = append(ssh, "-T", "-l", s.Target.User, "-p", strconv.Itoa(s.Target.Port), "--", s.Target.Address, "echo", "ok")
	// The command reports where the agent lives and what is beside it.
	probe := `d=$(dirname "$SSH_AUTH_SOCK"); stat -c '%a' "$d"; ls -A "$d"; "$@"`
	cmd := exec.Command(wrapper, append([]string{"it", "--", "sh", "-c", probe, "sh"}, ssh...)...)
	cmd.Env = env
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, string(got))
	assert.Equal(t, "700\nagent.sock\nok\n", string(got))
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the agent's directory is removed")
	assert.Error(t, exec.Command(need(t, "pgrep"), "-f", "ssh-agent -D -a "+tmp).Run(), "no ssh-agent is left running")

	// The command's exit status is the wrapper's.
	cmd = exec.Command(wrapper, "it", "--", "sh", "-c", "exit 7")
	cmd.Env = env
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 7, exit.ExitCode())

	// No key, no run: the command does not start.
	cmd = exec.Command(wrapper, "other", "--", "touch", filepath.Join(tmp, "ran"))
	cmd.Env = env
	got, err = cmd.CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(got), "could not load sshPrivateKey of stack other")
	assert.NoFileExists(t, filepath.Join(tmp, "ran"))
}
