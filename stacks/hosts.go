package stacks

import (
	"fmt"
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/components/vault"
)

// deployHosts creates every host in inventory order: preflight and
// preparation. Docker engine restarts go one host at a time, in this order:
// each host's daemon-json step waits for the previous host's.
func deployHosts(ctx *pulumi.Context, c *Config, p Placement) ([]*host.Host, error) {
	var order []*host.Host
	var engineRestart pulumi.Resource
	for _, h := range c.Hosts {
		a := hostArgs(c, p, h)
		a.EngineRestartAfter = engineRestart
		hh, err := host.NewHost(ctx, h.Name, a)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		engineRestart = hh.EngineRestart
		order = append(order, hh)
	}
	return order, nil
}

// hostArgs is everything a host's preparation needs, from config and placement.
func hostArgs(c *Config, p Placement, h Host) host.HostArgs {
	a := ConnectionArgs(c, h)
	a.PrivateKey = c.Secrets.SSHPrivateKey
	a.Kind, a.Roles = h.Kind, h.Roles
	a.Capacity = host.Capacity{CPUs: h.Capacity.CPUs, MemoryGB: h.Capacity.MemoryGB, DiskGB: h.Capacity.DiskGB}
	a.DataPath = c.Preflight.DataPath
	a.Thresholds = host.Thresholds{MinCPUs: c.Preflight.MinCPUs, MinMemoryGB: c.Preflight.MinMemoryGB, MinDiskGB: c.Preflight.MinDiskGB}
	a.Dirs = hostDirs(c, p, h.Name)
	a.Sysctls = HostSysctls(p, h.Name)
	a.PublicTCPPorts = HostPublicPorts(p, h.Name)
	a.ClusterPeers = clusterPeers(c, h.Name)
	a.MonitoringFrom = serviceAddresses(c, p, Prometheus)
	a.LoggingTarget = firstOrEmpty(serviceAddresses(c, p, Logstash))
	a.LoggingPort = logstash.SyslogPort
	a.LoggingPeer = logstash.TLSName
	a.LogFiles = logFiles(c, p, h.Name)
	a.LogProbe = HostLogProbe(p, h.Name)
	a.SSHAllowFrom = c.SSH.AllowFrom
	a.StepTimeout = fmt.Sprintf("%dm", c.SSH.StepTimeoutMinutes)
	a.Updates = host.Updates{AutomaticReboot: c.Updates.AutomaticReboot, RebootTime: RebootTimeFor(c, h.Name)}
	a.TimeServers, a.MaxClockOffsetMs = c.Time.Servers, c.Time.MaxOffsetMs
	a.SelfHealing = c.SelfHealing.Host()
	return a
}

// logFiles are the service log files on a host that its rsyslog forwards
// besides the containers' own logs: Vault's audit log, the application's
// /app/logs.
func logFiles(c *Config, p Placement, name string) []host.LogFile {
	var out []host.LogFile
	if p.Services[Vault] == name {
		out = append(out, vault.LogFiles(ServiceDir(c, Vault))...)
	}
	if p.HasReplicas(name) {
		out = append(out, app.LogFiles(ServiceDir(c, App))...)
	}
	return out
}

// HostSysctls are the kernel settings of the services placed on a host.
func HostSysctls(p Placement, name string) map[string]string {
	s := map[string]string{
		// Every container may hold 65536 files (container.NoFileLimit).
		"fs.file-max": "2097152",
		// rsyslog follows every container log file with inotify.
		"fs.inotify.max_user_watches":   "524288",
		"fs.inotify.max_user_instances": "1024",
	}
	on := func(svc string) bool { return p.Services[svc] == name }
	if on(Elasticsearch) {
		s["vm.max_map_count"] = "262144" // Elasticsearch's bootstrap check
	}
	if on(Redis) {
		s["vm.overcommit_memory"] = "1" // Redis background saves fork
	}
	if on(Elasticsearch) || on(Postgres) || on(Redis) {
		s["vm.swappiness"] = "1" // data services must not swap
	}
	return s
}

// HostLogProbe is what the host's logging-metrics asks through docker exec:
// Elasticsearch and Logstash where they are placed on it (components/host
// cannot import them, which build on it).
func HostLogProbe(p Placement, name string) host.LogProbe {
	var lp host.LogProbe
	if p.Services[Elasticsearch] == name {
		lp.ElasticsearchContainer, lp.ElasticsearchURL = elasticsearch.Name, elasticsearch.SelfURL()
		lp.ElasticsearchCA, lp.PasswordFile = elasticsearch.CAPath, elasticsearch.PasswordPath
	}
	if p.Services[Logstash] == name {
		lp.LogstashContainer, lp.LogstashAPI = logstash.Name, logstash.APIURL()
	}
	return lp
}

// HostPublicPorts: 80 and 443 on the host running the gateway only.
func HostPublicPorts(p Placement, name string) []int {
	if p.Services[Nginx] == name {
		return []int{80, 443}
	}
	return nil
}

func clusterPeers(c *Config, name string) []string {
	var out []string
	for _, h := range c.Hosts {
		if h.Name != name {
			out = append(out, h.ClusterAddress())
		}
	}
	return out
}

// serviceAddresses are the cluster addresses of the hosts running svc.
func serviceAddresses(c *Config, p Placement, svc string) []string {
	var out []string
	for _, h := range c.Hosts {
		if p.Services[svc] == h.Name {
			out = append(out, h.ClusterAddress())
		}
	}
	return out
}

func firstOrEmpty(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

// ConnectionArgs are the connection fields of host h's arguments: what the
// program's remote commands and Docker provider dial with (hostArgs starts
// from them), and what reaches a host outside `pulumi up` (cmd/reboot).
func ConnectionArgs(c *Config, h Host) host.HostArgs {
	a := host.HostArgs{
		Name: h.Name, Address: h.Address, ClusterAddress: h.ClusterAddress(), Port: h.SSHPort,
		User: h.SSHUser, HostKey: h.HostKey,
		DialErrorLimit: c.SSH.DialErrorLimit,
		PerDialTimeout: c.SSH.PerDialTimeoutSeconds,
	}
	if j := c.SSH.Jump; j != nil {
		a.Jump = &host.Jump{Address: j.Address, Port: j.Port, User: j.User, HostKey: j.HostKey}
	}
	return a
}

// ServiceDir is a service's directory on its host, e.g. /srv/aurigraph/nginx.
func ServiceDir(c *Config, svc string) string { return path.Join(c.Preflight.DataPath, svc) }
