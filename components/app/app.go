// Package app deploys the Aurigraph V11 application: its node tiers
// (validator, business, slim) in the blue and green release slots, each
// replica a container on its host, rolled out tier group by tier group.
package app

import (
	"bytes"
	_ "embed"
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/network"
)

// Service is the service kind, DNS alias of every replica and label value.
const Service = "aurigraph-v11"

// WaitTimeout bounds how long the provider waits for a replica to become
// healthy: the start period (the startup probe's 150 s) plus a liveness
// interval, with margin.
const WaitTimeout = 5 * time.Minute

// Replica is one application container and where it runs.
type Replica struct {
	Name   string // container and DNS name, e.g. aurigraph-v11-blue-business-3
	Tier   string
	Slot   string
	Group  int // rolling group within the tier, from 1
	Index  int
	Engine *host.Engine
	Image  string // pinned image reference
}

// ApplicationArgs configures the application.
type ApplicationArgs struct {
	// Replicas in rolling order within each slot: slim, business group 1,
	// business group 2, …, validators. Each (slot, tier, group) is one
	// rolling step that waits for the previous step of its slot to be healthy.
	Replicas []Replica
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Resources container.Resources
	Settings  Settings
	Endpoints Endpoints
	// DataDir is the application's directory on each host; replica
	// directories are DataDir/<replica>/{data,logs}.
	DataDir          string
	PostgresPassword pulumi.StringInput
	RedisPassword    pulumi.StringInput
	// DependsOn is what every replica waits for besides its inputs: the
	// pre-deployment backup.
	DependsOn []pulumi.Resource
}

// Application is the deployed application.
type Application struct {
	pulumi.ResourceState

	// Tiers by "<slot>-<tier>".
	Tiers map[string]*Tier
	// Containers in rolling order; the gateway can wait for them.
	Containers []*docker.Container
	// Barriers are the rolling steps' barriers, in rolling order (see newBarrier).
	Barriers []*local.Command

	ContainerNames pulumi.StringArrayOutput `pulumi:"containers"`
}

// Tier holds one tier's containers in one slot.
type Tier struct {
	pulumi.ResourceState

	Slot, Tier string
	Containers []*docker.Container

	ContainerNames pulumi.StringArrayOutput `pulumi:"containers"`
}

// Step is one rolling step: one tier group of one slot.
type Step struct {
	Slot     string
	Tier     string
	Group    int
	Replicas []Replica
}

