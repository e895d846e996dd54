package postgres

import (
	"fmt"
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/offsite"
	"github.com/aurigraph/infra/internal/shell"
)

// ScratchContainer is the drill's scratch server on the drill host,
// removed after each drill.
const ScratchContainer = "aurigraph-drill-postgres"

// ScratchScripts are the data host's script values with the scratch
// server in place of the live container.
func ScratchScripts(v ScriptValues) ScriptValues {
	v.Container = ScratchContainer
	return v
}

// OffsiteDrillArgs place the recovery drill from the off-host copy on a
// host other than the data host.
type OffsiteDrillArgs struct {
	// Engine is the drill host's.
	Engine *host.Engine
	// Copies are the PostgreSQL off-host copies installed ReadOnly on the
	// drill host (offsite.New): the drill fetches with their script.
	Copies *offsite.Copies
	// Image is the live PostgreSQL image pulled on the drill host
	// (host.Engine.Image); ImageRef is its reference, which the script runs.
	Image    pulumi.StringInput
	ImageRef string
	// DataServiceDir is PostgreSQL's directory on the data host: the dumps'
	// path in the copy.
	DataServiceDir string
	Retention      Retention
	// Dir holds bin/postgres-drill.sh and drill/postgres/ (the fetched
	// copy, the report) on the drill host.
	Dir   string
	Drill Drill
}

// OffsiteDrill is the drill installed on its host.
type OffsiteDrill struct {
	pulumi.ResourceState
	// Script is postgres-drill.sh's path on the drill host.
	Script string
	// Timers is the drill's timer step.
	Timers pulumi.Resource
}

// OffsiteDrillValues are the script's values for a deployment.
func (a OffsiteDrillArgs) Values() OffsiteDrillValues {
	sv := ScratchScripts(Scripts(a.DataServiceDir, a.Retention))
	sv.DrillMaxAge = a.Drill.MaxAge
	return OffsiteDrillValues{ScriptValues: sv, Offsite: a.Copies.Script,
		WorkDir: path.Join(a.Dir, "drill", Store), Image: a.ImageRef}
}

// NewOffsiteDrill installs postgres-drill.sh on the drill host and its
// timer (store postgres, kind drill), with restic; the timer waits for the
// copies' script and secrets and for the image.
func NewOffsiteDrill(ctx *pulumi.Context, name string, a OffsiteDrillArgs, opts ...pulumi.ResourceOption) (*OffsiteDrill, error) {
	if a.Engine == nil || a.Copies == nil || a.Image == nil {
		return nil, fmt.Errorf("postgres drill %s: the drill host, the off-host copies and the image are required", name)
	}
	script, err := RenderOffsiteDrill(a.Values())
	if err != nil {
		return nil, err
	}
	d := &OffsiteDrill{Script: path.Join(a.Dir, "bin", "postgres-drill.sh")}
	if err := ctx.RegisterComponentResource("aurigraph:postgres:OffsiteDrill", name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	files, err := configfile.New(ctx, name+"-script", configfile.Args{Host: a.Engine.Host,
		Files: []configfile.File{{Path: d.Script, Content: script, Mode: "0750"}}}, parent)
	if err != nil {
		return nil, err
	}
	// The image is on the drill host before the timer can fire: a step
	// that reads it from the engine takes the pull's output.
	image, err := hostcmd.New(ctx, name+"-image", hostcmd.Args{
		Connection: a.Engine.Connection,
		Run: a.Image.ToStringOutput().ApplyT(func(ref string) string {
			return "docker image inspect --format '{{.Id}}' " + shell.Quote(ref) + " >/dev/null"
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, err
	}
	job := DrillJob("PostgreSQL recovery drill from the off-host copy", d.Script, a.Drill)
	timers, err := backupjob.NewTimers(ctx, name+"-timers", backupjob.TimersArgs{Connection: a.Engine.Connection,
		// restic fetches the copy (offsite.Copies: a ReadOnly host's jobs install it).
		TimerValues: backupjob.TimerValues{Jobs: []backupjob.Job{job}, Packages: []string{"restic"}}},
		parent, pulumi.DependsOn(append(append([]pulumi.Resource{image}, files.Copies...), a.Copies.Ready...)))
	if err != nil {
		return nil, err
	}
	d.Timers = timers
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{})
}
