// Command reboot reboots a stack's hosts one at a time, for the security
// updates that need it (host metric aurigraph_reboot_required, alert
// HostRebootRequired). For each host, in inventory order, that needs a
// reboot (/run/reboot-required) or is listed: the gateway's servers of the
// host's replicas are marked down (nginx -t, then a graceful reload), the
// host reboots, the helper waits until it answers SSH with a new boot and
// every container that ran before runs again (healthy where it has a health
// check), puts the gateway configuration back, and goes on to the next
// host. It stops at the first host that does not come back, naming it.
//
// It reaches the hosts as `pulumi up` does: ssh with the pinned host keys
// and the deploy key from an ssh-agent, so run it through
// scripts/with-deploy-key (`make reboot` does):
//
//	scripts/with-deploy-key prod -- go run ./cmd/reboot -stack prod [-hosts a,b] [-dry-run]
//	scripts/with-deploy-key prod -- go run ./cmd/reboot -stack prod -undrain
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aurigraph/infra/components/host"
	offline "github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/stacks"
)

func main() {
	stack := flag.String("stack", "", "stack name (reads Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	hostsFlag := flag.String("hosts", "", "comma-separated hosts to reboot whether or not they need it (default: every host that needs a reboot)")
	dryRun := flag.Bool("dry-run", false, "print the plan and which hosts need a reboot; change nothing")
	undrain := flag.Bool("undrain", false, "only put the gateway configuration `pulumi up` installed back (after an interrupted run)")
	allowOutage := flag.Bool("allow-outage", false, "also reboot hosts whose reboot the gateway cannot hide (the gateway's host, or one holding every replica of a slot)")
	bootTimeout := flag.Duration("boot-timeout", 15*time.Minute, "how long a host may take to answer SSH again after its reboot")
	flag.Parse()
	if *stack == "" {
		fail("-stack is required, e.g. -stack prod")
	}
	var listed []string
	for _, h := range strings.Split(*hostsFlag, ",") {
		if h = strings.TrimSpace(h); h != "" {
			listed = append(listed, h)
		}
	}
	c, err := offline.Config(*dir, *stack)
	if err != nil {
		fail("%v", err)
	}
	plan, err := NewPlan(c, listed, *allowOutage)
	if err != nil {
		fail("%v", err)
	}
	if os.Getenv("SSH_AUTH_SOCK") == "" {
		fail("no ssh-agent: run through scripts/with-deploy-key %s -- ... (make reboot STACK=%s)", *stack, *stack)
	}
	r := &Runner{
		Plan: plan, Remote: &sshRemote{c: c}, Out: os.Stdout,
		BootTimeout: *bootTimeout, Poll: 10 * time.Second, Sleep: time.Sleep, Now: time.Now,
	}
	switch {
	case *undrain:
		err = r.Undrain()
	case *dryRun:
		err = r.DryRun()
	default:
		err = r.Reboot()
	}
	if err != nil {
		fail("%v", err)
	}
}

// DryRun prints the order, what each host's reboot drains and takes away,
// and whether it needs a reboot now.
func (r *Runner) DryRun() error {
	for _, t := range r.Plan.Targets {
		s, err := r.state(t.Host)
		if err != nil {
			return err
		}
		would := "no reboot required"
		switch {
		case t.Refused != "" && (s.Required || t.Listed):
			would = "refused: " + t.Refused
		case s.Required:
			would = "reboot required"
		case t.Listed:
			would = "listed"
		}
		r.logf("%s: %s; drains %d gateway server(s); %d container(s); services: %s", t.Host.Name, would, len(t.Drain), len(s.Containers), strings.Join(t.Services, ", "))
	}
	return nil
}

// sshRemote runs commands with the system ssh and the Docker provider's
// options (host.DockerSSHOpts): pinned host key, key from the agent.
type sshRemote struct{ c *stacks.Config }

func (s *sshRemote) Run(h stacks.Host, command, stdin string) (string, string, error) {
	return runSSH(host.ConnectionSettings(stacks.ConnectionArgs(s.c, h)), command, stdin)
}

func runSSH(set host.Settings, command, stdin string) (string, string, error) {
	args := append(host.DockerSSHOpts(set), "-T", "-l", set.Target.User, "-p", strconv.Itoa(set.Target.Port), "--", set.Target.Address, command)
	cmd := exec.Command("ssh", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 255 {
		// ssh's own failure, or the session cut by the host going down.
		err = fmt.Errorf("%w (ssh exit 255)", ErrDisconnected)
	}
	return stdout.String(), stderr.String(), err
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reboot: "+format+"\n", args...)
	os.Exit(1)
}
