package release

import (
	"context"
	"sync"
	"time"
)

// recordingRunner records every up with its changes and time, and applies
// them to a config map as the stack file would hold them.
type recordingRunner struct {
	mu     sync.Mutex
	ups    []recordedUp
	config map[string]string
	// onUp, when set, runs after an up is recorded (a test changes the
	// exporter's behaviour as a step takes effect).
	onUp func(step string, changes []Change)
	fail map[string]error // step name → error of its up
}

type recordedUp struct {
	Step    string
	Changes []Change
	At      time.Time
}

func newRunner(cfg map[string]string) *recordingRunner {
	return &recordingRunner{config: cfg, fail: map[string]error{}}
}

func (r *recordingRunner) Up(_ context.Context, step string, changes []Change) error {
	r.mu.Lock()
	r.ups = append(r.ups, recordedUp{step, changes, time.Now()})
	if err := r.fail[step]; err != nil {
		r.mu.Unlock()
		return err
	}
	for _, c := range changes {
		if c.Remove {
			delete(r.config, c.Key)
		} else {
			r.config[c.Key] = c.Value
		}
	}
	hook := r.onUp
	r.mu.Unlock()
	if hook != nil {
		hook(step, changes)
	}
	return nil
}

func (r *recordingRunner) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.ups {
		out = append(out, u.Step)
	}
	return out
}

func (r *recordingRunner) weights() (blue, green string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.config["release.blue.weight"], r.config["release.green.weight"]
}

type okBackup struct{ calls int }

func (b *okBackup) Backup(context.Context) error { b.calls++; return nil }

type fakeSmoke struct {
	err   error
	slots []string
}

func (s *fakeSmoke) Test(_ context.Context, slot string) error {
	s.slots = append(s.slots, slot)
	return s.err
}

// liveConfig is a stack with blue live and green unused.
func liveConfig() map[string]string {
	return map[string]string{"release.blue.image": "aurigraph/v11:1.0.0", "release.blue.weight": "100", "release.green.image": "", "release.green.weight": "0"}
}

var blueLive = Current{Blue: SlotConfig{Image: "aurigraph/v11:1.0.0", Weight: 100}}
