//go:build integration

package testhost

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// installProbe is what the program's schedule scripts do: write a oneshot
// service and its timer as the deploy user through sudo -n, reload systemd
// and enable the timer now. The timer fires once a second after it starts
// (then hourly), and the service records systemd's invocation id.
const installProbe = `set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo -n"; fi
$SUDO install -d -m 0755 /var/lib/it-probe
$SUDO install -m 0644 /dev/stdin /etc/systemd/system/it-probe.service <<'UNIT'
[Unit]
Description=testhost probe

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "$$INVOCATION_ID" >> /var/lib/it-probe/runs'
UNIT
$SUDO install -m 0644 /dev/stdin /etc/systemd/system/it-probe.timer <<'UNIT'
[Unit]
Description=testhost probe timer

[Timer]
OnActiveSec=1s
OnUnitActiveSec=1h
AccuracySec=1ms

[Install]
WantedBy=timers.target
UNIT
$SUDO systemctl daemon-reload
$SUDO systemctl enable --now it-probe.timer
`

func TestIntegrationTesthostRunsSystemdTimers(t *testing.T) {
	t.Parallel()
	h := Start(t)

	who := h.SSH(t, h.User, "id -u; sudo -n id -u", "")
	require.Equal(t, 0, who.Code, who.Stderr)
	assert.Equal(t, "1000\n0\n", who.Stdout, "the deploy user is not root and has passwordless sudo")

	res := h.SSH(t, h.User, "bash -s", installProbe)
	require.Equal(t, 0, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)

	state := h.SSH(t, h.User, "systemctl is-enabled it-probe.timer; systemctl is-active it-probe.timer", "")
	assert.Equal(t, "enabled\nactive\n", state.Stdout, state.Stderr)
	timers := h.SSH(t, h.User, "systemctl list-timers --no-pager --no-legend it-probe.timer", "")
	assert.Contains(t, timers.Stdout, "it-probe.timer")
	assert.Contains(t, timers.Stdout, "it-probe.service", "the timer activates the probe service")
	wanted := h.Exec(t, "readlink /etc/systemd/system/timers.target.wants/it-probe.timer")
	assert.Equal(t, "/etc/systemd/system/it-probe.timer\n", wanted.Stdout, "enable linked the timer into timers.target")

	// The timer fires on its own: systemd runs the service, which records the
	// invocation id systemd gave it.
	var runs []string
	require.Eventually(t, func() bool {
		runs = lines(h.Exec(t, "cat /var/lib/it-probe/runs 2>/dev/null").Stdout)
		return len(runs) == 1
	}, 60*time.Second, 200*time.Millisecond, "the timer did not start the service")
	last := h.Exec(t, "systemctl show --value -p InvocationID it-probe.service; systemctl show --value -p Result it-probe.service")
	assert.Equal(t, runs[0]+"\nsuccess\n", last.Stdout, "systemd ran the service")

	// Started by hand, the service runs again, synchronously (oneshot).
	started := h.SSH(t, h.User, "sudo -n systemctl start it-probe.service && cat /var/lib/it-probe/runs", "")
	require.Equal(t, 0, started.Code, started.Stderr)
	again := lines(started.Stdout)
	require.Len(t, again, 2)
	assert.NotEqual(t, again[0], again[1], "a second invocation")

	// disable --now, as the unschedule scripts do, stops and unlinks it.
	off := h.SSH(t, h.User, "sudo -n systemctl disable --now it-probe.timer", "")
	require.Equal(t, 0, off.Code, off.Stderr)
	state = h.SSH(t, h.User, "systemctl is-enabled it-probe.timer; systemctl is-active it-probe.timer", "")
	assert.Equal(t, "disabled\ninactive\n", state.Stdout)
	assert.NotEqual(t, 0, state.Code)
	timers = h.SSH(t, h.User, "systemctl list-timers --no-pager --no-legend", "")
	assert.NotContains(t, timers.Stdout, "it-probe")
}

// Units' sandboxing is applied for real (the container has CAP_SYS_ADMIN):
// a unit that writes where ProtectSystem= forbids it fails as on a server.
func TestIntegrationTesthostAppliesUnitSandboxing(t *testing.T) {
	t.Parallel()
	h := Start(t)
	script := `set -eu
cat > /etc/systemd/system/it-sandbox.service <<'UNIT'
[Service]
Type=oneshot
PrivateTmp=yes
ProtectSystem=strict
ExecStart=/bin/sh -c 'touch /tmp/private-probe && touch /etc/strict-probe'
UNIT
systemctl daemon-reload
systemctl start it-sandbox.service
`
	res := h.SSH(t, Root, "sh -s", script)
	assert.NotEqual(t, 0, res.Code, "writing /etc under ProtectSystem=strict must fail")
	journal := h.Exec(t, "journalctl --no-pager -u it-sandbox.service")
	assert.Contains(t, journal.Stdout, "Read-only file system")
	assert.NotEqual(t, 0, h.Exec(t, "test -e /tmp/private-probe").Code, "PrivateTmp= gave the unit its own /tmp")
	assert.NotEqual(t, 0, h.Exec(t, "test -e /etc/strict-probe").Code)
}

// The host reaches nothing beyond this machine, and its sshd is published on
// loopback only.
func TestIntegrationTesthostIsConfinedToThisMachine(t *testing.T) {
	t.Parallel()
	h := Start(t)
	routes := h.Exec(t, "cat /proc/net/route")
	require.Equal(t, 0, routes.Code, routes.Stderr)
	for _, l := range lines(routes.Stdout)[1:] {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 2)
		assert.NotEqual(t, "00000000", f[1], "a default route: %s", l)
	}
	port, err := docker("port", h.Container, "22/tcp")
	require.NoError(t, err)
	for _, l := range lines(port) {
		assert.True(t, strings.HasPrefix(l, "127.0.0.1:"), "published beyond loopback: %s", l)
	}
	assert.Equal(t, "127.0.0.1", h.Address)
}

// Two hosts are two machines: their own host keys and machine ids.
func TestIntegrationTesthostHostsAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	assert.NotEqual(t, a.HostKey, b.HostKey)
	assert.NotEqual(t, a.Port, b.Port)
	idA := a.SSH(t, Root, "cat /etc/machine-id", "").Stdout
	idB := b.SSH(t, Root, "cat /etc/machine-id", "").Stdout
	assert.Len(t, strings.TrimSpace(idA), 32)
	assert.NotEqual(t, idA, idB)
	// A's client key does not open B.
	a.signer, b.signer = b.signer, a.signer
	_, err := a.Dial(Root)
	assert.Error(t, err)
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
