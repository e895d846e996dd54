// Package plan shows what a stack would deploy, offline: it runs the real
// program under Pulumi mocks on the committed stack file (missing secrets
// replaced by placeholders) and prints every resource with its inputs,
// secrets as "[secret]". No Pulumi CLI, backend or secret is needed, and
// the same config always gives byte-identical output.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/stacks"
)

// Plan is what a stack would deploy. Its JSON form is the plan's contract
// (cmd/plandiff reads it back, also from older commits).
type Plan struct {
	Stack     string     `json:"stack"`
	Resources []Resource `json:"resources"` // sorted by URN
	// MissingSecrets are the full config keys ("aurigraph:postgresPassword")
	// of the secrets the stack needs (required, or turned on by its config:
	// stacks.NeededSecrets) that have no readable value here: as in Pulumi.yaml
	// and in `pulumi config set --secret aurigraph:postgresPassword …`.
	MissingSecrets []string `json:"missingSecrets"`
	Policy         Policy   `json:"policy"`

	// For the text form only: read from the stack file, not part of the JSON.
	Environment string        `json:"-"`
	Hosts       []stacks.Host `json:"-"`
}

// Resource is one resource the program registers.
type Resource struct {
	URN       string         `json:"urn"`
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	Parent    string         `json:"parent"`
	Provider  string         `json:"provider"`
	DependsOn []string       `json:"dependsOn"`
	Inputs    map[string]any `json:"inputs"`
}

// Policy is the policy pack's verdict on the plan.
type Policy struct {
	Violations []check.Violation `json:"violations"`
}

// Build plans stack from the stack files in dir. A config that fails
// validation returns the program's validation error; missing secrets do not
// fail (they get placeholders and are listed in MissingSecrets).
func Build(dir, stack string) (*Plan, error) {
	s, err := stackfile.Load(dir, stack)
	if err != nil {
		return nil, err
	}
	return BuildStack(s)
}

// BuildStack plans a loaded stack (tests derive changed configs with Set).
func BuildStack(s *stackfile.Stack) (*Plan, error) {
	s = withNeededSecrets(s)
	run := s.WithPlaceholders()
	res, err := mockrun.RunStack(stacks.Run, run)
	if err != nil {
		return nil, err
	}
	p := FromResult(s, res)
	report, err := check.Evaluate(run, res)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if report != nil {
		p.Policy.Violations = append(p.Policy.Violations, report.Violations...)
	}
	sortViolations(p.Policy.Violations)
	if err := checkLeaks(p, run); err != nil {
		return nil, err
	}
	return p, nil
}

// withNeededSecrets adds to s's missing secrets the optional ones its
// config turns on (an alert receiver's credential, the operator
// certificate) but leaves unset: they are planned with placeholders and
// listed like the required ones, instead of failing validation.
func withNeededSecrets(s *stackfile.Stack) *stackfile.Stack {
	c := *s
	c.MissingSecrets = append([]string{}, s.MissingSecrets...)
	for _, key := range stacks.NeededSecretsIn(s.Config) {
		full := stacks.Namespace + ":" + key
		if s.Config[full] == "" && !slices.Contains(c.MissingSecrets, full) {
			c.MissingSecrets = append(c.MissingSecrets, full)
		}
	}
	sort.Strings(c.MissingSecrets)
	return &c
}

// FromResult turns a recorded run into a plan (without policy results).
func FromResult(s *stackfile.Stack, res *mockrun.Result) *Plan {
	p := &Plan{
		Stack:          s.Name,
		Resources:      []Resource{},
		MissingSecrets: append([]string{}, s.MissingSecrets...),
		Policy:         Policy{Violations: []check.Violation{}},
		Environment:    s.Config[s.Project+":environment"],
	}
	sort.Strings(p.MissingSecrets)
	if raw, ok := s.Config[s.Project+":hosts"]; ok {
		// Best effort: a broken inventory has already failed validation.
		_ = json.Unmarshal([]byte(raw), &p.Hosts)
	}
	for _, r := range res.Resources {
		deps := append([]string{}, r.DependsOn...)
		sort.Strings(deps)
		p.Resources = append(p.Resources, Resource{
			URN: r.URN, Type: r.Type, Name: r.Name, Parent: r.Parent, Provider: r.Provider,
			DependsOn: deps, Inputs: Inputs(r.Inputs),
		})
	}
	sort.Slice(p.Resources, func(i, j int) bool { return p.Resources[i].URN < p.Resources[j].URN })
	return p
}

func sortViolations(v []check.Violation) {
	sort.SliceStable(v, func(i, j int) bool {
		a, b := v[i], v[j]
		if a.Level != b.Level {
			return a.Level > b.Level // mandatory before advisory
		}
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		if a.URN != b.URN {
			return a.URN < b.URN
		}
		return a.Message < b.Message
	})
}

// checkLeaks refuses a plan in which a secret value (a placeholder, or one
// the stack file gives) shows in plain text: the program lost a secret's
// wrapping somewhere, which a real deployment would write into the state
// and the preview in clear.
func checkLeaks(p *Plan, run *stackfile.Stack) error {
	var leaks []string
	for _, r := range p.Resources {
		for _, key := range run.SecretKeys {
			// Short values would match by chance; validation refuses them anyway.
			if v := run.Config[key]; len(v) >= 8 && contains(r.Inputs, v) {
				leaks = append(leaks, fmt.Sprintf("%s (secret %s)", r.URN, key))
			}
		}
	}
	if len(leaks) > 0 {
		return fmt.Errorf("secret values appear in plain text in the inputs of:\n  %s\nkeep them Pulumi secrets end to end", strings.Join(leaks, "\n  "))
	}
	return nil
}

// contains reports whether any string in a plain JSON value holds s.
func contains(v any, s string) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, s)
	case []any:
		for _, e := range t {
			if contains(e, s) {
				return true
			}
		}
	case map[string]any:
		for k, e := range t {
			if strings.Contains(k, s) || contains(e, s) {
				return true
			}
		}
	}
	return false
}

// WriteJSON writes the plan as 2-space indented JSON with sorted keys and a
// trailing newline; HTML characters stay as they are so config text reads well.
func (p *Plan) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Read parses a plan written by WriteJSON.
func Read(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("reading plan JSON: %w", err)
	}
	return &p, nil
}
