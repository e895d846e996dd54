package offsite

import (
	"fmt"
	"path"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
)

// The copies' jobs, per target: the copy every 5 minutes (with
// PostgreSQL's archive_timeout, what a lost host loses), the retention
// daily, the check weekly; each may be late by its period and a long run
// before it alerts.
var jobs = []struct {
	Mode, Every string
	Persistent  bool
	MaxAge      time.Duration
}{
	{"copy", "*:0/5", false, 20 * time.Minute},
	{"forget", "daily", true, 50 * time.Hour},
	{"check", "weekly", true, 8 * 24 * time.Hour},
}

// CopyEvery is how often the copies run (OnCalendar).
var CopyEvery = jobs[0].Every

// Jobs are the scheduled runs of a store's offsite.sh at script, for each
// target (TargetSFTP when none is named): `offsite.sh TARGET MODE`,
// recorded as Kind(target, mode).
func Jobs(store, script string, targets ...string) []backupjob.Job {
	if len(targets) == 0 {
		targets = []string{TargetSFTP}
	}
	var out []backupjob.Job
	for _, t := range targets {
		for _, j := range jobs {
			out = append(out, backupjob.Job{Store: store, Kind: Kind(t, j.Mode),
				Description: fmt.Sprintf("%s off-host copies (%s): %s", store, t, j.Mode),
				Command:     "/bin/bash " + script + " " + t + " " + j.Mode, Every: j.Every, Persistent: j.Persistent, MaxAge: j.MaxAge})
		}
	}
	return out
}

// MaxAge is how old a kind's last success may be: the script records it.
func MaxAge(kind string) time.Duration {
	for t := range kindPrefix {
		for _, j := range jobs {
			if Kind(t, j.Mode) == kind {
				return j.MaxAge
			}
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
	// Target is the SFTP host of the repositories, when its Host is set;
	// each store has its own, Target.Path/<store>, so one store's prune
	// never waits for another's copy.
	Target   SFTP
	Password pulumi.StringInput // the repositories' password (secret), shared by both targets
	SSHKey   pulumi.StringInput // the key restic logs in to Target with (secret; with Target)
	// S3 is the bucket of the repositories, when its Endpoint is set:
	// <prefix>/<store> in it, with the keys below (secrets; with S3).
	// With Target too, every copy goes to both, each on its own timers.
	S3                S3
	S3AccessKeyID     pulumi.StringInput
	S3SecretAccessKey pulumi.StringInput
	Retention         Retention
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

	// Repository is restic's name of the store's repository on the
	// default target (SFTP when configured, else S3).
	Repository pulumi.StringOutput `pulumi:"repository"`
	// Script is offsite.sh's path on the host: `Script restore DIR` reads
	// the default target, `Script s3 restore DIR` the bucket.
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
	if target.Host != "" {
		target.Path = path.Join(target.Path, store)
	}
	bucket := a.S3
	if bucket.Configured() {
		bucket.Prefix = path.Join(bucket.Prefix, store)
	}
	r := a.Retention
	return Values{
		Store: store, Paths: a.Source.Paths, Tag: "aurigraph-" + store,
		StateDir: path.Join(a.Dir, "offsite", store), SFTP: target, S3: bucket,
		KeepHourly: r.Hourly, KeepDaily: r.Daily, KeepWeekly: r.Weekly, KeepMonthly: r.Monthly,
	}
}

// ScriptPath is where a store's offsite.sh is installed under dir.
func ScriptPath(dir, store string) string { return path.Join(dir, "bin", "offsite-"+store+".sh") }

// New installs a store's copies: offsite.sh, the password, the SFTP login
// key and the S3 keys as root-only files (on stdin, never a command line)
// and, unless ReadOnly, each target's copy, retention and check timers,
// which wait for the source's directories.
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*Copies, error) {
	e := a.Source.Engine
	sftp, s3 := a.Target.Host != "", a.S3.Configured()
	switch {
	case e == nil || a.Password == nil:
		return nil, fmt.Errorf("offsite %s: the source's host and the repository password are required", name)
	case !sftp && !s3:
		return nil, fmt.Errorf("offsite %s: an SFTP target or an S3 bucket is required", name)
	case sftp && a.SSHKey == nil:
		return nil, fmt.Errorf("offsite %s: the SFTP target needs the login key", name)
	case s3 && (a.S3AccessKeyID == nil || a.S3SecretAccessKey == nil):
		return nil, fmt.Errorf("offsite %s: the S3 bucket needs the access key id and the secret access key", name)
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
		Host:  e.Host,
		Files: a.secretFiles(v.StateDir),
	}, parent)
	if err != nil {
		return nil, err
	}
	c.Ready = append(append([]pulumi.Resource{}, files.Copies...), secrets.Copies...)
	if !a.ReadOnly {
		// restic (Debian) encrypts and sends.
		timers, err := backupjob.NewTimers(ctx, name+"-timers", backupjob.TimersArgs{Connection: e.Connection,
			TimerValues: backupjob.TimerValues{Jobs: Jobs(v.Store, c.Script, targetNames(v)...), Packages: []string{"restic"}}},
			parent, pulumi.DependsOn(append(append([]pulumi.Resource{}, c.Ready...), a.Source.Ready...)))
		if err != nil {
			return nil, err
		}
		c.Ready = append(c.Ready, timers)
	}
	c.Repository = pulumi.String(v.Targets()[0].Repository).ToStringOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"repository": c.Repository})
}

// The files, in a store's state directory, offsite.sh reads its
// credentials from.
const (
	PasswordFile          = "repository-password"
	SSHKeyFile            = "ssh-key"
	S3AccessKeyIDFile     = "s3-access-key-id"
	S3SecretAccessKeyFile = "s3-secret-access-key"
)

// secretFiles are the credentials of the configured targets.
func (a Args) secretFiles(stateDir string) []configfile.Secret {
	files := []configfile.Secret{{Path: path.Join(stateDir, PasswordFile), Content: a.Password}}
	if a.Target.Host != "" {
		files = append(files, configfile.Secret{Path: path.Join(stateDir, SSHKeyFile), Content: a.SSHKey})
	}
	if a.S3.Configured() {
		files = append(files,
			configfile.Secret{Path: path.Join(stateDir, S3AccessKeyIDFile), Content: a.S3AccessKeyID},
			configfile.Secret{Path: path.Join(stateDir, S3SecretAccessKeyFile), Content: a.S3SecretAccessKey})
	}
	return files
}

func targetNames(v Values) []string {
	var names []string
	for _, t := range v.Targets() {
		names = append(names, t.Name)
	}
	return names
}
