// Package host turns a machine reached over SSH into a host the stack can use:
// preflight and preparation (Host), then its Docker engine (Engine): the
// provider and image pulls that wait for both and for the cluster join.
package host

import (
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Dir is a data or config directory the preparation creates on the host.
type Dir struct {
	Path string
	UID  int
	GID  int
	Mode string // octal, e.g. "0750"
}

// Capacity is what the operator states the host has; the policy pack checks
// that the reservations placed on it fit.
type Capacity struct {
	CPUs     int
	MemoryGB int
	DiskGB   int
}

// Thresholds refuse a host that falls short.
type Thresholds struct {
	MinCPUs     int
	MinMemoryGB int
	MinDiskGB   int
}

// Jump is an optional SSH bastion.
type Jump struct {
	Address string
	Port    int
	User    string
	HostKey string
}

// HostArgs configures one host.
type HostArgs struct {
	Name           string
	Address        string // SSH address
	ClusterAddress string // address other hosts reach this one on
	Port           int
	User           string
	HostKey        string // pinned public host key
	PrivateKey     pulumi.StringInput
	Jump           *Jump
	Kind           string
	Capacity       Capacity
	Roles          []string
	Thresholds     Thresholds
	DataPath       string
	Dirs           []Dir
	// Sysctls the services on this host need (vm.max_map_count for Elasticsearch).
	Sysctls map[string]string
	// Firewall: ports opened to the world, and to the cluster peers.
	PublicTCPPorts []int
	ClusterPeers   []string // cluster addresses of the other hosts
	MonitoringFrom []string // addresses allowed to scrape the host exporters
	// SSHAllowFrom: addresses or CIDR prefixes allowed to reach sshd besides
	// the jump host and the cluster peers. With a jump host or this list,
	// sshd accepts only those; with neither, it accepts any source.
	SSHAllowFrom []string
	// LoggingTarget is the cluster address of the host running Logstash,
	// where rsyslog forwards the journal and container logs ("" for none).
	LoggingTarget string
	// LoggingPort is Logstash's port there for the hosts' logs
	// (logstash.SyslogPort: host cannot import logstash, which builds on host).
	LoggingPort int
	// LoggingPeer is the name in Logstash's TLS certificate: rsyslog sends
	// only to a receiver whose certificate, issued by the stack's CA, holds it.
	LoggingPeer string
	// LogFiles are the service log files on this host rsyslog forwards
	// besides every container's own log (Vault's audit log, the
	// application's /app/logs).
	LogFiles []LogFile
	// LogProbe: the log pipeline's containers on this host, which
	// logging-metrics asks for their health (zero: none here).
	LogProbe       LogProbe
	DialErrorLimit int
	PerDialTimeout int    // seconds
	StepTimeout    string // per remote step, e.g. "20m"
	// EngineRestartAfter is the previous host's daemon-json step
	// (Host.EngineRestart), nil for the first host: this host's dockerd
	// restarts only after that step, so after the previous host's
	// containers run again. Engine restarts go one host at a time.
	EngineRestartAfter pulumi.Resource

	// TimeServers are chrony's only sources (DNS names or IP literals);
	// MaxClockOffsetMs bounds the clock's offset: preflight refuses a host
	// beyond it and the time-sync step waits until the clock is within it.
	// Unset, they are DefaultTimeServers and DefaultMaxClockOffsetMs.
	TimeServers      []string
	MaxClockOffsetMs int
	// Updates: unattended security updates and their reboot policy.
	Updates Updates
	// SelfHealing configures the container watchdog (step WatchdogStep).
	SelfHealing SelfHealing
}

// Host is a prepared machine; its Docker engine is an Engine (NewEngine).
type Host struct {
	pulumi.ResourceState

	Name           string
	Address        string
	ClusterAddress string
	Roles          []string
	DataPath       string
	Connection     *remote.ConnectionArgs
	// Prepared is the last preparation step: anything touching Docker waits for it.
	Prepared pulumi.Resource
	// EngineRestart is the daemon-json step: it returns once dockerd runs
	// the current daemon.json and the host's containers are back. The next
	// host's HostArgs.EngineRestartAfter.
	EngineRestart pulumi.Resource

	RoleOutput pulumi.StringOutput `pulumi:"role"`

	args HostArgs
}

// NewHost registers the host component and its preflight and preparation.
func NewHost(ctx *pulumi.Context, name string, args HostArgs, opts ...pulumi.ResourceOption) (*Host, error) {
	h := &Host{
		Name: args.Name, Address: args.Address, ClusterAddress: args.ClusterAddress,
		Roles: append([]string{}, args.Roles...), DataPath: args.DataPath,
		args: args,
	}
	if h.ClusterAddress == "" {
		h.ClusterAddress = h.Address
	}
	if err := ctx.RegisterComponentResourceV2("aurigraph:host:Host", name, facts(h, args), h, opts...); err != nil {
		return nil, err
	}
	h.Connection = connection(args)
	prepared, daemon, err := prepare(ctx, name, h, args)
	if err != nil {
		return nil, err
	}
	h.Prepared, h.EngineRestart = prepared, daemon
	h.RoleOutput = pulumi.String(strings.Join(h.Roles, ",")).ToStringOutput()
	return h, ctx.RegisterResourceOutputs(h, pulumi.Map{
		"address": pulumi.String(h.Address),
		"roles":   pulumi.ToStringArray(h.Roles),
		"role":    h.RoleOutput,
	})
}

// facts are the host component's inputs: what policies about hosts read
// (stated capacity, preflight thresholds, roles) without parsing scripts.
func facts(h *Host, a HostArgs) pulumi.Map {
	return pulumi.Map{
		"name":           pulumi.String(a.Name),
		"address":        pulumi.String(a.Address),
		"clusterAddress": pulumi.String(h.ClusterAddress),
		"kind":           pulumi.String(a.Kind),
		"roles":          pulumi.ToStringArray(h.Roles),
		"capacity": pulumi.Map{
			"cpus": pulumi.Int(a.Capacity.CPUs), "memoryGb": pulumi.Int(a.Capacity.MemoryGB), "diskGb": pulumi.Int(a.Capacity.DiskGB),
		},
		"thresholds": pulumi.Map{
			"minCpus": pulumi.Int(a.Thresholds.MinCPUs), "minMemoryGb": pulumi.Int(a.Thresholds.MinMemoryGB), "minDiskGb": pulumi.Int(a.Thresholds.MinDiskGB),
		},
	}
}

// connection is the SSH connection every remote command of this host uses,
// built from ConnectionSettings: the one source of connection settings.
func connection(a HostArgs) *remote.ConnectionArgs {
	return ConnectionSettings(a).RemoteArgs(a.PrivateKey)
}

// HasRole reports whether the host holds role.
func (h *Host) HasRole(role string) bool {
	for _, r := range h.Roles {
		if r == role {
			return true
		}
	}
	return false
}
