// Package rules is the Aurigraph policy pack: every rule as a plain Go check
// over a resource's properties (testable offline) and as a policyx policy
// (served by policy/main.go to `pulumi preview --policy-pack policy`).
//
// Rules read properties through the helpers in props.go: an unknown value
// (preview) gives no verdict on that field, a secret is read through and never
// printed, and a panic in a rule becomes a violation, never a crash.
package rules

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/aurigraph/infra/policy/config"
)

// PackName and PackVersion identify the pack to the engine.
const (
	PackName    = "aurigraph-policy"
	PackVersion = "1.0.0"
)

// Finding is one violation: the resource (empty = the one checked) and why.
type Finding struct {
	URN     string
	Message string
}

// Env is what a rule may read besides the resource: its settings and the
// stack's facts (hosts, capacity, thresholds).
type Env struct {
	Params map[string]any
	Facts  Facts
}

// Num reads a numeric setting.
func (e Env) Num(key string, def float64) float64 {
	switch v := e.Params[key].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return def
}

// Rule is one policy. Exactly one of Resource and Stack is set.
type Rule struct {
	Name        string
	Description string
	// Types the resource check applies to; empty means every type.
	Types []string
	// Schema documents the rule's settings for the CLI's validation.
	Schema   *policyx.ConfigSchema
	Resource func(r policyx.AnalyzerResource, env Env) []Finding
	Stack    func(rs []policyx.AnalyzerResource, env Env) []Finding
	// OptIn, when set, says why the rule is advisory even in prod until a
	// stack's policy config makes it mandatory (every other rule is
	// mandatory in prod).
	OptIn string
}

// Applies reports whether the resource check runs on a type.
func (r Rule) Applies(typ string) bool {
	if r.Resource == nil {
		return false
	}
	if len(r.Types) == 0 {
		return true
	}
	for _, t := range r.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// CheckResource runs the resource check; a panic becomes a finding.
func (r Rule) CheckResource(res policyx.AnalyzerResource, env Env) (out []Finding) {
	if !r.Applies(res.Type) {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			out = []Finding{{URN: res.URN, Message: fmt.Sprintf("the rule could not read the resource's properties: %v", p)}}
		}
	}()
	return r.Resource(res, env)
}

// CheckStack runs the stack check; a panic becomes a finding.
func (r Rule) CheckStack(rs []policyx.AnalyzerResource, env Env) (out []Finding) {
	if r.Stack == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			out = []Finding{{Message: fmt.Sprintf("the rule could not read the stack's resources: %v", p)}}
		}
	}()
	return r.Stack(rs, env)
}

// All is every rule of the pack, sorted by name.
func All() []Rule {
	var all []Rule
	all = append(all, containerRules()...)
	all = append(all, exposureRules()...)
	all = append(all, credentialRules()...)
	all = append(all, serviceRules()...)
	all = append(all, tlsRules()...)
	all = append(all, stackRules()...)
	all = append(all, sshRules()...)
	all = append(all, zoneRules()...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Names lists every rule name, sorted.
func Names() []string {
	var out []string
	for _, r := range All() {
		out = append(out, r.Name)
	}
	return out
}

// Level converts a settings level to the engine's.
func Level(l string) policyx.EnforcementLevel {
	switch l {
	case config.Advisory:
		return policyx.EnforcementLevelAdvisory
	case config.Disabled:
		return policyx.EnforcementLevelDisabled
	default:
		return policyx.EnforcementLevelMandatory
	}
}

// Policies turns every rule into a policyx policy with the levels and
// settings of s. Resource policies take their settings from the CLI's
// --policy-pack-config when given (args.Config), else from s; stack policies
// always from s (policyx v3.260 passes stack policies no config), and their
// facts from facts plus the host components among the resources.
func Policies(s config.Settings, facts Facts) []policyx.Policy {
	var out []policyx.Policy
	for _, r := range All() {
		r := r
		defaults := s.Props(r.Name)
		if r.Stack != nil {
			out = append(out, policyx.NewStackValidationPolicy(r.Name, policyx.StackValidationPolicyArgs{
				Description:      r.Description,
				EnforcementLevel: Level(s.Level(r.Name)),
				ConfigSchema:     r.Schema,
				ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
					env := Env{Params: defaults, Facts: facts.WithResources(args.Resources)}
					for _, f := range r.CheckStack(args.Resources, env) {
						args.Manager.ReportViolation(f.Message, f.URN)
					}
					return nil
				},
			}))
			continue
		}
		out = append(out, policyx.NewResourceValidationPolicy(r.Name, policyx.ResourceValidationPolicyArgs{
			Description:      r.Description,
			EnforcementLevel: Level(s.Level(r.Name)),
			ConfigSchema:     r.Schema,
			ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
				env := Env{Params: merge(defaults, args.Config), Facts: facts}
				for _, f := range r.CheckResource(args.Resource, env) {
					urn := f.URN
					if urn == args.Resource.URN {
						urn = "" // the engine fills in the resource's own
					}
					args.Manager.ReportViolation(f.Message, urn)
				}
				return nil
			},
		}))
	}
	return out
}

// NewPack is the policy pack for settings s and the stack's facts.
func NewPack(s config.Settings, facts Facts) (policyx.PolicyPack, error) {
	return policyx.NewPolicyPack(PackName, semver.MustParse(PackVersion), policyx.EnforcementLevelMandatory, Policies(s, facts))
}

func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if k != "enforcementLevel" {
			out[k] = v
		}
	}
	return out
}

// numberSchema documents numeric settings.
func numberSchema(keys ...string) *policyx.ConfigSchema {
	s := &policyx.ConfigSchema{Properties: map[string]map[string]any{}}
	for _, k := range keys {
		s.Properties[k] = map[string]any{"type": "number"}
	}
	return s
}

// urnName is the name part of a URN.
func urnName(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

// found builds a finding on the checked resource.
func found(r policyx.AnalyzerResource, format string, args ...any) Finding {
	return Finding{URN: r.URN, Message: fmt.Sprintf(format, args...)}
}
