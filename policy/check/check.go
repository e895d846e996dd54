// Package check runs the policy pack's rules offline over the resources a
// mocked run of the real program recorded: the same policyx policies the
// pack serves to the engine, with the same per-environment levels.
package check

import (
	"context"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/policy/rules"
)

// Violation is one rule broken by one resource (or by the stack).
type Violation struct {
	Policy  string `json:"policy"`
	Level   string `json:"level"` // mandatory | advisory
	URN     string `json:"urn"`
	Message string `json:"message"`
}

// RuleResult is one rule's verdict over a stack.
type RuleResult struct {
	Policy      string
	Description string
	Level       string // mandatory | advisory | disabled
	Stack       bool   // a stack rule (checked once) rather than per resource
	Checked     int    // resources checked (1 for a stack rule)
	Failed      int    // resources (or the stack) with at least one violation
}

// Report is every violation of one stack, sorted.
type Report struct {
	Environment string       `json:"-"`
	Violations  []Violation  `json:"violations"`
	Rules       []RuleResult `json:"-"`
}

// Mandatory counts the mandatory violations.
func (r *Report) Mandatory() int {
	n := 0
	for _, v := range r.Violations {
		if v.Level == config.Mandatory {
			n++
		}
	}
	return n
}

// Of returns the violations of one rule.
func (r *Report) Of(policy string) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Policy == policy {
			out = append(out, v)
		}
	}
	return out
}

// Environment is the settings file a stack uses: aurigraph:environment, else its name.
func Environment(s *stackfile.Stack) string {
	if e := s.Config[rules.Namespace+":environment"]; e != "" {
		return e
	}
	return s.Name
}

// Evaluate runs every rule over the recorded resources of stack s.
func Evaluate(s *stackfile.Stack, res *mockrun.Result) (*Report, error) {
	return EvaluateLevels(s, res, nil)
}

// EvaluateLevels is Evaluate with some rules' levels set over the stack's
// settings (a fixture's levels).
func EvaluateLevels(s *stackfile.Stack, res *mockrun.Result, levels map[string]string) (*Report, error) {
	settings, err := config.Load(Environment(s))
	if err != nil {
		return nil, err
	}
	if settings, err = settings.WithLevels(levels); err != nil {
		return nil, err
	}
	return EvaluateWith(settings, rules.FactsFromConfig(s.Config), Resources(res))
}

// Resources converts a recording into what the engine sends an analyzer:
// inputs as property maps, the provider with its own inputs, parents and
// dependencies.
func Resources(res *mockrun.Result) []policyx.AnalyzerResource {
	out := make([]policyx.AnalyzerResource, 0, len(res.Resources))
	for _, r := range res.Resources {
		ar := policyx.AnalyzerResource{
			Type:         r.Type,
			Name:         r.Name,
			URN:          r.URN,
			Properties:   resource.FromResourcePropertyMap(r.Inputs),
			Parent:       r.Parent,
			Dependencies: append([]string{}, r.DependsOn...),
		}
		if r.Provider != "" {
			ar.Provider = policyx.AnalyzerProviderResource{URN: r.Provider, Name: nameOf(r.Provider)}
			if p := res.ByURN(r.Provider); p != nil {
				ar.Provider.Type = p.Type
				ar.Provider.Properties = resource.FromResourcePropertyMap(p.Inputs)
			}
		}
		out = append(out, ar)
	}
	return out
}

func nameOf(urn string) string {
	for i := len(urn) - 2; i >= 0; i-- {
		if urn[i:i+2] == "::" {
			return urn[i+2:]
		}
	}
	return urn
}

// manager collects what policies report.
type manager struct {
	policy, level, urn string
	out                *[]Violation
}

func (m manager) ReportViolation(message, urn string) {
	if urn == "" {
		urn = m.urn
	}
	*m.out = append(*m.out, Violation{Policy: m.policy, Level: m.level, URN: urn, Message: message})
}

// EvaluateWith runs the pack built from settings and facts over resources.
func EvaluateWith(settings config.Settings, facts rules.Facts, resources []policyx.AnalyzerResource) (*Report, error) {
	ctx := context.Background()
	byName := map[string]rules.Rule{}
	for _, r := range rules.All() {
		byName[r.Name] = r
	}
	rep := &Report{Environment: settings.Environment, Violations: []Violation{}}
	for _, p := range rules.Policies(settings, facts) {
		level := settings.Level(p.Name())
		rule := byName[p.Name()]
		result := RuleResult{Policy: p.Name(), Description: p.Description(), Level: level}
		if level == config.Disabled {
			rep.Rules = append(rep.Rules, result)
			continue
		}
		var found []Violation
		switch pol := p.(type) {
		case policyx.StackValidationPolicy:
			result.Stack, result.Checked = true, 1
			m := manager{policy: p.Name(), level: level, out: &found}
			if err := pol.Validate(ctx, policyx.StackValidationArgs{Manager: m, Resources: resources}); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name(), err)
			}
			if len(found) > 0 {
				result.Failed = 1
			}
		case policyx.ResourceValidationPolicy:
			failed := map[string]bool{}
			for _, r := range resources {
				if !rule.Applies(r.Type) {
					continue
				}
				result.Checked++
				before := len(found)
				m := manager{policy: p.Name(), level: level, urn: r.URN, out: &found}
				args := policyx.ResourceValidationArgs{Manager: m, Resource: r, Config: settings.Props(p.Name())}
				if err := pol.Validate(ctx, args); err != nil {
					return nil, fmt.Errorf("%s on %s: %w", p.Name(), r.URN, err)
				}
				if len(found) > before {
					failed[r.URN] = true
				}
			}
			result.Failed = len(failed)
		}
		rep.Violations = append(rep.Violations, found...)
		rep.Rules = append(rep.Rules, result)
	}
	sort.SliceStable(rep.Violations, func(i, j int) bool {
		a, b := rep.Violations[i], rep.Violations[j]
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		if a.URN != b.URN {
			return a.URN < b.URN
		}
		return a.Message < b.Message
	})
	return rep, nil
}
