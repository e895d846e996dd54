// Package promql reads PromQL the way Prometheus does (its own parser), so
// tests can check that every dashboard query and alert rule parses and
// names only metrics some scrape target exports.
package promql

import (
	"fmt"
	"sort"

	"github.com/prometheus/prometheus/promql/parser"
)

// Parse parses expr as Prometheus would (its default options).
func Parse(expr string) (parser.Expr, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	return e, nil
}

// MetricNames are the metric names expr selects, sorted and unique: the
// name of every vector and matrix selector, whether written before the
// braces or as a __name__ equality matcher. A selector matching names by
// regular expression names no metric and is reported as an error, so a
// check built on this cannot be bypassed by accident.
func MetricNames(expr string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var problems []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" {
				continue
			}
			if m.Type.String() != "=" {
				problems = append(problems, fmt.Sprintf("selector %s matches metric names by %s", vs.String(), m.Type))
				continue
			}
			name = m.Value
		}
		if name != "" {
			seen[name] = true
		}
		return nil
	})
	if len(problems) > 0 {
		return nil, fmt.Errorf("%q: %v", expr, problems)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
