//go:build integration

package testhost

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Root is the superuser login; it accepts the same client key as DeployUser.
const Root = "root"

// bootTimeout bounds a host's start: systemd boots in one to three seconds
// here, more when the machine's two cores are busy with other tests.
const bootTimeout = 90 * time.Second

// Host is a running container with systemd as PID 1 and sshd on Address:Port.
type Host struct {
	Container string // docker container id, for Exec and for logs
	Address   string // 127.0.0.1: sshd's port is published on loopback only
	Port      int
	User      string // DeployUser: not root, passwordless sudo
	ClientKey []byte // OpenSSH PEM private key accepted for User and Root
	HostKey   string // pinned host public key, "ssh-ed25519 AAAA…"

	hostKey ssh.PublicKey
	signer  ssh.Signer
}

// Result is what a command printed and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Start boots a fresh host and removes it when the test ends. The first call
// on a machine builds the image (about a minute); later ones reuse it.
//
// The container runs /sbin/init (systemd) with the host's cgroup hierarchy
// mounted read-write so that systemd can create its own slices and scopes,
// and with CAP_SYS_ADMIN so that units' sandboxing (PrivateTmp=,
// ProtectSystem=) is really applied; --privileged is not used because it
// asks for every capability and this machine's docker lacks CAP_SYS_RESOURCE
// ("unable to apply caps: operation not permitted").
func Start(t testing.TB) *Host {
	t.Helper()
	tag := prepare(t)

	hostPriv, hostPub := newKey(t)
	clientPriv, clientPub := newKey(t)
	signer, err := ssh.ParsePrivateKey(clientPriv)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostPub))
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}

	name := "aurigraph-testhost-" + randomHex(t, 6)
	id, err := docker("create", "--name", name,
		"--label", "aurigraph-testhost=1",
		"--hostname", name[len(name)-12:],
		"--network", networkName,
		"--publish", "127.0.0.1::22",
		"--cgroupns", "host",
		"--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
		"--cap-add", "SYS_ADMIN",
		// pam_loginuid (in Debian's /etc/pam.d/sshd) writes the login uid.
		"--cap-add", "AUDIT_CONTROL",
		"--tmpfs", "/run", "--tmpfs", "/run/lock",
		"--env", "container=docker",
		"--stop-signal", "SIGRTMIN+3",
		tag, "/sbin/init")
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	id = strings.TrimSpace(id)
	t.Cleanup(func() {
		if t.Failed() {
			if out, err := docker("exec", id, "journalctl", "--no-pager", "-n", "60"); err == nil {
				t.Logf("testhost %s journal:\n%s", name, out)
			}
		}
		if _, err := docker("rm", "--force", "--volumes", id); err != nil {
			t.Logf("testhost: %v", err)
		}
	})

	files, err := keyFiles(hostPriv, hostPub, clientPub)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	if _, err := dockerIn(files, "cp", "--archive", "-", id+":/"); err != nil {
		t.Fatalf("testhost: installing keys: %v", err)
	}
	if _, err := docker("start", id); err != nil {
		t.Fatalf("testhost: %v", err)
	}
	if err := isolate(id); err != nil {
		t.Fatalf("testhost: %v", err)
	}
	port, err := publishedPort(id)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	h := &Host{
		Container: id, Address: "127.0.0.1", Port: port, User: DeployUser,
		ClientKey: clientPriv, HostKey: hostPub, hostKey: pinned, signer: signer,
	}
	deadline := time.Now().Add(bootTimeout)
	state, err := waitBooted(id, deadline)
	if err != nil {
		t.Fatalf("testhost %s: %v", name, err)
	}
	if state == "degraded" {
		failed, _ := docker("exec", id, "systemctl", "--failed", "--no-pager")
		t.Logf("testhost %s: systemd is degraded:\n%s", name, failed)
	}
	if err := h.waitSSH(deadline); err != nil {
		t.Fatalf("testhost %s: sshd on %s: %v", name, h.Addr(), err)
	}
	return h
}

// Addr is host:port for an SSH client.
func (h *Host) Addr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// Exec runs cmd with sh -c as root through docker exec, not through SSH: for
// looking at the host independently of what a test does over SSH.
func (h *Host) Exec(t testing.TB, cmd string) Result {
	t.Helper()
	c := exec.Command("docker", "exec", h.Container, "sh", "-c", cmd)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("testhost: docker exec: %v", err)
	}
	return Result{out.String(), errb.String(), code}
}

// Dial logs in as user with the client key, checking the pinned host key.
func (h *Host) Dial(user string) (*ssh.Client, error) {
	return ssh.Dial("tcp", h.Addr(), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(h.signer)},
		HostKeyCallback: ssh.FixedHostKey(h.hostKey),
		Timeout:         10 * time.Second,
	})
}

