// Package release drives an application release as a sequence of steps, each
// one config change of the stack applied by one `up` (Runner), with a
// pre-deployment backup first, a smoke test of the new slot before it gets
// traffic, and analysis of the new slot's metrics (Prometheus) between steps
// and for a watch window after the last. A failed analysis rolls back by
// weight: one `up` giving the old slot its traffic back, no container
// recreated. Where it is is recorded in a state file (State), so an
// interrupted release resumes at the step it was at.
package release

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Strategies.
const (
	BlueGreen = "blue-green"
	Canary    = "canary"
	Rolling   = "rolling"
)

// Slots of aurigraph:release.
const (
	Blue  = "blue"
	Green = "green"
)

// Defaults of the release patterns.
var (
	// DefaultCanarySteps are the new slot's weights, in percent.
	DefaultCanarySteps = []int{5, 20, 50, 100}
	// DefaultPause is the wait between rolling phases (and between canary
	// steps), analysed throughout.
	DefaultPause = 120 * time.Second
	// DefaultWatch is how long the new release is analysed after the last step.
	DefaultWatch = 5 * time.Minute
	// DefaultDrain lets the old slot's open requests finish after its weight
	// went to 0, before it is scaled down.
	DefaultDrain = 30 * time.Second
)

// RollingTiers is the SPEC's rolling order.
var RollingTiers = []string{"slim", "business", "validator"}

// Kinds of step.
const (
	KindBackup    = "backup"     // pre-deployment backup of PostgreSQL, verified readable
	KindDeploy    = "deploy"     // the new slot's replicas, weight 0; up waits until healthy
	KindSmoke     = "smoke"      // health, readiness, a request through the slot's route
	KindWeight    = "weight"     // traffic split; then analysis for the pause
	KindPhase     = "phase"      // rolling: one tier on the new image; then analysis for the pause
	KindWatch     = "watch"      // analysis for the watch window
	KindDrain     = "drain"      // the old slot's open requests finish
	KindScaleDown = "scale-down" // the old slot's replicas go
	KindFinish    = "finish"     // rolling: the slot's image becomes the new one, tier overrides go
)

// Change is one stack config value, by path under the project's namespace
// (release.green.weight stands for aurigraph:release.green.weight).
type Change struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Remove bool   `json:"remove,omitempty"`
}

func (c Change) String() string {
	if c.Remove {
		return c.Key + " (removed)"
	}
	return c.Key + "=" + strconv.Quote(c.Value)
}

// Step is one step of a release: its config changes (applied by one up when
// there are any), then, for Wait > 0, analysis every interval for Wait.
type Step struct {
	Kind    string        `json:"kind"`
	Name    string        `json:"name"`
	Changes []Change      `json:"changes,omitempty"`
	Wait    time.Duration `json:"wait,omitempty"`
	// Note says why a step changes nothing when it would be expected to.
	Note string `json:"note,omitempty"`
}

// Current is the release config of the stack as it is before a release.
type Current struct {
	Blue, Green SlotConfig
	// TierImages are the tiers' own image overrides (tiers.<tier>.image).
	TierImages map[string]string
}

// SlotConfig is one slot of aurigraph:release.
type SlotConfig struct {
	Image  string
	Weight int
}

// Spec is a release to plan.
type Spec struct {
	Strategy string
	Image    string
	// CanarySteps are the new slot's weights (default DefaultCanarySteps).
	CanarySteps []int
	Pause       time.Duration // default DefaultPause
	Watch       time.Duration // default DefaultWatch
	Drain       time.Duration // default DefaultDrain
}

// Plan is a release's steps and the slots it moves traffic between.
type Plan struct {
	Strategy string `json:"strategy"`
	Image    string `json:"image"`
	// Old is the live slot, New the one the release deploys to (the same slot
	// for rolling). OldImage is what a rollback returns to.
	Old      string `json:"old"`
	New      string `json:"new"`
	OldImage string `json:"oldImage"`
	Steps    []Step `json:"steps"`
}

