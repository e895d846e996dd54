//go:build integration

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/testhost"
	"github.com/aurigraph/infra/stacks"
)

// oneHost is a Remote reaching one test host with the helper's own ssh.
type oneHost struct{ set host.Settings }

func (o oneHost) Run(_ stacks.Host, command, stdin string) (string, string, error) {
	return runSSH(o.set, command, stdin)
}

func running(t *testing.T, h *testhost.Host) string {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Running}}", h.Container).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// The helper's ssh (pinned host key, key from the agent, as the deploy user)
// against a real systemd + sshd host: it reads the reboot marker, and its
// reboot really takes the host down (systemd runs the reboot; a container
// cannot boot again, so the host never comes back) and the run stops with
// the host's name. What is not exercised here: a host coming back, the
// drain and undrain on a live gateway (see the unit tests with a fake
// remote, and the gateway's and host's integration tests for each script).
func TestIntegrationRebootOverSSHReadsTheMarkerAndStopsAtAHostThatDoesNotComeBack(t *testing.T) {
	h := testhost.Start(t)
	testhost.WithAgent(t, h.ClientKey)
	// The test host has no Docker: a stand-in answers `docker ps` with one
	// container, the rest is the host's own.
	r := h.Exec(t, "printf '#!/bin/sh\\n[ \"$1\" = ps ] && echo container=web\\n' > /usr/local/bin/docker && chmod 0755 /usr/local/bin/docker")
	require.Equal(t, 0, r.Code, r.Stderr)
	remote := oneHost{host.Settings{Name: "it-host-01",
		Target:         host.Endpoint{Address: h.Address, Port: h.Port, User: h.User, HostKey: h.HostKey},
		DialErrorLimit: 1, PerDialTimeout: 5 * time.Second}}

	out, stderr, err := remote.Run(stacks.Host{}, host.RebootStateCommand, "")
	require.NoError(t, err, stderr)
	s, err := host.ParseRebootState(out)
	require.NoError(t, err, out)
	assert.False(t, s.Required)
	assert.Equal(t, []string{"web"}, s.Containers)

	h.Exec(t, "touch /var/run/reboot-required")
	out, _, err = remote.Run(stacks.Host{}, host.RebootStateCommand, "")
	require.NoError(t, err)
	s2, err := host.ParseRebootState(out)
	require.NoError(t, err)
	assert.True(t, s2.Required, "the marker a security update leaves")
	assert.Equal(t, s.Boot, s2.Boot)

	// A wrong pinned key is refused before anything runs.
	_, otherKey := otherHostKey(t)
	wrong := remote
	wrong.set.Target.HostKey = otherKey
	_, stderr, err = wrong.Run(stacks.Host{}, "touch /tmp/should-not-exist", "")
	require.Error(t, err)
	assert.Contains(t, stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED")
	assert.NotEqual(t, 0, h.Exec(t, "test -e /tmp/should-not-exist").Code)

	plan := &Plan{Targets: []Target{{Host: stacks.Host{Name: "it-host-01"}}}}
	runner := &Runner{Plan: plan, Remote: remote, Out: io.Discard, BootTimeout: 20 * time.Second, Poll: time.Second, Sleep: time.Sleep, Now: time.Now}
	err = runner.Reboot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host it-host-01 did not come back: no new boot within 20s")
	require.Eventually(t, func() bool { return running(t, h) == "false" }, 30*time.Second, 200*time.Millisecond,
		"systemd on the host ran the reboot")
}

// otherHostKey is a fresh ed25519 public key line, not the host's.
func otherHostKey(t *testing.T) (ssh.PublicKey, string) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return k, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}
