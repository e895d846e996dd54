package host

import (
	"fmt"
	"net/netip"
	"sort"
)

// FirewallValues is one host's nftables table.
type FirewallValues struct {
	Host    string
	SSHPort int
	// SSHRestricted: sshd is reachable only from SSHFromV4/V6 and the
	// cluster peers (a jump host or an SSH allow-list is configured);
	// otherwise from anywhere.
	SSHRestricted bool
	// SSHFromV4/V6: addresses and CIDR prefixes, none inside another.
	SSHFromV4      []string
	SSHFromV6      []string
	PublicTCPPorts []int
	PeersV4        []string
	PeersV6        []string
	MonitoringV4   []string
	MonitoringV6   []string
	// MonitoringLocal: Prometheus runs on this host and scrapes it from a
	// container, through docker_gwbridge.
	MonitoringLocal bool
	ExporterPorts   []int
	// LoggingPort is set on the host running Logstash.
	LoggingPort int
}

// NewFirewallValues opens what the host's role needs and nothing else.
func NewFirewallValues(a HostArgs) (FirewallValues, error) {
	cluster := a.ClusterAddress
	if cluster == "" {
		cluster = a.Address
	}
	v := FirewallValues{
		Host: a.Name, SSHPort: a.Port,
		PublicTCPPorts: sortedInts(a.PublicTCPPorts),
		ExporterPorts:  []int{NodeExporterPort, CadvisorPort, DockerMetricsPort},
	}
	if v.SSHPort == 0 {
		v.SSHPort = 22
	}
	v.PeersV4, v.PeersV6 = splitFamilies(a.ClusterPeers)
	v.MonitoringV4, v.MonitoringV6 = splitFamilies(a.MonitoringFrom)
	for _, m := range a.MonitoringFrom {
		v.MonitoringLocal = v.MonitoringLocal || m == cluster
	}
	if a.LoggingTarget != "" && a.LoggingTarget == cluster {
		v.LoggingPort = a.LoggingPort
	}
	sort.Ints(v.ExporterPorts)
	var err error
	v.SSHRestricted, v.SSHFromV4, v.SSHFromV6, err = sshSources(a)
	return v, err
}

// sshSources is who may open SSH connections besides the cluster peers.
// With a jump host every connection of the program comes through it, so
// sshd is closed to everyone else; SSHAllowFrom adds the operator's own
// ranges (and the jump host's source address when it differs from the
// address the operator dials, e.g. behind NAT). Without either, the
// operator and CI connect directly from addresses the stack does not know,
// so SSH stays open to all (key authentication only, pinned host keys).
func sshSources(a HostArgs) (restricted bool, v4, v6 []string, err error) {
	if a.Jump == nil && len(a.SSHAllowFrom) == 0 {
		return false, nil, nil, nil
	}
	sources := append([]string{}, a.SSHAllowFrom...)
	if a.Jump != nil {
		if _, perr := netip.ParseAddr(a.Jump.Address); perr == nil {
			sources = append(sources, a.Jump.Address)
		} else if len(a.SSHAllowFrom) == 0 {
			return true, nil, nil, fmt.Errorf("firewall %s: jump host %q is not an IP address, so SSH cannot be limited to it: list the addresses it connects from in the SSH allow-list", a.Name, a.Jump.Address)
		}
	}
	v4, v6, err = splitPrefixes(sources)
	if err != nil {
		return true, nil, nil, fmt.Errorf("firewall %s: SSH allow-list: %w", a.Name, err)
	}
	return true, v4, v6, nil
}

// splitPrefixes parses addresses and CIDR prefixes, drops those inside
// another (nftables refuses overlapping intervals), and sorts each family.
func splitPrefixes(xs []string) (v4, v6 []string, err error) {
	var ps []netip.Prefix
	for _, s := range xs {
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				// A zone (fe80::1%eth0) is no nftables address.
				return nil, nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	// Widest first, so a prefix is dropped when a kept one covers it.
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Bits() != ps[j].Bits() {
			return ps[i].Bits() < ps[j].Bits()
		}
		return ps[i].Addr().Less(ps[j].Addr())
	})
	var kept []netip.Prefix
	for _, p := range ps {
		covered := false
		for _, k := range kept {
			covered = covered || (k.Addr().Is4() == p.Addr().Is4() && k.Overlaps(p))
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].Addr() != kept[j].Addr() {
			return kept[i].Addr().Less(kept[j].Addr())
		}
		return kept[i].Bits() < kept[j].Bits()
	})
	for _, p := range kept {
		s := p.String()
		if p.IsSingleIP() {
			s = p.Addr().String()
		}
		if p.Addr().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	return v4, v6, nil
}

// RenderFirewall renders the nftables file (checked by `nft -c -f`).
func RenderFirewall(v FirewallValues) (string, error) {
	if v.Host == "" || v.SSHPort < 1 || v.SSHPort > 65535 {
		return "", fmt.Errorf("firewall: host and SSH port required")
	}
	for _, p := range v.PublicTCPPorts {
		if p < 1 || p > 65535 {
			return "", fmt.Errorf("firewall %s: %d is not a port", v.Host, p)
		}
	}
	for _, s := range append(append([]string{}, v.SSHFromV4...), v.SSHFromV6...) {
		if _, _, err := splitPrefixes([]string{s}); err != nil {
			return "", fmt.Errorf("firewall %s: SSH source: %w", v.Host, err)
		}
	}
	if v.SSHRestricted && len(v.SSHFromV4)+len(v.SSHFromV6)+len(v.PeersV4)+len(v.PeersV6) == 0 {
		return "", fmt.Errorf("firewall %s: SSH restricted to nobody: the host would be unreachable", v.Host)
	}
	return render("firewall.nft.tmpl", v)
}

func splitFamilies(addrs []string) (v4, v6 []string) {
	seen := map[string]bool{}
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || seen[a.String()] {
			continue
		}
		seen[a.String()] = true
		if a.Is4() {
			v4 = append(v4, a.String())
		} else {
			v6 = append(v6, a.String())
		}
	}
	sort.Strings(v4)
	sort.Strings(v6)
	return v4, v6
}

func sortedInts(xs []int) []int {
	out := append([]int{}, xs...)
	sort.Ints(out)
	return out
}
