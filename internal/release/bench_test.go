package release

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// failAt records when it returned its failure.
type failAt struct{ at time.Time }

func (f *failAt) Analyse(context.Context, string) error {
	f.at = time.Now()
	return &Failed{Reasons: []string{"error rate > 5% on the green slot"}}
}

// BenchmarkRollbackAfterFailedAnalysis measures the controller's part of a
// rollback: from a failed analysis returning to the rollback up being
// issued (the state recorded on the way), reported as ns-to-rollback-up.
func BenchmarkRollbackAfterFailedAnalysis(b *testing.B) {
	p, err := NewPlan(blueLive, Spec{Strategy: Canary, Image: "aurigraph/v11:2.0.0", Pause: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, "state.json")
		_ = os.Remove(path)
		r := newRunner(liveConfig())
		a := &failAt{}
		c := &Controller{StatePath: path, Runner: r, Backup: &okBackup{}, Smoke: &fakeSmoke{}, Analysis: a, Interval: time.Second, Out: io.Discard}
		if err := c.Start(context.Background(), p); err == nil {
			b.Fatal("the release did not roll back")
		}
		last := r.ups[len(r.ups)-1]
		if last.Step != "rollback" {
			b.Fatalf("last up %q", last.Step)
		}
		total += last.At.Sub(a.at)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns-to-rollback-up")
}
