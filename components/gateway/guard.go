package gateway

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

// The release guard: after a change that moves traffic (weights, a slot's
// image, the replicas of a slot with weight), it checks the readiness of
// every replica that now receives traffic and, when one stays unready, puts
// the last known-good nginx.conf back and reloads nginx: a rollback in well
// under a second, no container touched. It then fails, so `pulumi up`
// stops and the operator sets the weights back (the stack config stays the
// record of what should run).
//
// Why a copy on the host rather than the previous weights: Pulumi gives a
// program no previous config, and the file that last passed the guard is
// exactly what served traffic before; nginx.conf.good lives beside
// nginx.conf. A second step records it after changes that move no traffic
// (limits, names), so a rollback never reverts them.

//go:embed release-guard.sh.tmpl
var guardTemplate string

var guardTmpl = template.Must(template.New("release-guard").Parse(guardTemplate))

// Readiness bounds. The application's readiness probe runs every 10 s with 3
// retries; the guard watches twice that long (6 checks 10 s apart), so a
// replica the probe would still accept is not rolled back, and `pulumi up`
// never waits more than about a minute.
const (
	ReadyPath       = "/q/health/ready"
	GuardAttempts   = 6
	GuardInterval   = 10 // seconds
	GuardTimeout    = 5  // seconds per probe, the readiness probe's timeout
	GoodSuffix      = ".good"
	guardConfigMode = "0640"
)

// GuardValues is everything the release guard depends on, as plain data.
type GuardValues struct {
	// Slots are the gateway's slots: those with weight are checked, on
	// their REST servers (host:port).
	Slots []Slot
	// Host paths: the live configuration, its known-good copy, and the
	// staged copy the configfile install step installs from.
	ConfPath, GoodPath, StagedPath string
	// Owner (uid:gid) and mode of the files the guard writes.
	Owner, Mode string
	// DockerExec prefixes every probe ("docker exec nginx"); "" probes from
	// this machine (tests).
	DockerExec string
	// Nginx is the command that tests (-t) and reloads (-s reload) the
	// configuration nginx reads.
	Nginx string
	// Attempts checks Interval seconds apart, each probe bounded by Timeout seconds.
	Attempts, Interval, Timeout int
	ReadyPath                   string
}

type checked struct{ Slot, Server string }

type guardView struct {
	GuardValues
	UID, GID string
	Unmark   string // sed expression taking the readiness gate's marks out
	Checked  []checked
	Weights  string
}

var (
	commandRE  = regexp.MustCompile(`^[A-Za-z0-9 ./_=:-]*$`)
	hostPathRE = regexp.MustCompile(`^/[A-Za-z0-9/._-]+$`)
)

// CheckGuard reports values that would give a broken or unsafe script.
func CheckGuard(v GuardValues) error {
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	weighted := 0
	for _, s := range v.Slots {
		if !upstreamRE.MatchString(s.Name) {
			add("slot name %q is invalid", s.Name)
		}
		if s.Weight <= 0 {
			continue
		}
		weighted++
		if len(s.HTTP) == 0 {
			add("slot %s has weight %d but no servers", s.Name, s.Weight)
		}
		for _, a := range s.HTTP {
			if !serverRE.MatchString(a) {
				add("slot %s server %q is not host:port", s.Name, a)
			}
		}
	}
	if weighted == 0 {
		add("no slot has weight")
	}
	for _, p := range []string{v.ConfPath, v.GoodPath, v.StagedPath} {
		if !hostPathRE.MatchString(p) {
			add("path %q is not absolute or has unsafe characters", p)
		}
	}
	if v.GoodPath == v.ConfPath || v.StagedPath == v.ConfPath || v.GoodPath == v.StagedPath {
		add("configuration, known-good and staged paths must differ")
	}
	checkScriptValues(add, v.Owner, v.Mode, v.DockerExec, v.Nginx, v.ReadyPath)
	if v.Attempts < 1 || v.Interval < 0 || v.Timeout < 1 {
		add("bounds: %d attempts, %d s apart, %d s timeout", v.Attempts, v.Interval, v.Timeout)
	}
	if len(problems) > 0 {
		return fmt.Errorf("release guard: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkScriptValues checks what the release guard and the readiness gate
// both put in their scripts: the owner and mode nginx.conf is written
// with, the probe's prefix, the nginx command and the readiness path.
func checkScriptValues(add func(string, ...any), owner, mode, dockerExec, nginx, readyPath string) {
	if !ownerRE.MatchString(owner) || !modeRE.MatchString(mode) {
		add("owner %q or mode %q is not plain", owner, mode)
	}
	if !commandRE.MatchString(dockerExec) || !commandRE.MatchString(nginx) || strings.TrimSpace(nginx) == "" {
		add("commands %q / %q are empty or have unsafe characters", dockerExec, nginx)
	}
	if !pathRE.MatchString(readyPath) {
		add("readiness path %q is invalid", readyPath)
	}
}

var (
	ownerRE = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
	modeRE  = regexp.MustCompile(`^0?[0-7]{3}$`)
)

func newGuardView(v GuardValues) guardView {
	vw := guardView{GuardValues: v, Unmark: unmarkSed}
	vw.UID, vw.GID, _ = strings.Cut(v.Owner, ":")
	var weights []string
	for _, s := range v.Slots {
		weights = append(weights, fmt.Sprintf("%s=%d%%", s.Name, s.Weight))
		if s.Weight <= 0 {
			continue
		}
		for _, a := range s.HTTP {
			vw.Checked = append(vw.Checked, checked{Slot: s.Name, Server: a})
		}
	}
	vw.Weights = strings.Join(weights, " ")
	return vw
}

func renderGuard(block string, v GuardValues) (string, error) {
	if err := CheckGuard(v); err != nil {
		return "", err
	}
	var b strings.Builder
	if err := guardTmpl.ExecuteTemplate(&b, block, newGuardView(v)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// RenderGuard returns the release guard script for v (a pure function).
// It exits 0 when every replica with traffic is ready (and records the
// known-good configuration), non-zero otherwise, after rolling back when
// there is a different known-good configuration to go back to.
func RenderGuard(v GuardValues) (string, error) { return renderGuard("guard", v) }

// RenderRecordGood returns the script that records the installed
// configuration as known-good after a change that moves no traffic.
func RenderRecordGood(v GuardValues) (string, error) { return renderGuard("record", v) }

// GuardTriggers are what moves traffic besides the replica list (which is in
// the script itself): each slot's weight and image, sorted by slot name.
func GuardTriggers(slots []Slot, images map[string]string) []string {
	var out []string
	for _, s := range slots {
		out = append(out, fmt.Sprintf("weight %s=%d", s.Name, s.Weight))
	}
	names := make([]string, 0, len(images))
	for n := range images {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, fmt.Sprintf("image %s=%s", n, images[n]))
	}
	sort.Strings(out)
	return out
}
