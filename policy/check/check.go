// Package check runs the policy pack's rules offline over the resources a
// mocked run of the real program recorded.
package check

import (
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
)

// Violation is one rule broken by one resource (or by the stack).
type Violation struct {
	Policy  string `json:"policy"`
	Level   string `json:"level"` // mandatory | advisory
	URN     string `json:"urn"`
	Message string `json:"message"`
}

// Report is every violation of one stack, sorted.
type Report struct {
	Violations []Violation `json:"violations"`
}

// Evaluate runs every rule over the recorded resources of stack s.
// TODO(policy): the rules.
func Evaluate(s *stackfile.Stack, res *mockrun.Result) (*Report, error) {
	return &Report{Violations: []Violation{}}, nil
}
