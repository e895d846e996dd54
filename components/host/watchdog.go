package host

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aurigraph/infra/components/container"
)

// Self-healing (step WatchdogStep): Docker restarts a container only when
// it exits; one whose health check fails stays unhealthy forever. The
// watchdog, a script run by WatchdogUnit's timer on every host, restarts a
// container that Docker has reported unhealthy for a number of consecutive
// checks, backing off exponentially and giving up after a ceiling per hour,
// and only containers this program owns (container.ManagedByLabel).
const (
	WatchdogStep = "watchdog"
	// WatchdogPath is the installed script, run by WatchdogUnit's timer.
	WatchdogPath = "/usr/local/lib/aurigraph/watchdog"
	WatchdogUnit = "aurigraph-watchdog"
	// WatchdogStateDir holds one file per container: consecutive unhealthy
	// checks, restarts so far and the times of the last hour's restarts.
	WatchdogStateDir = "/var/lib/aurigraph/watchdog"
	// WatchdogFile is the textfile the script writes in TextfileDir.
	WatchdogFile = "aurigraph-watchdog.prom"
	// WatchdogTag is the syslog tag of the restart lines (journalctl -t).
	WatchdogTag = "aurigraph-watchdog"
	// Metrics the script exports, labelled {container, service}.
	WatchdogRestartsMetric = "aurigraph_watchdog_restarts_total"
	WatchdogGaveUpMetric   = "aurigraph_watchdog_gave_up"
	WatchdogUnhealthyGauge = "aurigraph_watchdog_unhealthy_checks"
	WatchdogLastRunMetric  = "aurigraph_watchdog_last_run_timestamp_seconds"
	// WatchdogDefaultKey is the UnhealthyChecks entry for every service not named.
	WatchdogDefaultKey = "default"
)

// WatchdogMetrics are the metrics above: the script takes their names as
// template values, so no "# TYPE" line in the template spells them out.
func WatchdogMetrics() []string {
	return []string{WatchdogRestartsMetric, WatchdogGaveUpMetric, WatchdogUnhealthyGauge, WatchdogLastRunMetric}
}

// Defaults of aurigraph:selfHealing. A 15 s check and 3 consecutive
// unhealthy reports restart a container 45 s after Docker first reported
// it unhealthy (Docker itself waits its health check's retries before
// that); back-off doubles from 60 s, and after 5 restarts in an hour the
// watchdog leaves the container to the operator (WatchdogGaveUp alert).
const (
	DefaultWatchdogIntervalSeconds = 15
	DefaultWatchdogChecks          = 3
	DefaultWatchdogBackoffSeconds  = 60
	DefaultWatchdogMaxPerHour      = 5
)

// Bounds validation holds aurigraph:selfHealing to (stacks/validate.go).
const (
	MinWatchdogIntervalSeconds = 5
	MaxWatchdogIntervalSeconds = 300
	MaxWatchdogChecks          = 100
	MaxWatchdogBackoffSeconds  = 3600
	MaxWatchdogMaxPerHour      = 60
)

// SelfHealing configures the watchdog on a host. Zero fields take the defaults.
type SelfHealing struct {
	IntervalSeconds int
	// UnhealthyChecks: consecutive unhealthy checks before a restart, by
	// service kind (container.ServiceLabel); WatchdogDefaultKey for the rest.
	UnhealthyChecks map[string]int
	// BackoffSeconds: the wait after a container's first restart in the
	// last hour; it doubles with each further one.
	BackoffSeconds int
	// MaxRestartsPerHour: the ceiling per container; reached, the watchdog
	// gives up until the oldest restart is an hour old.
	MaxRestartsPerHour int
}

// WithDefaults fills the zero fields.
func (s SelfHealing) WithDefaults() SelfHealing {
	if s.IntervalSeconds == 0 {
		s.IntervalSeconds = DefaultWatchdogIntervalSeconds
	}
	checks := map[string]int{WatchdogDefaultKey: DefaultWatchdogChecks}
	for k, v := range s.UnhealthyChecks {
		checks[k] = v
	}
	s.UnhealthyChecks = checks
	if s.BackoffSeconds == 0 {
		s.BackoffSeconds = DefaultWatchdogBackoffSeconds
	}
	if s.MaxRestartsPerHour == 0 {
		s.MaxRestartsPerHour = DefaultWatchdogMaxPerHour
	}
	return s
}

