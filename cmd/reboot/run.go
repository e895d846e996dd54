package main

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/aurigraph/infra/components/gateway"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/stacks"
)

// Remote runs a command on a host over SSH, stdin fed to it.
type Remote interface {
	Run(h stacks.Host, command, stdin string) (stdout, stderr string, err error)
}

// ErrDisconnected is what a Remote returns when the session ended without
// an exit status (the host went down under it).
var ErrDisconnected = errors.New("connection closed without an exit status")

// Runner reboots a plan's hosts one at a time.
type Runner struct {
	Plan   *Plan
	Remote Remote
	Out    io.Writer
	// BootTimeout bounds the wait for a host to answer SSH with a new boot;
	// Poll is the pause between attempts.
	BootTimeout time.Duration
	Poll        time.Duration
	// WaitSeconds bounds the wait for the host's containers (0: host.RebootWait).
	WaitSeconds int
	Sleep       func(time.Duration)
	Now         func() time.Time
}

func (r *Runner) logf(format string, args ...any) { fmt.Fprintf(r.Out, format+"\n", args...) }

func (r *Runner) run(h stacks.Host, what, command, stdin string) (string, error) {
	stdout, stderr, err := r.Remote.Run(h, command, stdin)
	if err != nil {
		return stdout, fmt.Errorf("host %s: %s: %w: %s", h.Name, what, err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

func (r *Runner) state(h stacks.Host) (host.RebootState, error) {
	out, err := r.run(h, "read its state", host.RebootStateCommand, "")
	if err != nil {
		return host.RebootState{}, err
	}
	s, err := host.ParseRebootState(out)
	if err != nil {
		return s, fmt.Errorf("host %s: %w", h.Name, err)
	}
	return s, nil
}

// install puts conf live on the gateway through the validated swap.
func (r *Runner) install(conf, why string) error {
	p := r.Plan
	staged := path.Join(p.StagingDir, gateway.DrainStagedName)
	script, err := gateway.InstallConfScript(p.GatewayDir, staged, path.Join(p.StagingDir, "reboot-drain.candidate"))
	if err != nil {
		return err
	}
	if _, err := r.run(p.Gateway, "stage the gateway configuration", "umask 077; cat > "+shell.Quote(staged), conf); err != nil {
		return err
	}
	if _, err := r.run(p.Gateway, why, script, ""); err != nil {
		return err
	}
	return nil
}

// CheckGateway refuses to drain when the live configuration is not the one
// the stack file renders (an undeployed change would go live with the drain).
func (r *Runner) CheckGateway() error {
	out, err := r.run(r.Plan.Gateway, "hash the live gateway configuration", gateway.LiveConfHashCommand(r.Plan.GatewayDir), "")
	if err != nil {
		return err
	}
	if live, want := strings.TrimSpace(out), gateway.ConfHash(r.Plan.Undrained); live != want {
		return fmt.Errorf("the gateway's live nginx.conf (sha256 %s) is not what the stack file renders (%s): run `pulumi up` first, or -undrain after an interrupted reboot", live, want)
	}
	return nil
}

// Undrain puts the configuration `pulumi up` installed back.
func (r *Runner) Undrain() error {
	return r.install(r.Plan.Undrained, "restore the gateway configuration")
}

// Reboot reboots each target that needs it (or is listed), in order, and
// stops at the first that does not come back, naming it.
func (r *Runner) Reboot() error {
	// Which hosts go, decided before any goes: a host that needs a reboot
	// the gateway cannot hide stops the run before the first reboot.
	var due []Target
	var refused []string
	for _, t := range r.Plan.Targets {
		s, err := r.state(t.Host)
		if err != nil {
			return err
		}
		if !t.Listed && !s.Required {
			r.logf("%s: no reboot required", t.Host.Name)
			continue
		}
		if t.Refused != "" {
			refused = append(refused, t.Refused)
		}
		due = append(due, t)
	}
	if len(refused) > 0 {
		return fmt.Errorf("nothing rebooted:\n  %s", strings.Join(refused, "\n  "))
	}
	for _, t := range due {
		if t.Drained != "" {
			if err := r.CheckGateway(); err != nil {
				return err
			}
			break
		}
	}
	rebooted := 0
	for _, t := range due {
		// Read again right before: the containers to wait for are those
		// running now.
		before, err := r.state(t.Host)
		if err != nil {
			return err
		}
		if err := r.rebootOne(t, before); err != nil {
			return err
		}
		rebooted++
	}
	r.logf("done: %d host(s) rebooted", rebooted)
	return nil
}

func (r *Runner) rebootOne(t Target, before host.RebootState) error {
	name := t.Host.Name
	if len(t.Services) > 0 {
		r.logf("%s: %s unavailable while it reboots", name, strings.Join(t.Services, ", "))
	}
	if t.Drained != "" {
		r.logf("%s: drain %d gateway server(s): %s", name, len(t.Drain), strings.Join(t.Drain, " "))
		if err := r.install(t.Drained, "drain "+name); err != nil {
			return err
		}
	}
	r.logf("%s: reboot (%d container(s) to come back)", name, len(before.Containers))
	if _, stderr, err := r.Remote.Run(t.Host, host.RebootCommand, ""); err != nil && !errors.Is(err, ErrDisconnected) {
		// Refused (sudo, systemd): the host still runs, so its replicas
		// get their traffic back.
		err = fmt.Errorf("host %s: reboot: %w: %s", name, err, strings.TrimSpace(stderr))
		if t.Drained != "" {
			if uerr := r.Undrain(); uerr != nil {
				return fmt.Errorf("%w; restoring the gateway failed too: %v", err, uerr)
			}
		}
		return err
	}
	if err := r.awaitBoot(t.Host, before.Boot); err != nil {
		return r.notBack(t, err)
	}
	wait, err := host.RenderRebootWait(host.RebootWaitValues{Host: name, Containers: before.Containers, WaitSeconds: r.WaitSeconds})
	if err != nil {
		return err
	}
	out, err := r.run(t.Host, "wait for its containers", wait, "")
	r.logf("%s", strings.TrimRight(out, "\n"))
	if err != nil {
		return r.notBack(t, err)
	}
	if t.Drained != "" {
		r.logf("%s: undrain", name)
		if err := r.Undrain(); err != nil {
			return err
		}
	}
	r.logf("%s: back", name)
	return nil
}

// awaitBoot waits until the host answers with a boot other than before.
func (r *Runner) awaitBoot(h stacks.Host, before string) error {
	deadline := r.Now().Add(r.BootTimeout)
	var last error
	for {
		r.Sleep(r.Poll)
		s, err := r.state(h)
		if err == nil && s.Boot != before {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("host %s: still the same boot", h.Name)
		}
		last = err
		if !r.Now().Before(deadline) {
			return fmt.Errorf("no new boot within %s: %w", r.BootTimeout, last)
		}
	}
}

// notBack stops the roll at the host that did not come back: its replicas
// stay drained, as the host is down.
func (r *Runner) notBack(t Target, err error) error {
	msg := fmt.Sprintf("host %s did not come back: %v; no further host was rebooted", t.Host.Name, err)
	if t.Drained != "" {
		msg += "; its replicas stay drained: once it runs again, restore the gateway with -undrain"
	}
	return errors.New(msg)
}
