package rules

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func sshRules() []Rule {
	return []Rule{
		{
			Name:        "ssh-not-open-to-all",
			Description: "No host firewall accepts SSH from every address (0.0.0.0/0, ::/0 or no source at all): sshd is reachable only from ssh.allowFrom, the jump host and the cluster peers.",
			Types:       []string{RemoteCommandType},
			Resource:    checkSSHNotOpenToAll,
		},
	}
}

var (
	// sshFromSet is a host firewall's set of SSH sources (components/host
	// firewall.nft.tmpl) with its elements.
	sshFromSet = regexp.MustCompile(`set ssh_from_v[46] \{[^}]*?elements = \{([^}]*)\}`)
	// sshOpenRule accepts the SSH port with no source named.
	sshOpenRule = regexp.MustCompile(`(?m)^\s*(?:meta l4proto tcp |)tcp dport \d+ accept comment "ssh"`)
)

// checkSSHNotOpenToAll reads the host firewall a command installs (its
// stdin or create text; unknown text gives no verdict).
func checkSSHNotOpenToAll(r policyx.AnalyzerResource, _ Env) []Finding {
	var script string
	for _, k := range []string{"stdin", "create"} {
		if s, st := str(r.Properties.Get(k)); st == known {
			script += s + "\n"
		}
	}
	if !strings.Contains(script, "table inet aurigraph") {
		return nil
	}
	var out []Finding
	if sshOpenRule.MatchString(script) {
		out = append(out, found(r, "the host firewall accepts SSH from every address: set ssh.allowFrom to the operators' and CI's ranges"))
	}
	for _, m := range sshFromSet.FindAllStringSubmatch(script, -1) {
		for _, e := range strings.Split(m[1], ",") {
			e = strings.TrimSpace(e)
			if p, err := netip.ParsePrefix(e); err == nil && p.Bits() == 0 {
				out = append(out, found(r, "the host firewall accepts SSH from %s, every address: list only the operators' and CI's ranges in ssh.allowFrom", e))
			}
		}
	}
	return out
}
