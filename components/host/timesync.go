package host

import (
	_ "embed"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Time synchronisation: chrony on every host, its sources from the stack's
// aurigraph:time.servers. TLS, Vault tokens, Elasticsearch and the
// validators' consensus rounds all assume that the hosts' clocks agree.
const (
	// TimeSyncStep installs chrony, writes its configuration and waits
	// until the clock is synchronised.
	TimeSyncStep = "time-sync"
	// ChronyConfPath is Debian's chrony.conf: the step owns the whole file,
	// so that no source but the configured servers is used (Debian's default
	// adds its pool and DHCP-provided servers).
	ChronyConfPath = "/etc/chrony/chrony.conf"
	// TimeSyncWait bounds the step's wait for the first synchronisation:
	// with iburst, chrony selects a reachable server within about ten
	// seconds; two minutes leave room for a slow network and for slewing a
	// small offset below the bound.
	TimeSyncWait = 2 * time.Minute
	// ClockMetricsPath writes chrony's view of the clock into TextfileDir,
	// run by ClockMetricsUnit's timer.
	ClockMetricsPath     = "/usr/local/lib/aurigraph/clock-metrics"
	ClockMetricsUnit     = "aurigraph-clock-metrics"
	ClockMetricsInterval = "30s"
	// MaxTimeServers bounds aurigraph:time.servers.
	MaxTimeServers = 16
	// DefaultMaxClockOffsetMs: internet NTP keeps a clock within a few
	// milliseconds; 100 ms still orders log lines and consensus rounds
	// across hosts, and leaves room for a congested path.
	DefaultMaxClockOffsetMs = 100
	// MaxClockOffsetBoundMs: a looser bound would no longer mean agreeing clocks.
	MaxClockOffsetBoundMs = 10000
)

// DefaultTimeServers are Debian's own pool names (what its chrony package
// uses): four names from the NTP Pool's Debian vendor zone, each a different
// volunteer server, so that chrony can out-vote one that is wrong. A single
// provider (time.cloudflare.com) would be one source with no one to
// out-vote it. Hosts need UDP port 123 out to them; stacks without that
// egress set aurigraph:time.servers to servers they reach.
var DefaultTimeServers = []string{"0.debian.pool.ntp.org", "1.debian.pool.ntp.org", "2.debian.pool.ntp.org", "3.debian.pool.ntp.org"}

// ClockMetricsScript writes aurigraph_clock_offset_seconds and
// aurigraph_clock_synchronised for node exporter's textfile collector.
// node exporter's own node_timex_offset_seconds is the kernel PLL's offset,
// which chrony leaves at 0 (it slews through the frequency):
// prometheus/node_exporter#2445.
//
//go:embed scripts/clock-metrics.sh
var ClockMetricsScript string

// timeServerRE is a lower-case DNS name ending in a letter label: never a
// number that merely looks like an address (203.0.113.300).
var timeServerRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckTimeServer accepts a DNS name or a plain IP literal (no zone), the
// only things chrony.conf's server directive gets from config.
func CheckTimeServer(s string) error {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
			return fmt.Errorf("%q is not a usable server address", s)
		}
		return nil
	}
	if len(s) > 253 || !timeServerRE.MatchString(s) {
		return fmt.Errorf("%q is neither a DNS name nor an IP address", s)
	}
	return nil
}

// RenderChronyConf renders chrony.conf: the servers, then Debian's own
// defaults for everything else.
func RenderChronyConf(servers []string) (string, error) {
	if len(servers) == 0 || len(servers) > MaxTimeServers {
		return "", fmt.Errorf("chrony: 1 to %d time servers required, got %d", MaxTimeServers, len(servers))
	}
	var b strings.Builder
	b.WriteString("# Rendered by components/host (aurigraph:time.servers): this host's only time sources.\n")
	seen := map[string]bool{}
	for _, s := range servers {
		if err := CheckTimeServer(s); err != nil {
			return "", fmt.Errorf("chrony: %w", err)
		}
		if seen[s] {
			return "", fmt.Errorf("chrony: server %q is listed twice", s)
		}
		seen[s] = true
		fmt.Fprintf(&b, "server %s iburst\n", s)
	}
	// Debian 12's defaults, minus its pool and its DHCP and sources.d
	// directories (other sources than the configured ones).
	b.WriteString(`keyfile /etc/chrony/chrony.keys
driftfile /var/lib/chrony/chrony.drift
ntsdumpdir /var/lib/chrony
logdir /var/log/chrony
maxupdateskew 100.0
# rtcsync also clears the kernel's unsynchronised flag once synchronised:
# node exporter's node_timex_sync_status follows it.
rtcsync
# Step a clock that is more than 1 s off during the first 3 updates, slew after.
makestep 1 3
leapsectz right/UTC
`)
	return b.String(), nil
}

// offsetSeconds renders a bound in milliseconds as seconds for scripts
// (awk and chronyc waitsync read it): 100 → "0.100".
func offsetSeconds(ms int) string { return fmt.Sprintf("%d.%03d", ms/1000, ms%1000) }

var clockMetrics = metricsUnits{
	Measures: "clock offset and synchronisation metrics from chrony", Script: ClockMetricsPath, After: "chrony.service",
	Every: ClockMetricsInterval, BootDelay: ClockMetricsInterval,
}

// timeSyncValues fills the time-sync step's values from a.
func timeSyncValues(v *PrepareValues, a HostArgs) error {
	servers, bound := timeSettings(a)
	if bound < 1 || bound > MaxClockOffsetBoundMs {
		return fmt.Errorf("time sync: the clock offset bound must be 1-%d ms, got %d", MaxClockOffsetBoundMs, bound)
	}
	conf, err := RenderChronyConf(servers)
	if err != nil {
		return err
	}
	v.ChronyConfPath, v.ChronyConf = ChronyConfPath, conf
	v.TimeServers = strings.Join(servers, " ")
	v.MaxOffsetSeconds = offsetSeconds(bound)
	v.TimeSyncWaitSeconds = int(TimeSyncWait / time.Second)
	v.ClockMetrics = ClockMetricsScript
	v.ClockMetricsPath, v.ClockMetricsUnit = ClockMetricsPath, ClockMetricsUnit
	v.ClockMetricsService, v.ClockMetricsTimer = clockMetrics.service(), clockMetrics.timer()
	return nil
}

// timeSettings are a's servers and bound, the defaults where unset (the
// stacks set both from aurigraph:time; components' own tests need not).
func timeSettings(a HostArgs) ([]string, int) {
	servers, bound := a.TimeServers, a.MaxClockOffsetMs
	if len(servers) == 0 {
		servers = DefaultTimeServers
	}
	if bound == 0 {
		bound = DefaultMaxClockOffsetMs
	}
	return servers, bound
}
