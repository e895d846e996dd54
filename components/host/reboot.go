package host

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Rebooting a host, for cmd/reboot: what it reads before and after, the
// reboot itself, and the wait for the host's containers, which reuses the
// daemon-json step's wait (wait_containers).

// RebootStateCommand prints, as the SSH user, the boot's identity (the
// kernel's boot id and PID 1's start time: a new boot changes the first, a
// restarted system container the second), whether the reboot marker is
// there, and the running containers, one `container=<name>` line each.
const RebootStateCommand = `set -eu
printf 'boot=%s-%s\n' "$(cat /proc/sys/kernel/random/boot_id)" "$(awk '{ print $22 }' /proc/1/stat)"
if [ -e /run/reboot-required ]; then echo required=yes; else echo required=no; fi
docker ps --format 'container={{.Names}}'
`

// RebootCommand asks systemd for a reboot and returns at once (--no-block),
// so the SSH session ends cleanly before sshd stops.
const RebootCommand = `if [ "$(id -u)" -eq 0 ]; then exec systemctl --no-block reboot; else exec sudo -n systemctl --no-block reboot; fi`

// RebootWait bounds the wait for a host's containers after its reboot, as
// after an engine restart: the data services take minutes to be healthy.
const RebootWait = EngineRestartWait

// RebootState is what RebootStateCommand printed.
type RebootState struct {
	Boot       string
	Required   bool
	Containers []string
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

var containerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ParseRebootState reads RebootStateCommand's output.
func ParseRebootState(out string) (RebootState, error) {
	var s RebootState
	seenRequired := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "boot":
			s.Boot = v
		case "required":
			s.Required, seenRequired = v == "yes", true
		case "container":
			if !containerNameRE.MatchString(v) {
				return s, fmt.Errorf("container name %q is not a Docker name", v)
			}
			s.Containers = append(s.Containers, v)
		}
	}
	if s.Boot == "" || !seenRequired {
		return s, fmt.Errorf("no boot id or reboot marker in %q", out)
	}
	return s, nil
}

// RebootWaitValues are what the wait after a reboot is rendered from.
type RebootWaitValues struct {
	Host        string
	Containers  []string // running before the reboot
	WaitSeconds int
}

// RenderRebootWait renders the wait for a rebooted host's containers.
func RenderRebootWait(v RebootWaitValues) (string, error) {
	if !hostNameRE.MatchString(v.Host) {
		return "", fmt.Errorf("host name %q is not a host name", v.Host)
	}
	for _, c := range v.Containers {
		if !containerNameRE.MatchString(c) {
			return "", fmt.Errorf("container name %q is not a Docker name", c)
		}
	}
	if v.WaitSeconds <= 0 {
		v.WaitSeconds = int(RebootWait / time.Second)
	}
	return render("reboot-wait", v)
}