// SSH runs command as user over a new SSH connection with stdin fed to it,
// as pulumi-command's remote.Command does.
func (h *Host) SSH(t testing.TB, user, command, stdin string) Result {
	t.Helper()
	c, err := h.Dial(user)
	if err != nil {
		t.Fatalf("testhost: ssh %s@%s: %v", user, h.Addr(), err)
	}
	defer c.Close()
	r, err := Run(c, command, stdin)
	if err != nil {
		t.Fatalf("testhost: ssh %s@%s %q: %v", user, h.Addr(), command, err)
	}
	return r
}

// Run runs command on c's host with stdin fed to it, as pulumi-command's
// remote.Command does; a non-zero exit is a Result, not an error.
func Run(c *ssh.Client, command, stdin string) (Result, error) {
	sess, err := c.NewSession()
	if err != nil {
		return Result{}, err
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &out, &errb, strings.NewReader(stdin)
	err = sess.Run(command)
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return Result{out.String(), errb.String(), exit.ExitStatus()}, nil
	}
	return Result{out.String(), errb.String(), 0}, err
}

func (h *Host) waitSSH(deadline time.Time) error {
	for {
		c, err := h.Dial(Root)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitBooted waits until systemd has finished booting. In its first moments
// systemctl answers "offline" (no /run/systemd/system yet) or fails at once
// ("Failed to connect to bus"), so it is asked again; once systemd is up,
// --wait blocks until the boot is done.
func waitBooted(id string, deadline time.Time) (string, error) {
	for {
		out, err := docker("exec", id, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(out)
		switch state {
		case "running", "degraded":
			return state, nil
		case "maintenance", "stopping":
			return state, fmt.Errorf("systemd is %s", state)
		}
		if running, _ := docker("inspect", "--format", "{{.State.Running}}", id); strings.TrimSpace(running) != "true" {
			logs, _ := docker("logs", id)
			return "", fmt.Errorf("the container stopped while booting:\n%s", logs)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("systemd did not finish booting within %s (is-system-running: %q, %v)", bootTimeout, state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isolate removes the container's default route, so that the host reaches
// nothing but its own bridge subnet, from which sshd's port is published:
// nothing it runs (apt, curl in a script) can send traffic off this machine.
// The container cannot put it back: it has no CAP_NET_ADMIN.
func isolate(id string) error {
	pid, err := docker("inspect", "--format", "{{.State.Pid}}", id)
	if err != nil {
		return err
	}
	out, err := exec.Command("nsenter", "--target", strings.TrimSpace(pid), "--net",
		"ip", "route", "del", "default").CombinedOutput()
	if err != nil {
		return fmt.Errorf("removing the default route (nsenter and ip are required): %w: %s", err, out)
	}
	return nil
}

func publishedPort(id string) (int, error) {
	out, err := docker("port", id, "22/tcp")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(line))
		if err == nil && host == "127.0.0.1" {
			return strconv.Atoi(port)
		}
	}
	return 0, fmt.Errorf("sshd's port is not published on 127.0.0.1: %q", out)
}

// keyFiles is a tar of the host key and of authorized_keys for root and the
// deploy user, with the owners and modes sshd's StrictModes insists on.
func keyFiles(hostPriv []byte, hostPub, clientPub string) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	deployHome := "home/" + DeployUser
	entries := []struct {
		name  string
		mode  int64
		uid   int
		body  []byte
		isDir bool
	}{
		{name: "etc/ssh/ssh_host_ed25519_key", mode: 0o600, body: hostPriv},
		{name: "etc/ssh/ssh_host_ed25519_key.pub", mode: 0o644, body: []byte(hostPub + "\n")},
		{name: "root/.ssh/", mode: 0o700, isDir: true},
		{name: "root/.ssh/authorized_keys", mode: 0o600, body: []byte(clientPub + "\n")},
		{name: deployHome + "/.ssh/", mode: 0o700, uid: deployUID, isDir: true},
		{name: deployHome + "/.ssh/authorized_keys", mode: 0o600, uid: deployUID, body: []byte(clientPub + "\n")},
	}
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Now()}
		if e.isDir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// newKey returns an ed25519 key as OpenSSH PEM and its authorized_keys line.
func newKey(t testing.TB) (privatePEM []byte, public string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testhost: %v", err)
	}
	return hex.EncodeToString(b)
}

func docker(args ...string) (string, error) { return dockerIn(nil, args...) }

// dockerIn runs the docker CLI; its error carries what docker printed.
func dockerIn(stdin *bytes.Buffer, args ...string) (string, error) {
	c := exec.Command("docker", args...)
	if stdin != nil {
		c.Stdin = stdin
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
