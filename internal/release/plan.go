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
	KindScaleUp   = "scale-up"   // more of the new slot's replicas; up waits until healthy
	KindScaleDown = "scale-down" // the old slot's replicas go (some, or all at the end)
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
}

// Current is the release config of the stack as it is before a release.
type Current struct {
	Blue, Green SlotConfig
	// TierImages are the tiers' own image overrides (tiers.<tier>.image).
	TierImages map[string]string
	// TierGroups are the tiers' numbers of rolling groups (1 when absent).
	TierGroups map[string]int
}

// SlotConfig is one slot of aurigraph:release.
type SlotConfig struct {
	Image  string
	Weight int
	Scale  int // percent of every tier's replicas the slot runs
}

// Fits reports whether the stack's hosts hold both slots at these scales
// (percent of every tier), as validation and the policy pack's
// host-capacity rule count them. The release command answers it from the
// stack's placement (stacks.Place).
type Fits func(blue, green int) bool

// Spec is a release to plan.
type Spec struct {
	Strategy string
	Image    string
	// CanarySteps are the new slot's weights (default DefaultCanarySteps).
	CanarySteps []int
	Pause       time.Duration // default DefaultPause
	Watch       time.Duration // default DefaultWatch
	Drain       time.Duration // default DefaultDrain
	// Fits is the hosts' capacity for both slots; nil: any scales fit.
	Fits Fits
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
		steps, err := trade(old, nw, s, weights)
		if err != nil {
			return nil, err
		}
		p.Steps = append(append(p.Steps, backup), steps...)
	case Rolling:
		if old != Blue {
			// tiers.<tier>.image overrides the blue slot's image only.
			return nil, fmt.Errorf("release: rolling: the green slot is live and the tiers' image overrides apply to blue; release with --strategy %s or %s", BlueGreen, Canary)
		}
		p.New = old
		p.Steps = append(p.Steps, backup)
		// One phase per rolling group: slim, business group 1, group 2, …,
		// validators; each phase adds a group on the new image.
		for _, t := range RollingTiers {
			groups := max(cur.TierGroups[t], 1)
			for g := 1; g <= groups; g++ {
				name := "rolling: " + t + " on " + s.Image
				changes := []Change{{Key: tierImageKey(t), Value: s.Image}, {Key: tierGroupsKey(t), Remove: true}}
				if groups > 1 {
					name = fmt.Sprintf("rolling: %s group %d of %d on %s", t, g, groups, s.Image)
				}
				if g < groups {
					changes[1] = Change{Key: tierGroupsKey(t), Value: strconv.Itoa(g)}
				}
				p.Steps = append(p.Steps, Step{Kind: KindPhase, Name: name, Changes: changes, Wait: s.Pause})
			}
		}
		p.Steps[len(p.Steps)-1].Wait = 0 // the watch window follows
		fin := []Change{{Key: imageKey(old), Value: s.Image}}
		for _, t := range RollingTiers {
			fin = append(fin, Change{Key: tierImageKey(t), Remove: true})
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

// trade plans the steps of a release by weight: the new slot deploys at
// weight 0, is smoke-tested, and takes the weights in turn, each followed by
// the pause's analysis; then the watch, the drain and the old slot's scale
// down. On hosts that hold one slot and a spare (Spec.Fits), the new slot
// starts at the scale that fits beside the old, and the slots trade
// replicas as the traffic moves: a weight step never gives the new slot a
// larger share of the traffic than it runs of its replicas; after it, the
// old slot shrinks to its share, and the new slot grows
// into the room that frees. So neither slot ever serves a larger share
// than it runs, and every step's config passes validation's and the
// policy pack's capacity checks.
func trade(old, nw string, s Spec, weights []int) ([]Step, error) {
	fits := func(oldScale, newScale int) bool {
		if s.Fits == nil {
			return true
		}
		if old == Blue {
			return s.Fits(oldScale, newScale)
		}
		return s.Fits(newScale, oldScale)
	}
	// grow is the largest scale of the new slot that fits beside the old.
	grow := func(oldScale int) int {
		for g := 100; g > 0; g-- {
			if fits(oldScale, g) {
				return g
			}
		}
		return 0
	}
	oldScale, newScale, weight := 100, grow(100), 0
	if newScale == 0 {
		return nil, fmt.Errorf("release: the app hosts have no room for a single replica of the %s slot beside the %s slot: add app hosts or capacity (hosts[*].capacity), or release with --strategy %s", nw, old, Rolling)
	}
	scaled := newScale < 100
	deploy := []Change{{Key: imageKey(nw), Value: s.Image}, {Key: weightKey(nw), Value: "0"}, {Key: weightKey(old), Value: "100"},
		{Key: scaleKey(nw), Value: strconv.Itoa(newScale)}, {Key: scaleKey(old), Value: "100"}}
	name := fmt.Sprintf("deploy %s on the %s slot (weight 0)", s.Image, nw)
	if scaled {
		name = fmt.Sprintf("deploy %s on %d%% of the %s slot (weight 0; the hosts hold the rest once the %s slot shrinks)", s.Image, newScale, nw, old)
	}
	steps := []Step{{Kind: KindDeploy, Name: name, Changes: deploy}, {Kind: KindSmoke, Name: "smoke test of the " + nw + " slot"}}
	weightStep := func(w int, pause time.Duration) {
		steps = append(steps, Step{Kind: KindWeight, Name: fmt.Sprintf("%s %d%%, %s %d%%", nw, w, old, 100-w), Changes: Weights(old, nw, w), Wait: pause})
		weight = w
	}
	for i, target := range weights {
		for newScale < target {
			// Move what the new slot can carry, then trade replicas.
			if w := min(target, newScale); w > weight {
				weightStep(w, s.Pause)
			}
			if share := 100 - weight; oldScale > share {
				// One up drains and removes them: the gateway's new
				// upstreams reload before the engine deletes anything (deletes
				// come last in an update: pulumi/pulumi#9979), and each replica then stops
				// gracefully (container.StopTimeoutSec).
				steps = append(steps, Step{Kind: KindScaleDown, Name: fmt.Sprintf("scale the %s slot down to %d%%, its share of the traffic", old, share),
					Changes: []Change{{Key: scaleKey(old), Value: strconv.Itoa(share)}}})
				oldScale = share
			}
			g := grow(oldScale)
			if g <= newScale {
				return nil, fmt.Errorf("release: the %s slot cannot grow past %d%% beside the %s slot at %d%%: the app hosts are too full for a release by weight; add app hosts or capacity, or release with --strategy %s", nw, newScale, old, oldScale, Rolling)
			}
			steps = append(steps, Step{Kind: KindScaleUp, Name: fmt.Sprintf("scale the %s slot up to %d%%", nw, g),
				Changes: []Change{{Key: scaleKey(nw), Value: strconv.Itoa(g)}}})
			newScale = g
		}
		pause := s.Pause
		if i == len(weights)-1 {
			pause = 0 // the watch window follows
		}
		if target > weight {
			weightStep(target, pause)
		}
	}
	return append(steps,
		Step{Kind: KindWatch, Name: "watch the " + nw + " slot", Wait: s.Watch},
		Step{Kind: KindDrain, Name: "drain the " + old + " slot", Wait: s.Drain},
		Step{Kind: KindScaleDown, Name: "scale down the " + old + " slot", Changes: []Change{{Key: scaleKey(old), Value: "0"}}}), nil
}

// Rollback is the change that returns the traffic (or, rolling, the image)
// to the old release.
func (p *Plan) Rollback() []Change {
	if p.Strategy == Rolling {
		var out []Change
		for _, t := range RollingTiers {
			out = append(out, Change{Key: tierImageKey(t), Remove: true}, Change{Key: tierGroupsKey(t), Remove: true})
		}
		return out
	}
	return Weights(p.Old, p.New, 0)
}

// Restore follows a rollback by weight when the release had shrunk the old
// slot: the new slot's replicas go and the old slot runs all of its own
// again, in a second up (the rollback's up recreates nothing; this one
// does). Empty when there is nothing to restore.
func (p *Plan) Restore() []Change {
	if p.Strategy == Rolling {
		return nil
	}
	for _, st := range p.Steps {
		for _, c := range st.Changes {
			if c.Key == scaleKey(p.Old) && c.Value != "100" && c.Value != "0" { // shrunk to a share, before the end
				return []Change{{Key: scaleKey(p.New), Value: "0"}, {Key: scaleKey(p.Old), Value: "100"}}
			}
		}
	}
	return nil
}

// Weights gives the new slot w percent of the traffic and the old the rest.
func Weights(old, nw string, w int) []Change {
	return []Change{{Key: weightKey(nw), Value: strconv.Itoa(w)}, {Key: weightKey(old), Value: strconv.Itoa(100 - w)}}
}

func imageKey(slot string) string  { return "release." + slot + ".image" }
func weightKey(slot string) string { return "release." + slot + ".weight" }
func scaleKey(slot string) string  { return "release." + slot + ".scale" }

func tierImageKey(tier string) string  { return "tiers." + tier + ".image" }
func tierGroupsKey(tier string) string { return "tiers." + tier + ".imageGroups" }

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
