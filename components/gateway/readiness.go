package gateway

import (
	_ "embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/shell"
)

// The readiness gate: the gateway stops routing to a replica whose
// readiness fails. Open-source nginx has no active health checks, and the
// passive ones (max_fails, proxy_next_upstream on 502/503/504) only see a
// replica that fails requests; an unready replica (its database away) may
// still answer them. So a timer on the gateway's host probes every
// replica's readiness, as the application's readiness probe does (every
// 10 s, timeout 5 s, unready after 3 failures), and marks an unready
// replica's servers `down` in the live nginx.conf — the mechanism the
// reboot drain uses (drain.go) — then reloads nginx gracefully; one
// success puts it back. The marks carry GateMark, so the gate never touches
// a drained server and hashes of the live file can leave them out.
const (
	// GateMark ends a server line the gate marked down.
	GateMark = " # unready"
	// GatePath is the installed script, run by GateUnit's timer.
	GatePath = "/usr/local/lib/aurigraph/readiness-gate"
	GateUnit = "aurigraph-readiness-gate"
	// GateStateDir holds the consecutive failures per replica.
	GateStateDir = "/var/lib/aurigraph/readiness-gate"
	// GateTag is the syslog tag of the gate's lines.
	GateTag = "aurigraph-readiness-gate"
	// The application's readiness probe (SPEC): every 10 s, 3 failures.
	GateIntervalSeconds = GuardInterval
	GateRetries         = 3
	// GateMetricFile is where each run writes app.ReadinessFailuresMetric
	// in node exporter's textfile directory. The template spells the
	// metric out, so the metric catalogue finds it (components/prometheus,
	// TextfileMetricsIn).
	GateMetricFile = "aurigraph-readiness-gate.prom"
)

// unmarkSed is the sed expression that takes the gate's marks out of a
// configuration: what the release guard and the reboot drain compare.
const unmarkSed = "s/ down;" + GateMark + "$/;/"

//go:embed readiness-gate.sh.tmpl
var gateTemplate string

var gateTmpl = template.Must(template.New("readiness-gate").Funcs(template.FuncMap{"sq": shell.Quote}).Parse(gateTemplate))

// GateValues is everything the readiness gate depends on, as plain data.
type GateValues struct {
	// Slots are the gateway's slots: every REST server is probed, with or
	// without weight, and the gRPC server on the same host follows it.
	Slots []Slot
	// ConfPath is the live nginx.conf on the host; Owner (uid:gid) and Mode
	// are what it is written with.
	ConfPath, Owner, Mode string
	StateDir              string
	// DockerExec prefixes every probe ("docker exec nginx"); "" probes from
	// this machine (tests). Nginx tests and reloads what nginx reads.
	DockerExec, Nginx string
	Timeout, Retries  int
	IntervalSeconds   int
	ReadyPath         string
}

type gateView struct {
	GateValues
	UID, GID, Replicas, Mark, Tag, Unit, ManifestDir string
	TextfileDir, MetricFile                          string
}

// CheckGate reports values that would give a broken or unsafe script.
func CheckGate(v GateValues) error {
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if len(gateReplicas(v.Slots)) == 0 {
		add("no replica to probe")
	}
	for _, s := range v.Slots {
		if !upstreamRE.MatchString(slotName(s)) {
			add("slot %q is not a plain name (it labels the readiness metric)", slotName(s))
		}
		for _, a := range append(append([]string{}, s.HTTP...), s.GRPC...) {
			if !serverRE.MatchString(a) {
				add("slot %s server %q is not host:port", s.Name, a)
			}
		}
	}
	for _, p := range []string{v.ConfPath, v.StateDir} {
		if !hostPathRE.MatchString(p) {
			add("path %q is not absolute or has unsafe characters", p)
		}
	}
	checkScriptValues(add, v.Owner, v.Mode, v.DockerExec, v.Nginx, v.ReadyPath)
	if v.Timeout < 1 || v.Retries < 1 || v.IntervalSeconds < 1 {
		add("bounds: %d s timeout, %d retries, every %d s", v.Timeout, v.Retries, v.IntervalSeconds)
	}
	if len(problems) > 0 {
		return fmt.Errorf("readiness gate: %s", strings.Join(problems, "; "))
	}
	return nil
}

