package host

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"net"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/hostcmd"
)

// Ports the preparation opens or binds on the host's cluster address.
const (
	SwarmManagementPort = 2377
	NodeExporterPort    = 9100
	DockerMetricsPort   = 9323
	CadvisorPort        = 9280
	// DockerKeyFingerprint is Docker's apt signing key.
	DockerKeyFingerprint = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
	// TextfileDir is node exporter's textfile collector directory (the
	// Debian package's default, set explicitly in the drop-in).
	TextfileDir = "/var/lib/prometheus/node-exporter"
	// ContainerMetricsPath is the script writing per-container memory
	// metrics into TextfileDir, run by ContainerMetricsUnit's timer.
	ContainerMetricsPath = "/usr/local/lib/aurigraph/container-metrics"
	ContainerMetricsUnit = "aurigraph-container-metrics"
	// ContainerMetricsInterval is how often the container metrics refresh.
	ContainerMetricsInterval = "15s"
	// EngineRestartWait bounds how long the daemon-json step waits, after
	// restarting dockerd, for the host's containers to run (and be healthy)
	// again: Elasticsearch and PostgreSQL take minutes to pass their health
	// checks, and the next host's engine restart waits for this one.
	EngineRestartWait = 10 * time.Minute
)

// Drift check: every install step records the checksum of each file it
// installs in a manifest under ManifestDir (sha256sum -c format, one
// <step>.sha256 per step); DriftCheckUnit's timer compares the files with
// their records every DriftCheckInterval and writes the count of
// differences into TextfileDir (docs/drift.md).
const (
	ManifestDir        = "/var/lib/aurigraph/manifest.d"
	DriftCheckStep     = "drift-check"
	DriftCheckPath     = "/usr/local/lib/aurigraph/drift-check"
	DriftCheckUnit     = "aurigraph-drift-check"
	DriftCheckInterval = "5min"
)

// DriftCheckScript compares the recorded files with their checksums.
//
//go:embed scripts/drift-check.sh
var DriftCheckScript string

// ContainerMetricsScript writes container_memory_working_set_bytes and
// container_spec_memory_limit_bytes per running container (cgroup v2) for
// node exporter's textfile collector: hosts without cAdvisor get the
// metrics the container memory alert reads.
//
//go:embed scripts/container-metrics.sh
var ContainerMetricsScript string

// Step is one preparation step: a script with check and apply modes.
type Step struct {
	Name string
	// Changes says what the step changes on a host.
	Changes string
	// Sandboxed: the step runs for real under a ROOT prefix (files only).
	Sandboxed bool
}

// DaemonJSONStep writes daemon.json and restarts dockerd when it changed:
// one host at a time (HostArgs.EngineRestartAfter).
const DaemonJSONStep = "daemon-json"

