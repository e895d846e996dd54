package testhost

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// WithAgent starts an ssh-agent holding key, as scripts/with-deploy-key
// does, and points SSH_AUTH_SOCK at it for the test: the commands that
// reach hosts with the system's ssh (reboot, release) find their key there.
func WithAgent(t *testing.T, key []byte) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent made no socket at %s", sock)
		}
	}
	add := exec.Command("ssh-add", "-q", "-")
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	add.Stdin = bytes.NewReader(key)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
}
