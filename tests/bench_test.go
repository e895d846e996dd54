package tests

import (
	"fmt"
	"testing"

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

// BenchmarkScale measures how the program grows with the application tiers:
// prod's shape multiplied up to 8× (200 application containers).
func BenchmarkScale(b *testing.B) {
	base := harness.Stack(b, "prod")
	for _, factor := range []int{1, 2, 4, 8} {
		s := base.Set("tiers", fmt.Sprintf(`{"validator":{"replicas":%d},"business":{"replicas":%d,"groups":[%d,%d]},"slim":{"replicas":%d}}`,
			5*factor, 15*factor, 8*factor, 7*factor, 5*factor))
		b.Run(fmt.Sprintf("x%d", factor), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res := harness.Run(b, s)
				b.ReportMetric(float64(len(res.Resources)), "resources")
			}
		})
	}
}
