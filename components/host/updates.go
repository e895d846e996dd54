package host

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// Unattended security updates (step SecurityUpdatesStep). Debian's
// unattended-upgrades installs security updates only; automatic reboots are
// off unless the stack turns them on, and a host that needs a reboot says so
// through node exporter (RebootRequiredScript) so that the operator reboots
// the hosts one at a time with cmd/reboot, the gateway drained first.
const (
	SecurityUpdatesStep = "security-updates"
	// UnattendedUpgradesConf is the program's own apt configuration file.
	// It sorts after the package's 50unattended-upgrades (a conffile the
	// program leaves alone, so package upgrades never stop on a changed
	// conffile) and after 20auto-upgrades (written by the package's debconf
	// question): its lists are cleared first (#clear) and its scalars are
	// read last, so what it says is what apt uses.
	UnattendedUpgradesConf = "/etc/apt/apt.conf.d/52aurigraph-unattended-upgrades"
	// SecurityOrigin is Debian's security archive, in the Origins-Pattern
	// syntax of Debian 12's 50unattended-upgrades (its third default line;
	// the other two follow point releases, which this program does not).
	SecurityOrigin = "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"
	// RebootRequiredPath is the script exporting the reboot marker, run by
	// RebootRequiredUnit's timer.
	RebootRequiredPath = "/usr/local/lib/aurigraph/reboot-required"
	RebootRequiredUnit = "aurigraph-reboot-required"
	// RebootRequiredInterval is how often the marker is read again.
	RebootRequiredInterval = "5min"
	// RebootRequiredFile is the textfile the script writes in TextfileDir.
	RebootRequiredFile = "aurigraph-reboot.prom"
	// RebootRequiredMetric is 1 while the host waits for a reboot.
	RebootRequiredMetric = "aurigraph_reboot_required"
	// DefaultRebootTime is when unattended-upgrades reboots a host by itself,
	// when the stack allows it and gives no time.
	DefaultRebootTime = "03:30"
)

// HeldPackages are never upgraded unattended: upgrading Docker (dockerd or
// containerd) restarts the engine, and with live-restore off (Swarm refuses
// it, see the README) that stops every container on the host at once, on
// every host on the same morning. They are upgraded by hand, one host at a
// time. Python regular expressions matched at the start of the name, as
// unattended-upgrades reads Package-Blacklist.
var HeldPackages = []string{"docker.io$", "docker-ce", "containerd"}

// Updates configures unattended updates on a host.
type Updates struct {
	// AutomaticReboot lets unattended-upgrades reboot the host by itself at
	// RebootTime when an update needs it. Off by default: such a reboot
	// drains nothing and waits for nothing; cmd/reboot does both.
	AutomaticReboot bool
	// RebootTime is "HH:MM" (host time); "" takes DefaultRebootTime.
	RebootTime string
}

// RebootRequiredScript exports the reboot marker as metrics (see its header).
//
//go:embed scripts/reboot-required.sh
var RebootRequiredScript string

var rebootTimeRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// RenderUnattendedUpgrades renders UnattendedUpgradesConf: security updates
// only, held packages, reboot policy, and the APT::Periodic settings that
// make apt-daily(-upgrade).timer fetch lists and upgrade every day.
func RenderUnattendedUpgrades(u Updates) (string, error) {
	reboot := u.RebootTime
	if reboot == "" {
		reboot = DefaultRebootTime
	}
	if !rebootTimeRE.MatchString(reboot) {
		return "", fmt.Errorf("unattended upgrades: reboot time %q is not HH:MM", reboot)
	}
	var b strings.Builder
	b.WriteString(`// Rendered by components/host (step security-updates): do not edit on the host.
// Security updates only; the package's 50unattended-upgrades is left as shipped
// and its lists are cleared here (this file is read after it).
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
        "` + SecurityOrigin + `";
};
#clear Unattended-Upgrade::Allowed-Origins;
// Upgrading Docker restarts the engine and every container on the host with
// it: upgraded by hand, one host at a time.
#clear Unattended-Upgrade::Package-Blacklist;
Unattended-Upgrade::Package-Blacklist {
`)
	for _, p := range HeldPackages {
		fmt.Fprintf(&b, "        %q;\n", p)
	}
	b.WriteString("};\n")
	if u.AutomaticReboot {
		fmt.Fprintf(&b, `// The stack allows reboots by unattended-upgrades itself (updates.automaticReboot):
// nothing drains the gateway first.
Unattended-Upgrade::Automatic-Reboot "true";
Unattended-Upgrade::Automatic-Reboot-Time %q;
`, reboot)
	} else {
		b.WriteString(`// Reboots go through cmd/reboot, one host at a time, the gateway drained first;
// a host that needs one exports aurigraph_reboot_required 1.
Unattended-Upgrade::Automatic-Reboot "false";
`)
	}
	b.WriteString(`Unattended-Upgrade::Remove-Unused-Kernel-Packages "true";
// Run by apt-daily.timer (lists) and apt-daily-upgrade.timer (upgrades).
APT::Periodic::Enable "1";
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Download-Upgradeable-Packages "1";
APT::Periodic::Unattended-Upgrade "1";
APT::Periodic::AutocleanInterval "7";
`)
	return b.String(), nil
}

// rebootRequired reads /run; its first run soon after a boot writes 0 once
// the reboot cleared the marker.
var rebootRequired = metricsUnits{
	Measures: "reboot-required marker", Script: RebootRequiredPath,
	Every: RebootRequiredInterval, BootDelay: "30s",
}
