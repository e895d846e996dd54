package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Statuses of a release.
const (
	StatusRunning    = "running"
	StatusSucceeded  = "succeeded"
	StatusRolledBack = "rolled-back" // a failed analysis or smoke test
	StatusAborted    = "aborted"     // release abort
)

// State is where a release is: its plan, the next step to run and how it
// ended. It is the file `release status` reads.
type State struct {
	Stack  string `json:"stack"`
	Plan   *Plan  `json:"plan"`
	Status string `json:"status"`
	// Next is the index of the first step not yet completed: a resumed
	// release starts there (a step whose up was interrupted is re-run; its
	// changes are absolute values, so re-running is harmless).
	Next      int       `json:"next"`
	Started   time.Time `json:"started"`
	Updated   time.Time `json:"updated"`
	Reason    string    `json:"reason,omitempty"`
	Promoted  bool      `json:"promoted,omitempty"` // release promote: skip the current wait
	Completed []Done    `json:"completed,omitempty"`
}

// Done is a completed step and how long it took.
type Done struct {
	Name    string        `json:"name"`
	Elapsed time.Duration `json:"elapsed"`
}

// ErrNoRelease is LoadState's error when no state file exists.
var ErrNoRelease = errors.New("no release recorded")

// LoadState reads the state file.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoRelease)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Plan == nil {
		return nil, fmt.Errorf("%s: no plan recorded", path)
	}
	return &s, nil
}

// SaveState writes the state file atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so an interruption
// leaves either the old state or the new one.
func SaveState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up on error
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
