package offsite

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
)

// The copies' jobs: the copy every 5 minutes (with PostgreSQL's
// archive_timeout, what a lost host loses), the retention daily, the check
// weekly; each may be late by its period and a long run before it alerts.
var jobs = []struct {
	Kind, Mode, Every string
	Persistent        bool
	MaxAge            time.Duration
}{
	{"offsite-copy", "copy", "*:0/5", false, 20 * time.Minute},
	{"offsite-forget", "forget", "daily", true, 50 * time.Hour},
	{"offsite-check", "check", "weekly", true, 8 * 24 * time.Hour},
}

// CopyEvery is how often the copies run (OnCalendar).
var CopyEvery = jobs[0].Every

// Jobs are the scheduled runs of a store's offsite.sh at script.
func Jobs(store, script string) []backupjob.Job {
	var out []backupjob.Job
	for _, j := range jobs {
		out = append(out, backupjob.Job{Store: store, Kind: j.Kind, Description: fmt.Sprintf("%s off-host copies: %s", store, j.Mode),
			Command: "/bin/bash " + script + " " + j.Mode, Every: j.Every, Persistent: j.Persistent, MaxAge: j.MaxAge})
	}
	return out
}

// MaxAge is how old a kind's last success may be: the script records it.
func MaxAge(kind string) time.Duration {
	for _, j := range jobs {
		if j.Kind == kind {
			return j.MaxAge
		}
	}
	return 0
}

// Retention is how many snapshots the copies keep: the newest per hour,
// day, week and month.
type Retention struct{ Hourly, Daily, Weekly, Monthly int }

// Args copy one store's backups off its host.
type Args struct {
	// Source is the store, its host and its backup directories.
	Source backupjob.Source
	// Target is where the repositories are; each store has its own,
	// Target.Path/<store>, so one store's prune never waits for another's
	// copy.
	Target    SFTP
	Password  pulumi.StringInput // the repositories' password (secret)
	SSHKey    pulumi.StringInput // the key restic logs in to Target with (secret)
	Retention Retention
	// Dir holds bin/offsite-<store>.sh and the state (secrets, cache) in
	// offsite/<store>/ on the host.
	Dir string
	// ReadOnly installs the script and the secrets but no timer: a host
	// that only reads the copies (the recovery drill's).
	ReadOnly bool
}

// Copies is one store's off-host copies on one host.
type Copies struct {
	pulumi.ResourceState

	// Repository is restic's name of the store's repository.
	Repository pulumi.StringOutput `pulumi:"repository"`
	// Script is offsite.sh's path on the host: `Script restore DIR`.
	Script string
	// Ready are the steps that install the script, the secrets and, unless
	// ReadOnly, the timers. A ReadOnly host installs restic with its own
	// jobs (backupjob.TimerValues.Packages).
	Ready []pulumi.Resource
}

// Values are offsite.sh's values for a store's copies under dir.
func (a Args) Values() Values {
	store := a.Source.Store
	target := a.Target
	target.Path = path.Join(target.Path, store)
	r := a.Retention
	return Values{
		Store: store, Paths: a.Source.Paths, Tag: "aurigraph-" + store,
		StateDir: path.Join(a.Dir, "offsite", store), SFTP: target,
		KeepHourly: r.Hourly, KeepDaily: r.Daily, KeepWeekly: r.Weekly, KeepMonthly: r.Monthly,
	}
}

// ScriptPath is where a store's offsite.sh is installed under dir.
func ScriptPath(dir, store string) string { return path.Join(dir, "bin", "offsite-"+store+".sh") }

// New installs a store's copies: offsite.sh, the password and key as
// root-only files (on stdin, never a command line) and, unless ReadOnly, the
// copy, retention and check timers, which wait for the source's directories.
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*Copies, error) {
	e := a.Source.Engine
	if e == nil || a.Password == nil || a.SSHKey == nil {
		return nil, fmt.Errorf("offsite %s: the source's host, the repository password and the login key are required", name)
	}
	v := a.Values()
	script, err := RenderScript(v)
	if err != nil {
		return nil, err
	}
	c := &Copies{Script: ScriptPath(a.Dir, v.Store)}
	if err := ctx.RegisterComponentResource("aurigraph:offsite:Copies", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	files, err := configfile.New(ctx, name+"-script", configfile.Args{Host: e.Host,
		Files: []configfile.File{{Path: c.Script, Content: script, Mode: "0750"}}}, parent)
	if err != nil {
		return nil, err
	}
	secrets, err := configfile.NewSecrets(ctx, name+"-secrets", configfile.SecretsArgs{
		Host: e.Host,
		Files: []configfile.Secret{
			{Path: path.Join(v.StateDir, "repository-password"), Content: a.Password},
			{Path: path.Join(v.StateDir, "ssh-key"), Content: a.SSHKey},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	c.Ready = append(append([]pulumi.Resource{}, files.Copies...), secrets.Copies...)
	if !a.ReadOnly {
		// restic (Debian) encrypts and sends.
		timers, err := backupjob.NewTimers(ctx, name+"-timers", backupjob.TimersArgs{Connection: e.Connection,
			TimerValues: backupjob.TimerValues{Jobs: Jobs(v.Store, c.Script), Packages: []string{"restic"}}},
			parent, pulumi.DependsOn(append(append([]pulumi.Resource{}, c.Ready...), a.Source.Ready...)))
		if err != nil {
			return nil, err
		}
		c.Ready = append(c.Ready, timers)
	}
	c.Repository = pulumi.String(v.Repository()).ToStringOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"repository": c.Repository})
}