// ServiceNameRE is what a service kind key of UnhealthyChecks looks like.
var ServiceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Problems lists what is out of bounds, by field name, for validation.
func (s SelfHealing) Problems() map[string]string {
	p := map[string]string{}
	if s.IntervalSeconds < MinWatchdogIntervalSeconds || s.IntervalSeconds > MaxWatchdogIntervalSeconds {
		p["intervalSeconds"] = fmt.Sprintf("%d is outside %d-%d", s.IntervalSeconds, MinWatchdogIntervalSeconds, MaxWatchdogIntervalSeconds)
	}
	for k, v := range s.UnhealthyChecks {
		if !ServiceNameRE.MatchString(k) {
			p["unhealthyChecks."+k] = "is not a service name"
		} else if v < 1 || v > MaxWatchdogChecks {
			p["unhealthyChecks."+k] = fmt.Sprintf("%d is outside 1-%d", v, MaxWatchdogChecks)
		}
	}
	if s.BackoffSeconds < 1 || s.BackoffSeconds > MaxWatchdogBackoffSeconds {
		p["backoffSeconds"] = fmt.Sprintf("%d is outside 1-%d", s.BackoffSeconds, MaxWatchdogBackoffSeconds)
	}
	if s.MaxRestartsPerHour < 1 || s.MaxRestartsPerHour > MaxWatchdogMaxPerHour {
		p["maxRestartsPerHour"] = fmt.Sprintf("%d is outside 1-%d", s.MaxRestartsPerHour, MaxWatchdogMaxPerHour)
	}
	return p
}

// watchdogView is what scripts/watchdog.sh.tmpl is rendered from.
type watchdogView struct {
	SelfHealing
	DefaultChecks  int
	Checks         string // "service=N ...", sorted
	InspectFormat  string
	ManagedByLabel string
	ManagedByValue string
	StateDir       string
	TextfileDir    string
	File, Tag      string
	Restarts       string
	GaveUp         string
	Unhealthy      string
	LastRun        string
}

// RenderWatchdog renders the watchdog script for s (defaults applied).
func RenderWatchdog(s SelfHealing) (string, error) {
	s = s.WithDefaults()
	if p := s.Problems(); len(p) > 0 {
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k+": "+p[k])
		}
		sort.Strings(keys)
		return "", fmt.Errorf("watchdog: %s", strings.Join(keys, "; "))
	}
	var checks []string
	for k, v := range s.UnhealthyChecks {
		if k != WatchdogDefaultKey {
			checks = append(checks, k+"="+strconv.Itoa(v))
		}
	}
	sort.Strings(checks)
	label := func(l string) string {
		return `{{with index .Config.Labels "` + l + `"}}{{.}}{{else}}-{{end}}`
	}
	return render("watchdog.sh.tmpl", watchdogView{
		SelfHealing:   s,
		DefaultChecks: s.UnhealthyChecks[WatchdogDefaultKey],
		Checks:        strings.Join(checks, " "),
		// One line per container: id, name, health, owner, service ("-"
		// for a missing label, so the fields never shift).
		InspectFormat:  `{{.Id}} {{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} ` + label(container.ManagedByLabel) + ` ` + label(container.ServiceLabel),
		ManagedByLabel: container.ManagedByLabel,
		ManagedByValue: container.ManagedByValue,
		StateDir:       WatchdogStateDir,
		TextfileDir:    TextfileDir,
		File:           WatchdogFile,
		Tag:            WatchdogTag,
		Restarts:       WatchdogRestartsMetric,
		GaveUp:         WatchdogGaveUpMetric,
		Unhealthy:      WatchdogUnhealthyGauge,
		LastRun:        WatchdogLastRunMetric,
	})
}

// watchdogUnits runs the script as root (the Docker socket) every
// IntervalSeconds; it writes its state directory besides TextfileDir.
func watchdogUnits(s SelfHealing) metricsUnits {
	every := fmt.Sprintf("%ds", s.WithDefaults().IntervalSeconds)
	return metricsUnits{
		Measures: "container watchdog (restarts containers unhealthy for too long)", Script: WatchdogPath, After: "docker.service",
		Env: []string{"STATE_DIR=" + WatchdogStateDir}, Every: every, BootDelay: "2min",
	}
}
