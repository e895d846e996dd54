package host

import (
	"fmt"
	"net/netip"
	"sort"
)

// FirewallValues is one host's nftables table.
type FirewallValues struct {
	Host           string
	SSHPort        int
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
func NewFirewallValues(a HostArgs) FirewallValues {
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
		v.LoggingPort = LogstashSyslogPort
	}
	sort.Ints(v.ExporterPorts)
	return v
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

// RsyslogValues: where a host forwards its logs.
type RsyslogValues struct {
	Host   string
	Target string
	Port   int
}

// RenderRsyslog renders the rsyslog forwarding (checked by `rsyslogd -N1`).
func RenderRsyslog(v RsyslogValues) (string, error) {
	if _, err := netip.ParseAddr(v.Target); err != nil {
		return "", fmt.Errorf("rsyslog %s: logging target %q: %w", v.Host, v.Target, err)
	}
	return render("rsyslog.conf.tmpl", v)
}
