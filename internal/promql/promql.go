// Package promql reads PromQL the way Prometheus does (its own parser), so
// tests can check that every dashboard query and alert rule parses and
// names only metrics some scrape target exports.
package promql

import (
	"fmt"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
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
			if m.Name != model.MetricNameLabel {
				continue
			}
			if m.Type != labels.MatchEqual {
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

// Unexported lists the metrics expr names that no scrape job it selects
// exports: exporters maps a metric name to the jobs exporting it (anyJob
// standing for every job), and a selector with job matchers
// (job="node", job=~"node|cadvisor") is satisfied only by a job they accept.
func Unexported(expr string, exporters map[string][]string, anyJob string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	if _, err := MetricNames(expr); err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		var jobs []*labels.Matcher
		for _, m := range vs.LabelMatchers {
			switch m.Name {
			case model.MetricNameLabel:
				name = m.Value
			case "job":
				jobs = append(jobs, m)
			}
		}
		if name == "" {
			return nil
		}
		for _, job := range exporters[name] {
			if job == anyJob {
				return nil
			}
			accepted := true
			for _, m := range jobs {
				accepted = accepted && m.Matches(job)
			}
			if accepted {
				return nil
			}
		}
		missing[vs.String()] = true
		return nil
	})
	out := make([]string, 0, len(missing))
	for s := range missing {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}