// gateReplicas pairs every REST server with the gRPC server on the same
// host and its slot ("rest,grpc,slot", "rest,-,slot" without gRPC),
// sorted, each once.
func gateReplicas(slots []Slot) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range slots {
		grpc := map[string]string{}
		for _, g := range s.GRPC {
			h, _, _ := strings.Cut(g, ":")
			grpc[h] = g
		}
		for _, a := range s.HTTP {
			h, _, _ := strings.Cut(a, ":")
			g := grpc[h]
			if g == "" {
				g = "-"
			}
			if r := a + "," + g + "," + slotName(s); !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// slotName is the release slot a gateway slot serves: its route (blue,
// green), else its upstream's name.
func slotName(s Slot) string {
	if s.Route != "" {
		return s.Route
	}
	return s.Name
}

// RenderGate returns the readiness gate script for v (a pure function).
func RenderGate(v GateValues) (string, error) {
	if err := CheckGate(v); err != nil {
		return "", err
	}
	vw := gateView{GateValues: v, Replicas: strings.Join(gateReplicas(v.Slots), " "), Mark: GateMark, Tag: GateTag, Unit: GateUnit, ManifestDir: host.ManifestDir,
		TextfileDir: host.TextfileDir, MetricFile: GateMetricFile}
	vw.UID, vw.GID, _ = strings.Cut(v.Owner, ":")
	var b strings.Builder
	if err := gateTmpl.ExecuteTemplate(&b, "gate", vw); err != nil {
		return "", err
	}
	return b.String(), nil
}

// ProductionGate is the readiness gate of a gateway whose directory on the
// host is dir.
func ProductionGate(v Values, dir string) GateValues {
	return GateValues{
		Slots:    v.Slots,
		ConfPath: ConfFile(dir), Owner: fmt.Sprintf("%d:%d", UID, UID), Mode: ConfMode,
		StateDir:   GateStateDir,
		DockerExec: "docker exec " + ContainerName,
		Nginx:      "docker exec " + ContainerName + " nginx -c " + ConfPath,
		Timeout:    GuardTimeout, Retries: GateRetries, IntervalSeconds: GateIntervalSeconds,
		ReadyPath: ReadyPath,
	}
}

// gateUnits are the gate's service and timer: root (the Docker socket and
// nginx.conf), every IntervalSeconds from the last run.
func gateUnits(v GateValues) (service, timer string) {
	service = "[Unit]\nDescription=Aurigraph gateway readiness gate (marks unready replicas down in nginx)\nAfter=docker.service\n\n" +
		"[Service]\nType=oneshot\nEnvironment=STATE_DIR=" + v.StateDir + "\nExecStart=" + GatePath + "\nNoNewPrivileges=yes\nProtectHome=yes\nPrivateTmp=yes\n"
	timer = fmt.Sprintf("[Unit]\nDescription=Run the Aurigraph gateway readiness gate every %[1]ds\n\n"+
		"[Timer]\nOnBootSec=1min\nOnUnitActiveSec=%[1]ds\nAccuracySec=1s\n\n[Install]\nWantedBy=timers.target\n", v.IntervalSeconds)
	return service, timer
}

// RenderGateInstall returns the script installing the gate and its timer.
func RenderGateInstall(v GateValues) (string, error) {
	script, err := RenderGate(v)
	if err != nil {
		return "", err
	}
	service, timer := gateUnits(v)
	data := map[string]any{
		"Dir": path.Dir(GatePath), "StateDir": v.StateDir, "Path": GatePath,
		"Script": strings.TrimRight(script, "\n"), "Service": strings.TrimRight(service, "\n"), "Timer": strings.TrimRight(timer, "\n"),
		"ServicePath": "/etc/systemd/system/" + GateUnit + ".service", "TimerPath": "/etc/systemd/system/" + GateUnit + ".timer",
		"TimerUnit": GateUnit + ".timer", "IntervalSeconds": v.IntervalSeconds,
	}
	for _, s := range []string{script, service, timer} {
		for _, line := range strings.Split(s, "\n") {
			if line == "AURIGRAPH_EOF" {
				return "", fmt.Errorf("readiness gate: a file contains the line AURIGRAPH_EOF")
			}
		}
	}
	var b strings.Builder
	if err := gateTmpl.ExecuteTemplate(&b, "install", data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// gateOwned is what the install step owns: its delete stops the timer and
// removes the files (the marks in nginx.conf go with the next deployment).
var gateOwned = &hostcmd.Owned{
	Items: []string{"/etc/systemd/system/" + GateUnit + ".timer", "/etc/systemd/system/" + GateUnit + ".service", GatePath},
	Remove: `case "$1" in
  *.timer) $SUDO systemctl disable --now "$(basename "$1")" || true ;;
esac
$SUDO rm -f "$1"`,
	After: "$SUDO systemctl daemon-reload",
}

// newReadinessGate installs the gate on the gateway's host once nginx runs
// its configuration; the script (with the replica list) is the step's
// stdin, so a new replica list re-installs it.
func newReadinessGate(ctx *pulumi.Context, name string, args GatewayArgs, after []pulumi.Resource, parent pulumi.ResourceOption) error {
	install, err := RenderGateInstall(ProductionGate(args.Config, args.Dir))
	if err != nil {
		return fmt.Errorf("gateway %s: %w", name, err)
	}
	_, err = hostcmd.New(ctx, name+"-readiness-gate", hostcmd.Args{
		Connection: args.Engine.Connection,
		Run:        pulumi.String("bash -s"),
		Stdin:      pulumi.String(install),
		Owns:       gateOwned,
	}, parent, pulumi.DependsOn(after))
	return err
}
