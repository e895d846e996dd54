// Package backupjob is what every scheduled backup job shares, whatever it
// backs up: the systemd timer that runs it and the outcome metrics each run
// leaves for node exporter, which one set of alert rules reads
// (components/prometheus). A job is one kind of run (a dump, a snapshot, an
// off-host copy, a recovery drill) of one store (postgres, vault, redis, …).
//
// Each job carries its own allowance (MaxAge) into its metrics, so a new
// store or schedule needs no new alert rule, and the timer installer seeds
// the last success with the install time: a timer that never fires alerts
// after one allowance instead of staying silent for ever.
package backupjob

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/shell"
)

// The metrics every run writes, labelled {store, kind}. ("kind", not "job":
// Prometheus sets job itself, to the scrape job.)
const (
	SuccessMetric  = "aurigraph_backup_last_success_timestamp_seconds"
	RunMetric      = "aurigraph_backup_last_run_success"
	DurationMetric = "aurigraph_backup_last_duration_seconds"
	MaxAgeMetric   = "aurigraph_backup_max_age_seconds"
)

// DrillKind is the kind of recovery drills: the alerts tell a drill that
// failed or is overdue from a backup that did.
const DrillKind = "drill"

// Metrics are the metric names above, for tests that read them back.
func Metrics() []string { return []string{SuccessMetric, RunMetric, DurationMetric, MaxAgeMetric} }

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("backupjob").Funcs(template.FuncMap{
	"shq":            shell.Quote,
	"textfileDir":    func() string { return host.TextfileDir },
	"successMetric":  func() string { return SuccessMetric },
	"runMetric":      func() string { return RunMetric },
	"durationMetric": func() string { return DurationMetric },
	"maxAgeMetric":   func() string { return MaxAgeMetric },
}).ParseFS(templateFS, "templates/*.tmpl"))

// RecordRun is the shell function scripts call when a run ends:
//
//	record_run STORE KIND MAX_AGE_SECONDS STARTED_EPOCH RC
//
// and seed_run STORE KIND MAX_AGE_SECONDS, which the timer installer calls.
// Templates of other packages include it through a template function.
var RecordRun = mustRender("record.sh.tmpl", nil)

// Job is one scheduled run on a host.
type Job struct {
	Store       string // what is backed up: postgres, vault, redis, grafana, elasticsearch
	Kind        string // what the run does: dump, base, snapshot, offsite-copy, drill, …
	Description string // for the units: "PostgreSQL base backup"
	// Command is ExecStart: an absolute program and plain arguments.
	Command string
	// Every is systemd's OnCalendar ("hourly", "*:0/5", "Sun *-*-01..07 04:00").
	Every string
	// Persistent runs a missed run at boot.
	Persistent bool
	// MaxAge is how old the last success may be before the alert fires:
	// one period plus room for a long run.
	MaxAge time.Duration
	// Docker: the run uses the Docker engine (ordered after it, requires it).
	Docker bool
}

// Unit is the job's systemd unit name without suffix.
func (j Job) Unit() string { return "aurigraph-backup-" + j.Store + "-" + j.Kind }

// MaxAgeSeconds is MaxAge in whole seconds, for the scripts.
func (j Job) MaxAgeSeconds() int64 { return int64(j.MaxAge / time.Second) }

var (
	word     = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	command  = regexp.MustCompile(`^/[A-Za-z0-9_./-]+( [A-Za-z0-9_./=:-]+)*$`)
	calendar = regexp.MustCompile(`^[A-Za-z0-9*:/,. -]+$`)
	descr    = regexp.MustCompile(`^[A-Za-z0-9 ,.:()/+_-]+$`)
)

