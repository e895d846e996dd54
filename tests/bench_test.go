package tests

import (
	"fmt"
	"testing"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// BenchmarkWholeStack measures one mocked run of the real program per stack:
// the cost of every `make plan`, policy check and whole-stack test.
func BenchmarkWholeStack(b *testing.B) {
	for _, stack := range []string{"staging", "prod"} {
		s := harness.Stack(b, stack)
		b.Run(stack, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				harness.Run(b, s)
			}
		})
	}
}

// planScales are the sizes BenchmarkPlan measures (make bench, README):
// application nodes on application hosts.
var planScales = []harness.Scale{{Nodes: 25, AppHosts: 5}, {Nodes: 100, AppHosts: 10}, {Nodes: 250, AppHosts: 25}, {Nodes: 1000, AppHosts: 100}}

// BenchmarkPlan measures how the mocked whole-stack run (the offline plan,
// the policy check, every whole-stack test) grows with the application:
// time and allocations per plan, and the resources each plan holds, so
// ns/op can be read against the resource count, and the dependency edges
// (every resource's dependsOn) the engine orders them by.
func BenchmarkPlan(b *testing.B) {
	for _, sc := range planScales {
		s := harness.ScaleStack(b, sc)
		b.Run(fmt.Sprint(sc.Nodes), func(b *testing.B) {
			b.ReportAllocs()
			resources, edges := 0, 0
			for i := 0; i < b.N; i++ {
				res := harness.Run(b, s)
				resources, edges = len(res.Resources), dependencyEdges(res)
			}
			b.ReportMetric(float64(resources), "resources")
			b.ReportMetric(float64(edges), "edges")
		})
	}
}

// dependencyEdges counts the dependsOn edges of a run.
func dependencyEdges(res *mockrun.Result) int {
	n := 0
	for _, r := range res.Resources {
		n += len(r.DependsOn)
	}
	return n
}