// RollingSteps groups replicas into steps, in the order their first replica
// appears; steps of one slot follow each other, slots are independent.
func RollingSteps(replicas []Replica) []Step {
	var steps []Step
	index := map[string]int{}
	for _, r := range replicas {
		key := fmt.Sprintf("%s/%s/%d", r.Slot, r.Tier, r.Group)
		i, ok := index[key]
		if !ok {
			i = len(steps)
			index[key] = i
			steps = append(steps, Step{Slot: r.Slot, Tier: r.Tier, Group: r.Group})
		}
		steps[i].Replicas = append(steps[i].Replicas, r)
	}
	return steps
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func (a ApplicationArgs) validate() error {
	var problems []string
	if len(a.Replicas) == 0 {
		problems = append(problems, "no replicas")
	}
	if a.Zones == nil {
		problems = append(problems, "zones are not set")
	}
	if !path.IsAbs(a.DataDir) {
		problems = append(problems, fmt.Sprintf("data directory %q is not absolute", a.DataDir))
	}
	if a.PostgresPassword == nil || a.RedisPassword == nil {
		problems = append(problems, "the PostgreSQL and Redis passwords are required")
	}
	if a.Endpoints.OTLP == nil || a.Endpoints.JaegerGRPC == nil {
		problems = append(problems, "the tracing endpoints (Jaeger's outputs) are required")
	}
	seen := map[string]bool{}
	for _, r := range a.Replicas {
		switch {
		case !nameRE.MatchString(r.Name):
			problems = append(problems, fmt.Sprintf("replica name %q is not a DNS label", r.Name))
		case seen[r.Name]:
			problems = append(problems, fmt.Sprintf("replica %s appears twice", r.Name))
		case r.Engine == nil:
			problems = append(problems, fmt.Sprintf("replica %s has no Docker engine (host.NewEngine)", r.Name))
		case r.Image == "" || r.Tier == "" || r.Slot == "" || r.Group < 1:
			problems = append(problems, fmt.Sprintf("replica %s needs an image, tier, slot and group", r.Name))
		}
		seen[r.Name] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("application: %s", strings.Join(problems, "; "))
	}
	return nil
}

// NewApplication creates every replica: a Tier component per slot and tier,
// and per replica its directories and its container.
func NewApplication(ctx *pulumi.Context, name string, args ApplicationArgs, opts ...pulumi.ResourceOption) (*Application, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	a := &Application{Tiers: map[string]*Tier{}}
	if err := ctx.RegisterComponentResource("aurigraph:app:Application", name, a, opts...); err != nil {
		return nil, err
	}
	var tierOrder []*Tier
	previous := map[string]*local.Command{} // slot → the previous step's barrier
	for _, step := range RollingSteps(args.Replicas) {
		key := step.Slot + "-" + step.Tier
		t, ok := a.Tiers[key]
		if !ok {
			t = &Tier{Slot: step.Slot, Tier: step.Tier}
			if err := ctx.RegisterComponentResource("aurigraph:app:Tier", name+"-"+key, t, pulumi.Parent(a)); err != nil {
				return nil, err
			}
			a.Tiers[key] = t
			tierOrder = append(tierOrder, t)
		}
		// Every container of this step waits for the previous step's
		// barrier, which waits for every container of that step (healthy,
		// through WaitHealthy): the rolling order, with one edge per
		// container instead of one per pair of containers.
		waitFor := append([]pulumi.Resource{}, args.DependsOn...)
		if b, ok := previous[step.Slot]; ok {
			waitFor = append(waitFor, b)
		}
		var current []pulumi.Resource
		for _, r := range step.Replicas {
			c, err := newReplica(ctx, t, r, args, waitFor)
			if err != nil {
				return nil, err
			}
			t.Containers = append(t.Containers, c)
			a.Containers = append(a.Containers, c)
			current = append(current, c)
		}
		b, err := newBarrier(ctx, t, StepName(step), current)
		if err != nil {
			return nil, err
		}
		a.Barriers = append(a.Barriers, b)
		previous[step.Slot] = b
	}
	for _, t := range tierOrder {
		t.ContainerNames = containerNames(t.Containers)
		if err := ctx.RegisterResourceOutputs(t, pulumi.Map{"containers": t.ContainerNames}); err != nil {
			return nil, err
		}
	}
	a.ContainerNames = containerNames(a.Containers)
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"containers": a.ContainerNames})
}

// StepName names a rolling step's barrier:
// aurigraph-v11-<slot>-<tier>-<group>-healthy.
func StepName(s Step) string {
	return fmt.Sprintf("%s-%s-%s-%d-healthy", Service, s.Slot, s.Tier, s.Group)
}

// newBarrier is the rolling step's barrier: a resource that depends on
// every container of the step and that every container of the next step
// depends on, so the order costs one edge per container, not one per pair.
//
// It must be a custom resource: the SDK expands a component named in
// DependsOn into its children (addDependency, sdk/go/pulumi/rpc.go), which
// would bring back every pair. The SDK registers a resource only once each
// dependency's registration has completed (it awaits their URNs), so the
// barrier is registered only when every container of its step is created
// or replaced and healthy, and the next step only after the barrier.
//
// A local command with no create, update or delete: the provider runs
// nothing (no process on the machine running pulumi up, nothing on the
// hosts); it costs one state entry per step and the command plugin the
// host commands already use. No triggers: its inputs never change, so an
// update is a "same" step that still waits for its dependencies.
func newBarrier(ctx *pulumi.Context, t *Tier, name string, step []pulumi.Resource) (*local.Command, error) {
	return local.NewCommand(ctx, name, &local.CommandArgs{}, pulumi.Parent(t), pulumi.DependsOn(step))
}

func containerNames(cs []*docker.Container) pulumi.StringArrayOutput {
	var names pulumi.StringArray
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names.ToStringArrayOutput()
}