// Steps in the order they run on every host.
var Steps = []Step{
	// First: apt's and Docker's TLS and signature checks need a right clock.
	{TimeSyncStep, "installs chrony, writes " + ChronyConfPath + " (the configured servers only), installs " + ClockMetricsPath + " and " + ClockMetricsUnit + ".timer (chrony's offset and sync state into node exporter's textfile directory every " + ClockMetricsInterval + "), restarts them when changed, then waits (at most " + TimeSyncWait.String() + ") until the clock is synchronised with less than the configured bound to correct", true},
	{"docker", "installs Docker Engine " + MinDocker + "+ (the distribution's docker.io, else Docker's apt repository, its key checked against a pinned fingerprint), installs curl (the swarm join talks to the Engine API), enables docker.service and adds the SSH user to the docker group; refuses an older Docker already there", false},
	{DaemonJSONStep, "writes /etc/docker/daemon.json (json-file logs " + container.LogMaxSize + " x " + container.LogMaxFile + ", live-restore off, nofile ulimit, metrics on <cluster address>:9323, no-new-privileges, no inter-container traffic on the default bridge) and restarts docker only when its content changed, then waits until every container that ran before runs again (healthy where it has a health check); hosts restart one at a time, each after the previous host's step", true},
	{"sysctl", "writes /etc/sysctl.d/90-aurigraph.conf (the host's kernel settings, vm.max_map_count=262144 where Elasticsearch runs) and loads it when the file or a running value differs", true},
	{"dirs", "creates the data path, every service directory with its owner and mode, and the SSH user's staging directory for config files", true},
	{"firewall", "installs nftables, writes /etc/aurigraph/firewall.nft (table inet aurigraph only, default drop) and aurigraph-firewall.service, checks then loads the rules", true},
	{"exporters", "installs prometheus-node-exporter (and cadvisor where the distribution has it), binds them to <cluster address>:9100 / :9280 with systemd drop-ins, installs " + ContainerMetricsPath + " and " + ContainerMetricsUnit + ".timer (per-container memory and restart metrics into node exporter's textfile directory every " + ContainerMetricsInterval + "), " + CertMetricsPath + " and " + CertMetricsUnit + ".timer (expiry of every certificate under the data path, every " + CertMetricsInterval + "), " + LoggingMetricsPath + " and " + LoggingMetricsUnit + ".timer (Elasticsearch health and Logstash events where they run, every " + LoggingMetricsInterval + "), restarts them when changed", true},
	{SecurityUpdatesStep, "installs unattended-upgrades and writes " + UnattendedUpgradesConf + " (Debian security updates only, " + strings.Join(HeldPackages, " ") + " held because a Docker upgrade restarts every container, automatic reboots off unless updates.automaticReboot, daily lists and upgrades), enables apt-daily(-upgrade).timer, installs " + RebootRequiredPath + " and " + RebootRequiredUnit + ".timer (" + RebootRequiredMetric + " into node exporter's textfile directory every " + RebootRequiredInterval + ")", true},
	{"logging", "installs rsyslog, rsyslog-gnutls and logrotate, writes " + RsyslogConfPath + " forwarding the journal, every container's json-file log and the service log files on the host to Logstash on <logging host>:5514/tcp (JSON lines over TLS with the host's client certificate from " + LogTLSDir + ") and " + LogrotateConfPath + " (logs whose writer reopens on a signal), validates and restarts rsyslog", true},
	{WatchdogStep, "installs " + WatchdogPath + " and " + WatchdogUnit + ".timer (state in " + WatchdogStateDir + "): every selfHealing.intervalSeconds it restarts a container labelled " + container.ManagedByLabel + "=" + container.ManagedByValue + " that Docker reported unhealthy for the service's number of consecutive checks, with exponential back-off and a ceiling per hour, logs each restart (syslog tag " + WatchdogTag + ") and writes " + WatchdogRestartsMetric + " and " + WatchdogGaveUpMetric + " into node exporter's textfile directory", true},
	{DriftCheckStep, "installs " + DriftCheckPath + " and " + DriftCheckUnit + ".timer: every " + DriftCheckInterval + " it compares the files every step recorded in " + ManifestDir + " with their checksums and writes aurigraph_managed_files_drifted into node exporter's textfile directory", true},
}

// StagingDir is where config files land as the SSH user before they are
// installed with their owner and mode.
func StagingDir(dataPath string) string { return path.Join(dataPath, ".staging") }

// KV is one kernel setting.
type KV struct{ Key, Value string }

// PrepareValues is everything the preparation scripts are rendered from.
type PrepareValues struct {
	Host                 string
	User                 string // the SSH user: docker group member, owner of the staging dir
	StagingDir           string
	Step                 string
	MinDocker            string
	DockerKeyFingerprint string
	DaemonJSON           string
	DockerWaitSeconds    int // EngineRestartWait
	Sysctls              []KV
	SysctlConf           string
	Dirs                 []Dir
	Firewall             string
	FirewallUnit         string
	NodeExporterDropIn   string
	ContainerMetrics     string // the script
	MetricsService       string
	MetricsTimer         string
	MetricsPath          string // where the script is installed
	MetricsUnit          string // service and timer name, without suffix
	CadvisorDropIn       string
	CadvisorPort         int
	Rsyslog              string
	Logrotate            string // "" when no log file needs rotating here
	LogTLSDir            string
	RsyslogConfPath      string
	LogrotateConfPath    string
	// ExtraMetrics: the certificate and log pipeline scripts with their units.
	ExtraMetrics []MetricsScript
	// Time synchronisation (step time-sync).
	ChronyConfPath      string
	ChronyConf          string
	TimeServers         string // space-separated, for messages
	MaxOffsetSeconds    string // e.g. "0.100"
	TimeSyncWaitSeconds int    // TimeSyncWait
	ClockMetrics        string // the script
	ClockMetricsPath    string
	ClockMetricsUnit    string
	ClockMetricsService string
	ClockMetricsTimer   string
	ManifestDir         string
	DriftCheck          string // the script
	DriftCheckService   string
	DriftCheckTimer     string
	DriftCheckPath      string
	DriftCheckUnit      string
	// Step security-updates: the apt configuration, and the reboot marker
	// script with its units.
	UnattendedUpgrades     string
	UnattendedUpgradesPath string
	RebootScript           string
	RebootService          string
	RebootTimer            string
	RebootPath             string
	RebootUnit             string
	// Step watchdog: the script and its units.
	Watchdog         string
	WatchdogService  string
	WatchdogTimer    string
	WatchdogPath     string
	WatchdogUnit     string
	WatchdogStateDir string
}