// Validate reports what would make the units unsafe or the alerts blind.
func (j Job) Validate() error {
	var p []string
	if !word.MatchString(j.Store) || !word.MatchString(j.Kind) {
		p = append(p, fmt.Sprintf("store %q and kind %q must be lower-case words", j.Store, j.Kind))
	}
	if !command.MatchString(j.Command) {
		p = append(p, fmt.Sprintf("command %q must be an absolute program with plain arguments", j.Command))
	}
	if !calendar.MatchString(j.Every) {
		p = append(p, fmt.Sprintf("calendar %q is not an OnCalendar expression", j.Every))
	}
	if !descr.MatchString(j.Description) {
		p = append(p, fmt.Sprintf("description %q must be plain text", j.Description))
	}
	if j.MaxAge < time.Minute {
		p = append(p, "the alert allowance must be at least a minute")
	}
	if len(p) > 0 {
		return fmt.Errorf("backup job %s-%s: %s", j.Store, j.Kind, strings.Join(p, "; "))
	}
	return nil
}

// TimerValues are one host's jobs of one component.
type TimerValues struct {
	Jobs []Job
	// Packages are Debian packages the jobs need (restic, sqlite3),
	// installed when missing.
	Packages []string
}

// RenderTimers renders the idempotent installer of the jobs' units: it
// writes each service and timer, enables the timers and seeds each job's
// metrics when it has none yet.
func RenderTimers(v TimerValues) (string, error) {
	if len(v.Jobs) == 0 {
		return "", fmt.Errorf("backup timers: no job")
	}
	seen := map[string]bool{}
	for _, j := range v.Jobs {
		if err := j.Validate(); err != nil {
			return "", err
		}
		if seen[j.Unit()] {
			return "", fmt.Errorf("backup timers: %s twice", j.Unit())
		}
		seen[j.Unit()] = true
	}
	for _, p := range v.Packages {
		if !word.MatchString(p) {
			return "", fmt.Errorf("backup timers: package %q is not a Debian package name", p)
		}
	}
	pk := append([]string(nil), v.Packages...)
	sort.Strings(pk)
	v.Packages = pk
	return render("timers.sh.tmpl", struct {
		TimerValues
		RecordRun string
	}{v, RecordRun})
}

// Units are the files the installer writes: the step owns them.
func Units(jobs []Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, "/etc/systemd/system/"+j.Unit()+".service", "/etc/systemd/system/"+j.Unit()+".timer")
	}
	return out
}

// TimersArgs install jobs on one host.
type TimersArgs struct {
	Connection remote.ConnectionInput
	TimerValues
}

// NewTimers installs the jobs' units on a host. The step owns them: when a
// job goes (or the whole step), its timer is stopped and its units removed,
// unless a newer version of the step has rewritten them (hostcmd.Owned).
// Depend on what the jobs run (scripts, secrets) through opts.
func NewTimers(ctx *pulumi.Context, name string, a TimersArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	script, err := RenderTimers(a.TimerValues)
	if err != nil {
		return nil, err
	}
	remove, err := render("remove-unit.sh.tmpl", nil)
	if err != nil {
		return nil, err
	}
	return hostcmd.New(ctx, name, hostcmd.Args{
		Connection: a.Connection,
		Run:        pulumi.String("bash -s"),
		Stdin:      pulumi.String(script),
		Owns:       &hostcmd.Owned{Items: Units(a.Jobs), Remove: remove, After: "$SUDO systemctl daemon-reload"},
		Triggers:   pulumi.StringArray{pulumi.String(configfile.Hash([]configfile.File{{Path: "timers", Content: script}}))},
	}, opts...)
}

func render(name string, v any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func mustRender(name string, v any) string {
	s, err := render(name, v)
	if err != nil {
		panic(err)
	}
	return s
}

// Source is one store's backups on one host: the directories the off-host
// copies (components/offsite) take whole, and what waits for them to exist.
// Every component that backs up a store exports one.
type Source struct {
	Store  string
	Engine *host.Engine
	Paths  []string
	// Ready are the steps that create the directories and the jobs that
	// fill them: the copies' timers wait for them.
	Ready []pulumi.Resource
}
