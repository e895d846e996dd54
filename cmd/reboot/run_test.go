package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/gateway"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/stacks"
)

// fakeHosts answers the helper's commands as the hosts would, and records
// what happened in order: "<host> <event>".
type fakeHosts struct {
	required map[string]bool // /run/reboot-required
	boot     map[string]int
	down     map[string]bool // rebooted and never coming back
	staged   string          // last configuration uploaded to the gateway
	live     string          // live gateway configuration
	events   []string
}

func (f *fakeHosts) Run(h stacks.Host, command, stdin string) (string, string, error) {
	n := h.Name
	if f.down[n] {
		f.events = append(f.events, n+" unreachable")
		return "", "ssh: connect: Connection refused", ErrDisconnected
	}
	switch {
	case command == host.RebootStateCommand:
		req := "no"
		if f.required[n] {
			req = "yes"
		}
		return fmt.Sprintf("boot=b%d\nrequired=%s\ncontainer=%s-app\n", f.boot[n], req, n), "", nil
	case command == host.RebootCommand:
		f.events = append(f.events, n+" reboot")
		if f.down[n+"-refuses-reboot"] {
			return "", "sudo: a password is required", errors.New("exit status 1")
		}
		f.boot[n]++
		delete(f.required, n)
		if f.down[n+"-after-reboot"] {
			f.down[n] = true
		}
		return "", "", ErrDisconnected
	case strings.HasPrefix(command, "#!/usr/bin/env bash\n# Host "+n+": after cmd/reboot"):
		f.events = append(f.events, n+" wait "+strings.TrimSpace(command[strings.LastIndex(command, "wait_containers "):]))
		return "  every container runs again\n", "", nil
	case strings.Contains(command, "sha256sum"):
		f.events = append(f.events, n+" hash")
		return gateway.ConfHash(f.live) + "\n", "", nil
	case strings.HasPrefix(command, "umask 077; cat > "):
		f.staged = stdin
		return "", "", nil
	case strings.Contains(command, "# 2. Swap"):
		f.live = f.staged
		f.events = append(f.events, fmt.Sprintf("%s install %d down", n, len(downLines(f.live))))
		return "", "", nil
	}
	return "", "unexpected command", errors.New("exit 2")
}

func newRunner(t *testing.T, p *Plan, f *fakeHosts) *Runner {
	now := time.Unix(0, 0)
	return &Runner{Plan: p, Remote: f, Out: io.Discard, BootTimeout: time.Minute, Poll: 10 * time.Second,
		Sleep: func(d time.Duration) { now = now.Add(d) }, Now: func() time.Time { return now }}
}

func prodPlan(t *testing.T) *Plan {
	p, err := NewPlan(config(t, "prod"), nil, false)
	require.NoError(t, err)
	return p
}

func drainedCount(p *Plan, name string) int {
	for _, tg := range p.Targets {
		if tg.Host.Name == name {
			return len(tg.Drain)
		}
	}
	return -1
}

func TestRebootsOnlyHostsThatNeedItOneAtATimeDrainedFirst(t *testing.T) {
	p := prodPlan(t)
	f := &fakeHosts{required: map[string]bool{"prod-app-01": true, "prod-data-01": true, "prod-app-03": true},
		boot: map[string]int{}, down: map[string]bool{}, live: p.Undrained}
	require.NoError(t, newRunner(t, p, f).Reboot())
	d1, d3 := drainedCount(p, "prod-app-01"), drainedCount(p, "prod-app-03")
	assert.Equal(t, []string{
		"prod-edge-01 hash",
		// inventory order: data before the application hosts
		"prod-data-01 reboot",
		"prod-data-01 wait wait_containers 'prod-data-01-app'",
		fmt.Sprintf("prod-edge-01 install %d down", d1),
		"prod-app-01 reboot",
		"prod-app-01 wait wait_containers 'prod-app-01-app'",
		"prod-edge-01 install 0 down",
		fmt.Sprintf("prod-edge-01 install %d down", d3),
		"prod-app-03 reboot",
		"prod-app-03 wait wait_containers 'prod-app-03-app'",
		"prod-edge-01 install 0 down",
	}, f.events)
	assert.Equal(t, p.Undrained, f.live, "the gateway ends as `pulumi up` left it")
}

func TestStopsAtTheFirstHostThatDoesNotComeBackNamingIt(t *testing.T) {
	p := prodPlan(t)
	f := &fakeHosts{required: map[string]bool{"prod-app-01": true, "prod-app-02": true},
		boot: map[string]int{}, down: map[string]bool{"prod-app-01-after-reboot": true}, live: p.Undrained}
	err := newRunner(t, p, f).Reboot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host prod-app-01 did not come back: no new boot within 1m0s")
	assert.Contains(t, err.Error(), "its replicas stay drained: once it runs again, restore the gateway with -undrain")
	for _, e := range f.events {
		assert.NotContains(t, e, "prod-app-02", "no further host is touched")
	}
	assert.Equal(t, drainedCount(p, "prod-app-01"), len(downLines(f.live)), "the down host's replicas stay drained")

	// -undrain puts the configuration back once the host is fixed.
	require.NoError(t, newRunner(t, p, f).Undrain())
	assert.Equal(t, p.Undrained, f.live)
}

func TestNothingIsRebootedWhenAHostsRebootCannotBeHidden(t *testing.T) {
	p := prodPlan(t)
	f := &fakeHosts{required: map[string]bool{"prod-edge-01": true, "prod-app-01": true},
		boot: map[string]int{}, down: map[string]bool{}, live: p.Undrained}
	err := newRunner(t, p, f).Reboot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing rebooted")
	assert.Contains(t, err.Error(), "prod-edge-01 runs the gateway")
	assert.Empty(t, f.events)
}

func TestNothingIsDrainedWhenTheLiveGatewayIsNotTheStacks(t *testing.T) {
	p := prodPlan(t)
	f := &fakeHosts{required: map[string]bool{"prod-app-01": true},
		boot: map[string]int{}, down: map[string]bool{}, live: p.Undrained + "# edited by hand\n"}
	err := newRunner(t, p, f).Reboot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not what the stack file renders")
	assert.Equal(t, []string{"prod-edge-01 hash"}, f.events)
}

func TestARefusedRebootGivesTheHostItsTrafficBack(t *testing.T) {
	p := prodPlan(t)
	f := &fakeHosts{required: map[string]bool{"prod-app-01": true, "prod-app-02": true},
		boot: map[string]int{}, down: map[string]bool{"prod-app-01-refuses-reboot": true}, live: p.Undrained}
	err := newRunner(t, p, f).Reboot()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host prod-app-01: reboot: exit status 1: sudo: a password is required")
	assert.Equal(t, []string{
		"prod-edge-01 hash",
		fmt.Sprintf("prod-edge-01 install %d down", drainedCount(p, "prod-app-01")),
		"prod-app-01 reboot",
		"prod-edge-01 install 0 down",
	}, f.events, "undrained, and no further host touched")
	assert.Equal(t, p.Undrained, f.live)
}