// newReplica creates the replica's directories on its host, then its container.
func newReplica(ctx *pulumi.Context, t *Tier, r Replica, args ApplicationArgs, waitFor []pulumi.Resource) (*docker.Container, error) {
	h := r.Engine
	dir := path.Join(args.DataDir, r.Name)
	script, err := RenderDirsScript(DirsValues{Replica: r.Name, Dir: dir, UID: UID})
	if err != nil {
		return nil, err
	}
	// No Delete: scaling down keeps the replica's data on the host.
	dirs, err := hostcmd.New(ctx, r.Name+"-dirs", hostcmd.Args{
		Connection: h.Connection,
		Run:        pulumi.String(script),
	}, pulumi.Parent(t), pulumi.DependsOn([]pulumi.Resource{h.Prepared}))
	if err != nil {
		return nil, err
	}
	image, err := h.Image(ctx, r.Image)
	if err != nil {
		return nil, err
	}
	spec := container.Spec{
		Service:  Service,
		Name:     r.Name,
		Image:    image,
		Networks: args.Zones.For(Service),
		Aliases:  []string{Service, Service + "-" + r.Tier},
		Resource: args.Resources,
		Health:   HealthCheck(),
		Env:      Environment(args.Settings, args.Endpoints, r),
		EnvFrom:  OutputEnvironment(args.Endpoints),
		SecretFiles: []container.SecretFile{{Name: SecretsFile, Env: EnvConfigLocations,
			Content: pulumi.ToSecret(pulumi.All(args.PostgresPassword, args.RedisPassword).ApplyT(func(v []any) string {
				return RenderSecrets(v[0].(string), v[1].(string))
			})).(pulumi.StringOutput)}},
		SecretsDir:     container.SecretsDir(args.DataDir, r.Name),
		User:           fmt.Sprint(UID),
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=512m"},
		// No Ports: 9003 and 9004 stay on the network, for the gateway and Prometheus.
		Mounts: []container.Mount{
			{HostPath: path.Join(dir, "data"), Target: DataMount},
			{HostPath: path.Join(dir, "logs"), Target: LogsMount},
		},
		Labels: map[string]string{
			TierLabel:      r.Tier,
			SlotLabel:      r.Slot,
			GroupLabel:     fmt.Sprint(r.Group),
			LivenessLabel:  Liveness.String(),
			ReadinessLabel: Readiness.String(),
			StartupLabel:   Startup.String(),
		},
		WaitHealthy: true,
		WaitTimeout: WaitTimeout,
	}
	secrets, err := configfile.NewContainerSecrets(ctx, r.Name+"-secrets", h.Host, spec, pulumi.Parent(t))
	if err != nil {
		return nil, err
	}
	deps := append(append(append([]pulumi.Resource{}, waitFor...), dirs), secrets.Copies...)
	return container.New(ctx, r.Name, spec,
		pulumi.Parent(t),
		pulumi.Provider(h.Provider),
		pulumi.DependsOn(deps),
	)
}

//go:embed dirs.sh.tmpl
var dirsTemplate string

var dirsTmpl = template.Must(template.New("dirs").Funcs(template.FuncMap{"shq": shell.Quote}).Parse(dirsTemplate))

// DirsValues fill the replica directories script.
type DirsValues struct {
	Replica string
	Dir     string // DataDir/<replica>
	UID     int
}

// RenderDirsScript renders the idempotent script creating a replica's
// data and logs directories, owned by UID, mode 0750.
func RenderDirsScript(v DirsValues) (string, error) {
	if !nameRE.MatchString(v.Replica) || !path.IsAbs(v.Dir) || v.UID < 1 {
		return "", fmt.Errorf("replica directories: invalid values %+v", v)
	}
	var b bytes.Buffer
	err := dirsTmpl.Execute(&b, struct {
		DirsValues
		DataDir, LogsDir string
	}{v, path.Join(v.Dir, "data"), path.Join(v.Dir, "logs")})
	return b.String(), err
}

// LogFiles are the application's log files on a host, which the host's
// rsyslog forwards: every replica's mounted /app/logs (the application
// rotates them itself, to <name>.log.N, which the glob leaves out).
func LogFiles(dataDir string) []host.LogFile {
	return []host.LogFile{{Glob: path.Join(dataDir, "*", "logs", "*.log"), Service: Service}}
}
