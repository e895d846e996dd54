// Command release drives an application release of a stack step by step
// (internal/release): pre-deployment backup, the new slot deployed at weight
// 0, a smoke test, traffic moved by strategy with analysis of the new slot
// in Prometheus between steps and for a watch window after the last, then
// the old slot drained and scaled down. Each step is a config change of
// aurigraph:release (or aurigraph:tiers) applied by one `pulumi up` through
// the Automation API; a failed analysis rolls back by weight and exits
// non-zero. Where it is is kept in .release/<stack>.json, so a release
// interrupted (the command killed, the machine rebooted) resumes with
// `release resume`. See docs/runbooks/release.md.
//
//	scripts/with-deploy-key prod -- go run ./cmd/release -stack prod -image aurigraph/v11:11.5.0 \
//	    -prometheus https://prometheus.ops.example -prometheus-user ops -smoke-path /api/v11/status canary
//	go run ./cmd/release -stack prod status | promote | abort | resume
//	go run ./cmd/release -stack prod -image aurigraph/v11:11.5.0 -dry-run canary
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/gateway"
	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/stacks"
)

func main() {
	stack := flag.String("stack", "", "stack name (reads and changes Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml (the program the Automation API runs)")
	image := flag.String("image", "", "application image to release, pinned by tag or digest")
	stateFile := flag.String("state", "", "state file (default <dir>/.release/<stack>.json)")
	steps := flag.String("canary-steps", "5,20,50,100", "canary: the new slot's weights in percent, comma-separated, ending at 100")
	pause := flag.Duration("pause", release.DefaultPause, "wait between canary steps and rolling phases, analysed throughout")
	watch := flag.Duration("watch", release.DefaultWatch, "analysis window after the last step")
	drain := flag.Duration("drain", release.DefaultDrain, "wait for the old slot's open requests before scaling it down")
	interval := flag.Duration("interval", 10*time.Second, "time between analyses")
	window := flag.String("window", "1m", "rate window of the analysis queries (PromQL duration; the alert rules use 5m)")
	promURL := flag.String("prometheus", "", "Prometheus base URL reachable from here (e.g. through the gateway's monitoring name)")
	promUser := flag.String("prometheus-user", "", "user of the gateway's monitoring authentication, for Prometheus and the smoke test's slot route; the password is read from $"+passwordEnv)
	apiURL := flag.String("api-url", "", "the gateway's API URL the smoke test reaches the new slot through (default https://<edge.apiHostname>)")
	smokePath := flag.String("smoke-path", "", "a real application request the smoke test sends to the new slot through the gateway's slot route, e.g. /api/v11/status")
	dryRun := flag.Bool("dry-run", false, "print the steps and their config changes; change nothing")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: release -stack S [flags] blue-green|canary|rolling | status | promote | abort | resume\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *stack == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	cmd := flag.Arg(0)
	path := *stateFile
	if path == "" {
		path = filepath.Join(*dir, ".release", *stack+".json")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &release.Controller{Stack: *stack, StatePath: path, Out: os.Stdout, Interval: *interval}

	switch cmd {
	case "status":
		check(c.Status())
		return
	case "promote":
		check(c.Promote())
		fmt.Println("promoted: the running release ends its current wait at its next look (within -interval)")
		return
	}
	cfg, err := plan.Config(*dir, *stack)
	check(err)
	var plan *release.Plan
	if cmd == release.BlueGreen || cmd == release.Canary || cmd == release.Rolling {
		weights, err := parseSteps(*steps)
		check(err)
		plan, err = release.NewPlan(stacks.ReleaseCurrent(cfg), release.Spec{Strategy: cmd, Image: *image, CanarySteps: weights, Pause: *pause, Watch: *watch, Drain: *drain, Fits: stacks.SlotScalesFit(cfg, *image)})
		check(err)
		if *dryRun {
			release.DryRun(os.Stdout, plan)
			return
		}
	} else if cmd != "abort" && cmd != "resume" {
		flag.Usage()
		os.Exit(2)
	}
	c.Runner = &autoRunner{dir: *dir, stack: *stack, out: os.Stdout}
	if cmd == "abort" {
		check(c.Abort(ctx))
		return
	}
	if *promURL == "" {
		fail("-prometheus is required: the analysis reads the new slot's metrics there")
	}
	checks, err := release.Checks(*window)
	check(err)
	c.Analysis = &release.PrometheusAnalysis{URL: *promURL, User: *promUser, Password: os.Getenv(passwordEnv), Checks: checks}
	c.Smoke = newSmoke(cfg, *apiURL, *smokePath, *promUser, os.Getenv(passwordEnv))
	c.Backup, err = newSSHBackup(cfg)
	check(err)
	if cmd == "resume" {
		check(c.Resume(ctx))
		return
	}
	check(c.Start(ctx, plan))
}

// newSmoke tests the new slot through the gateway's slot route
// (components/gateway SlotPath), which answers operators only: the
// monitoring user and password. Health and readiness are the application's
// own probes (components/app).
func newSmoke(cfg *stacks.Config, apiURL, requestPath, user, password string) *release.HTTPSmoke {
	if apiURL == "" {
		apiURL = stacks.APIURL(cfg)
	}
	base := strings.TrimSuffix(apiURL, "/")
	return &release.HTTPSmoke{
		URL:        func(slot, path string) string { return base + gateway.SlotPath(slot, path) },
		HealthPath: app.Liveness.Path, ReadyPath: app.Readiness.Path, RequestPath: requestPath,
		User: user, Password: password,
	}
}

// passwordEnv holds the monitoring password: never a flag, which would
// show it in the process list and shell history.
const passwordEnv = "RELEASE_PROMETHEUS_PASSWORD"

func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-canary-steps %q: %q is not a whole percentage", s, f)
		}
		out = append(out, w)
	}
	return out, nil
}

func check(err error) {
	if err != nil {
		if errors.Is(err, release.ErrNoRelease) {
			fail("%v: start one with release -stack S -image I blue-green|canary|rolling", err)
		}
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "release: "+format+"\n", args...)
	os.Exit(1)
}