// NewPlan plans spec against the stack's current release config. Every
// problem is reported at once.
func NewPlan(cur Current, s Spec) (*Plan, error) {
	var problems []string
	if s.Image == "" {
		problems = append(problems, "--image is required: the application image to release, pinned by tag or digest")
	}
	if s.Pause == 0 {
		s.Pause = DefaultPause
	}
	if s.Watch == 0 {
		s.Watch = DefaultWatch
	}
	if s.Drain == 0 {
		s.Drain = DefaultDrain
	}
	if len(s.CanarySteps) == 0 {
		s.CanarySteps = DefaultCanarySteps
	}
	if s.Strategy == Canary {
		prev := 0
		for _, w := range s.CanarySteps {
			if w <= prev || w > 100 {
				problems = append(problems, fmt.Sprintf("canary steps %v: each weight must be above the previous one and at most 100", s.CanarySteps))
				break
			}
			prev = w
		}
		if prev != 100 {
			problems = append(problems, fmt.Sprintf("canary steps %v: the last step must be 100", s.CanarySteps))
		}
	}
	old, nw, err := slots(cur)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("release: %s", strings.Join(problems, "; "))
	}
	p := &Plan{Strategy: s.Strategy, Image: s.Image, Old: old, New: nw, OldImage: cur.slot(old).Image}
	backup := Step{Kind: KindBackup, Name: "pre-deployment backup of PostgreSQL"}
	switch s.Strategy {
	case BlueGreen, Canary:
		weights := []int{100}
		if s.Strategy == Canary {
			weights = s.CanarySteps
		}
		p.Steps = append(p.Steps, backup,
			Step{Kind: KindDeploy, Name: fmt.Sprintf("deploy %s on the %s slot (weight 0)", s.Image, nw),
				Changes: []Change{{Key: imageKey(nw), Value: s.Image}, {Key: weightKey(nw), Value: "0"}, {Key: weightKey(old), Value: "100"}}},
			Step{Kind: KindSmoke, Name: "smoke test of the " + nw + " slot"})
		for i, w := range weights {
			st := Step{Kind: KindWeight, Name: fmt.Sprintf("%s %d%%, %s %d%%", nw, w, old, 100-w), Changes: Weights(old, nw, w)}
			if i < len(weights)-1 {
				st.Wait = s.Pause
			}
			p.Steps = append(p.Steps, st)
		}
		p.Steps = append(p.Steps,
			Step{Kind: KindWatch, Name: "watch the " + nw + " slot", Wait: s.Watch},
			Step{Kind: KindDrain, Name: "drain the " + old + " slot", Wait: s.Drain})
		down := Step{Kind: KindScaleDown, Name: "scale down the " + old + " slot"}
		if old == Green {
			down.Changes = []Change{{Key: imageKey(Green), Value: ""}}
		} else {
			// stacks/validate.go requires release.blue.image: the config has
			// no way to run no blue replica yet.
			down.Note = "blue keeps its replicas at weight 0: release.blue.image is required by the stack config"
		}
		p.Steps = append(p.Steps, down)
	case Rolling:
		p.New = old
		p.Steps = append(p.Steps, backup)
		for i, t := range RollingTiers {
			st := Step{Kind: KindPhase, Name: "rolling: " + t + " on " + s.Image, Changes: []Change{{Key: "tiers." + t + ".image", Value: s.Image}}}
			if i < len(RollingTiers)-1 {
				st.Wait = s.Pause
			}
			p.Steps = append(p.Steps, st)
		}
		fin := []Change{{Key: imageKey(old), Value: s.Image}}
		for _, t := range RollingTiers {
			fin = append(fin, Change{Key: "tiers." + t + ".image", Remove: true})
		}
		p.Steps = append(p.Steps,
			Step{Kind: KindWatch, Name: "watch the " + old + " slot", Wait: s.Watch},
			Step{Kind: KindFinish, Name: "record " + s.Image + " as the " + old + " slot's image (no container changes)", Changes: fin})
		if len(cur.TierImages) > 0 {
			return nil, fmt.Errorf("release: rolling: tiers %s have their own image; remove tiers.<tier>.image first so the rolling phases own them", strings.Join(slices.Sorted(maps.Keys(cur.TierImages)), ", "))
		}
	default:
		return nil, fmt.Errorf("release: strategy %q: use %s, %s or %s", s.Strategy, BlueGreen, Canary, Rolling)
	}
	return p, nil
}

// Rollback is the change that returns the traffic (or, rolling, the image)
// to the old release.
func (p *Plan) Rollback() []Change {
	if p.Strategy == Rolling {
		var out []Change
		for _, t := range RollingTiers {
			out = append(out, Change{Key: "tiers." + t + ".image", Remove: true})
		}
		return out
	}
	return Weights(p.Old, p.New, 0)
}

// Weights gives the new slot w percent of the traffic and the old the rest.
func Weights(old, nw string, w int) []Change {
	return []Change{{Key: weightKey(nw), Value: strconv.Itoa(w)}, {Key: weightKey(old), Value: strconv.Itoa(100 - w)}}
}

func imageKey(slot string) string  { return "release." + slot + ".image" }
func weightKey(slot string) string { return "release." + slot + ".weight" }

func (c Current) slot(name string) SlotConfig {
	if name == Blue {
		return c.Blue
	}
	return c.Green
}

// slots finds the live slot (all the traffic) and the other one.
func slots(c Current) (old, nw string, err error) {
	switch {
	case c.Blue.Weight == 100:
		return Blue, Green, nil
	case c.Green.Weight == 100 && c.Green.Image != "":
		return Green, Blue, nil
	default:
		return "", "", fmt.Errorf("aurigraph:release splits the traffic (blue %d%%, green %d%%): finish or roll back the release in progress (release status, release abort) before starting another", c.Blue.Weight, c.Green.Weight)
	}
}