var (
	sysctlKeyRE   = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)+$`)
	sysctlValueRE = regexp.MustCompile(`^[0-9A-Za-z_ .:-]+$`)
	modeRE        = regexp.MustCompile(`^0?[0-7]{3}$`)
)

// NewPrepareValues renders every file the preparation puts on host a.
func NewPrepareValues(a HostArgs) (PrepareValues, error) {
	cluster := a.ClusterAddress
	if cluster == "" {
		cluster = a.Address
	}
	v := PrepareValues{Host: a.Name, User: a.User, StagingDir: StagingDir(a.DataPath), MinDocker: MinDocker, DockerKeyFingerprint: DockerKeyFingerprint, CadvisorPort: CadvisorPort,
		DockerWaitSeconds: int(EngineRestartWait / time.Second)}
	var err error
	if v.DaemonJSON, err = RenderDaemonJSON(cluster); err != nil {
		return v, err
	}
	if v.Sysctls, v.SysctlConf, err = renderSysctls(a.Sysctls); err != nil {
		return v, err
	}
	if v.Dirs, err = dirsFor(a.DataPath, a.Dirs); err != nil {
		return v, err
	}
	fw, err := NewFirewallValues(a)
	if err != nil {
		return v, err
	}
	if v.Firewall, err = RenderFirewall(fw); err != nil {
		return v, err
	}
	v.FirewallUnit = firewallUnit
	v.NodeExporterDropIn = fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/prometheus-node-exporter --web.listen-address=%s --collector.textfile.directory=%s\n",
		net.JoinHostPort(cluster, fmt.Sprint(NodeExporterPort)), TextfileDir)
	v.ContainerMetrics = ContainerMetricsScript
	v.MetricsService = containerMetrics.service()
	v.MetricsTimer = containerMetrics.timer()
	v.MetricsPath, v.MetricsUnit = ContainerMetricsPath, ContainerMetricsUnit
	if v.ExtraMetrics, err = extraMetrics(a); err != nil {
		return v, err
	}
	for i := range v.ExtraMetrics {
		m := &v.ExtraMetrics[i]
		for _, f := range []*string{&m.Script, &m.Service, &m.Timer} {
			if *f, err = fileContent("host "+a.Name, *f); err != nil {
				return v, err
			}
		}
	}
	v.CadvisorDropIn = fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/cadvisor -listen_ip=%s -port=%d -docker_only=true -housekeeping_interval=15s\n",
		cluster, CadvisorPort)
	v.RsyslogConfPath, v.LogrotateConfPath = RsyslogConfPath, LogrotateConfPath
	if a.LoggingTarget != "" {
		if v.Rsyslog, err = RenderRsyslog(NewRsyslogValues(a)); err != nil {
			return v, err
		}
		if v.Logrotate, err = RenderLogrotate(a.Name, a.LogFiles); err != nil {
			return v, err
		}
		v.LogTLSDir = LogTLSDir
	}
	if err := timeSyncValues(&v, a); err != nil {
		return v, err
	}
	v.ManifestDir, v.DriftCheckPath, v.DriftCheckUnit = ManifestDir, DriftCheckPath, DriftCheckUnit
	v.DriftCheck, v.DriftCheckService, v.DriftCheckTimer = DriftCheckScript, driftCheck.service(), driftCheck.timer()
	if v.UnattendedUpgrades, err = RenderUnattendedUpgrades(a.Updates); err != nil {
		return v, err
	}
	v.RebootScript, v.RebootService, v.RebootTimer = RebootRequiredScript, rebootRequired.service(), rebootRequired.timer()
	v.RebootPath, v.RebootUnit, v.UnattendedUpgradesPath = RebootRequiredPath, RebootRequiredUnit, UnattendedUpgradesConf
	if v.Watchdog, err = RenderWatchdog(a.SelfHealing); err != nil {
		return v, err
	}
	wu := watchdogUnits(a.SelfHealing)
	v.WatchdogService, v.WatchdogTimer = wu.service(), wu.timer()
	v.WatchdogPath, v.WatchdogUnit, v.WatchdogStateDir = WatchdogPath, WatchdogUnit, WatchdogStateDir
	for _, f := range []*string{&v.ChronyConf, &v.ClockMetrics, &v.ClockMetricsService, &v.ClockMetricsTimer, &v.DaemonJSON, &v.SysctlConf, &v.Firewall, &v.FirewallUnit, &v.NodeExporterDropIn, &v.ContainerMetrics, &v.MetricsService, &v.MetricsTimer, &v.CadvisorDropIn, &v.Rsyslog, &v.Logrotate,
		&v.DriftCheck, &v.DriftCheckService, &v.DriftCheckTimer, &v.UnattendedUpgrades, &v.RebootScript, &v.RebootService, &v.RebootTimer, &v.Watchdog, &v.WatchdogService, &v.WatchdogTimer} {
		if *f, err = fileContent("host "+a.Name, *f); err != nil {
			return v, err
		}
	}
	return v, nil
}

// StepScript is one rendered step.
type StepScript struct {
	Step   Step
	Script string
}

// RenderStep renders one step's script (see the usage header it carries).
func RenderStep(v PrepareValues, step string) (string, error) {
	known := false
	for _, s := range Steps {
		known = known || s.Name == step
	}
	if !known {
		return "", fmt.Errorf("unknown preparation step %q", step)
	}
	v.Step = step
	var out strings.Builder
	for _, part := range []string{"lib", step, "main"} {
		s, err := render(part, v)
		if err != nil {
			return "", err
		}
		out.WriteString(s)
	}
	return out.String(), nil
}

// RenderPrepare renders every step, in order.
func RenderPrepare(v PrepareValues) ([]StepScript, error) {
	out := make([]StepScript, 0, len(Steps))
	for _, s := range Steps {
		script, err := RenderStep(v, s.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, StepScript{Step: s, Script: script})
	}
	return out, nil
}

// StepCommand is the command a step script runs under (the script is its
// stdin): as root, through sudo for another user. root is "" on real hosts.
func StepCommand(mode, root string) string {
	args := "-- " + shell.Quote(mode)
	if root != "" {
		args += " " + shell.Quote(root)
	}
	return fmt.Sprintf(`if [ "$(id -u)" -eq 0 ]; then exec bash -s %[1]s; else exec sudo -n bash -s %[1]s; fi`, args)
}

// PreflightCommand runs the preflight script (its stdin); it needs no root.
const PreflightCommand = "exec bash -s"

// StepResult is one step's machine-readable outcome.
type StepResult struct {
	Step    string
	Changed bool
	Mode    string
}

var stepLineRE = regexp.MustCompile(`(?m)^step=(\S+) changed=(yes|no) mode=(check|apply)$`)

// ParseStepResults reads the step=… lines of scripts' output.
func ParseStepResults(out string) []StepResult {
	var rs []StepResult
	for _, m := range stepLineRE.FindAllStringSubmatch(out, -1) {
		rs = append(rs, StepResult{Step: m[1], Changed: m[2] == "yes", Mode: m[3]})
	}
	return rs
}

// daemonConfig is /etc/docker/daemon.json; field order is the file's order.
type daemonConfig struct {
	LogDriver       string            `json:"log-driver"`
	LogOpts         map[string]string `json:"log-opts"`
	LiveRestore     bool              `json:"live-restore"`
	DefaultUlimits  map[string]ulimit `json:"default-ulimits"`
	MetricsAddr     string            `json:"metrics-addr"`
	NoNewPrivileges bool              `json:"no-new-privileges"`
	ICC             bool              `json:"icc"`
}

type ulimit struct {
	Name string `json:"Name"`
	Soft int    `json:"Soft"`
	Hard int    `json:"Hard"`
}

// RenderDaemonJSON renders daemon.json. live-restore stays off: dockerd
// refuses to start its Swarm component with it, and the overlay network
// needs Swarm; containers come back through their restart policy instead.
func RenderDaemonJSON(clusterAddress string) (string, error) {
	if _, err := netip.ParseAddr(clusterAddress); err != nil {
		return "", fmt.Errorf("daemon.json: cluster address %q: %w", clusterAddress, err)
	}
	b, err := json.MarshalIndent(daemonConfig{
		LogDriver:       container.LogDriver,
		LogOpts:         map[string]string{"max-size": container.LogMaxSize, "max-file": container.LogMaxFile},
		LiveRestore:     false,
		DefaultUlimits:  map[string]ulimit{"nofile": {Name: "nofile", Soft: container.NoFileLimit, Hard: container.NoFileLimit}},
		MetricsAddr:     net.JoinHostPort(clusterAddress, fmt.Sprint(DockerMetricsPort)),
		NoNewPrivileges: true,
		ICC:             false,
	}, "", "  ")
	return string(b) + "\n", err
}

func renderSysctls(m map[string]string) ([]KV, string, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kvs []KV
	var b strings.Builder
	b.WriteString("# Rendered by components/host: kernel settings the services on this host need.\n")
	for _, k := range keys {
		if !sysctlKeyRE.MatchString(k) || !sysctlValueRE.MatchString(m[k]) {
			return nil, "", fmt.Errorf("sysctl %q=%q is not a valid setting", k, m[k])
		}
		kvs = append(kvs, KV{k, m[k]})
		fmt.Fprintf(&b, "%s = %s\n", k, m[k])
	}
	return kvs, b.String(), nil
}

// dirsFor puts the data path first, then the directories sorted by path, so
// parents exist before their children; duplicates must agree.
func dirsFor(dataPath string, dirs []Dir) ([]Dir, error) {
	if !path.IsAbs(dataPath) {
		return nil, fmt.Errorf("data path %q is not absolute", dataPath)
	}
	seen := map[string]Dir{}
	out := []Dir{{Path: path.Clean(dataPath), Mode: "0755"}}
	seen[out[0].Path] = out[0]
	sorted := append([]Dir{}, dirs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, d := range sorted {
		d.Path = path.Clean(d.Path)
		if d.Mode == "" {
			d.Mode = "0750"
		}
		if !path.IsAbs(d.Path) || !modeRE.MatchString(d.Mode) || d.UID < 0 || d.GID < 0 {
			return nil, fmt.Errorf("directory %+v: absolute path, octal mode and owner required", d)
		}
		if prev, ok := seen[d.Path]; ok {
			if prev != d {
				return nil, fmt.Errorf("directory %s is declared twice differently", d.Path)
			}
			continue
		}
		seen[d.Path] = d
		out = append(out, d)
	}
	return out, nil
}

// prepare runs preflight, then every preparation step in order, each a
// remote command over the host's pinned SSH connection. It returns the last
// step, what everything touching Docker on the host waits for, and the
// daemon-json step, which the next host's daemon-json step waits for.
func prepare(ctx *pulumi.Context, name string, h *Host, a HostArgs) (last, daemon pulumi.Resource, err error) {
	pre, err := RenderPreflight(NewPreflightValues(a))
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", a.Name, err)
	}
	values, err := NewPrepareValues(a)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", a.Name, err)
	}
	steps, err := RenderPrepare(values)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", a.Name, err)
	}
	timeouts := pulumi.Timeouts(&pulumi.CustomTimeouts{Create: a.StepTimeout, Update: a.StepTimeout})
	last, err = hostcmd.New(ctx, name+"-preflight", hostcmd.Args{
		Connection: h.Connection,
		Run:        pulumi.String(PreflightCommand),
		Stdin:      pulumi.String(pre),
	}, pulumi.Parent(h), timeouts)
	if err != nil {
		return nil, nil, err
	}
	apply := StepCommand("apply", "")
	for _, s := range steps {
		after := []pulumi.Resource{last}
		if s.Step.Name == DaemonJSONStep && a.EngineRestartAfter != nil {
			// Restarting dockerd stops every container on the host (no
			// live-restore under Swarm): hosts take turns, each after the
			// previous host's containers are back.
			after = append(after, a.EngineRestartAfter)
		}
		last, err = hostcmd.New(ctx, name+"-prepare-"+s.Step.Name, hostcmd.Args{
			Connection: h.Connection,
			Run:        pulumi.String(apply),
			Stdin:      pulumi.String(s.Script),
		}, pulumi.Parent(h), pulumi.DependsOn(after), timeouts)
		if err != nil {
			return nil, nil, err
		}
		if s.Step.Name == DaemonJSONStep {
			daemon = last
		}
	}
	return last, daemon, nil
}

const firewallUnit = `[Unit]
Description=Aurigraph host firewall (nftables table inet aurigraph)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/aurigraph/firewall.nft
ExecReload=/usr/sbin/nft -f /etc/aurigraph/firewall.nft

[Install]
WantedBy=sysinit.target
`

// containerMetrics needs root for the Docker socket.
var containerMetrics = metricsUnits{
	Measures: "per-container memory metrics", Script: ContainerMetricsPath, After: "docker.service",
	Every: ContainerMetricsInterval, BootDelay: ContainerMetricsInterval,
}

// driftCheck runs as root: some recorded files are readable by root only
// (firewall.nft). A hand edit shows within DriftCheckInterval; the alert
// waits longer than that (components/prometheus).
var driftCheck = metricsUnits{
	Measures: "drift check (installed files against their recorded checksums)", Script: DriftCheckPath,
	Env: []string{"MANIFEST_DIR=" + ManifestDir}, Every: DriftCheckInterval, BootDelay: "1min",
}
