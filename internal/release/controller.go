package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Runner applies config changes to the stack and runs one up.
type Runner interface {
	Up(ctx context.Context, step string, changes []Change) error
}

// Backup takes the pre-deployment backup of PostgreSQL and verifies that it
// reads back.
type Backup interface {
	Backup(ctx context.Context) error
}

// Controller runs a plan step by step, recording where it is in StatePath.
type Controller struct {
	Stack     string
	StatePath string
	Runner    Runner
	Backup    Backup
	Smoke     Smoke
	Analysis  Analysis
	// Interval is the time between analyses during a step's wait, and
	// between looks at the state file for promote and abort.
	Interval time.Duration
	// Inconclusive analyses (Prometheus unreachable, a query error) in a
	// row that count as a failure (0: 3).
	MaxInconclusive int
	Out             io.Writer
	Now             func() time.Time
}

func (c *Controller) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Controller) logf(format string, args ...any) { fmt.Fprintf(c.Out, format+"\n", args...) }

// ErrAborted is Run's error when `release abort` stopped the release.
var ErrAborted = errors.New("release aborted (release abort)")

// Start records a new release of plan and runs it. A release still
// running must be resumed or aborted first.
func (c *Controller) Start(ctx context.Context, plan *Plan) error {
	if s, err := LoadState(c.StatePath); err == nil && s.Status == StatusRunning {
		return fmt.Errorf("a release of %s is in progress at step %d/%d (%s): resume it (release resume) or abort it (release abort)", s.Plan.Image, s.Next+1, len(s.Plan.Steps), c.StatePath)
	} else if err != nil && !errors.Is(err, ErrNoRelease) {
		return err
	}
	t := c.now()
	s := &State{Stack: c.Stack, Plan: plan, Status: StatusRunning, Started: t, Updated: t}
	if err := SaveState(c.StatePath, s); err != nil {
		return err
	}
	return c.run(ctx, s)
}

// Resume continues the recorded release at its next step.
func (c *Controller) Resume(ctx context.Context) error {
	s, err := LoadState(c.StatePath)
	if err != nil {
		return err
	}
	if s.Status != StatusRunning {
		return fmt.Errorf("the release of %s is %s, nothing to resume", s.Plan.Image, s.Status)
	}
	c.logf("resuming the %s release of %s at step %d/%d", s.Plan.Strategy, s.Plan.Image, s.Next+1, len(s.Plan.Steps))
	return c.run(ctx, s)
}

func (c *Controller) run(ctx context.Context, s *State) error {
	p := s.Plan
	for s.Next < len(p.Steps) {
		i := s.Next
		st := p.Steps[i]
		began := c.now()
		c.logf("[%d/%d] %s: %s", i+1, len(p.Steps), elapsed(began.Sub(s.Started)), st.Name)
		if err := c.step(ctx, s, st); err != nil {
			return err
		}
		took := c.now().Sub(began)
		// Someone may have aborted or promoted while the step ran: an
		// abort ends the release, a promote is kept for the next wait (a
		// wait consumes it), never overwritten by this save.
		if cur, err := LoadState(c.StatePath); err == nil {
			if cur.Status == StatusAborted {
				return ErrAborted
			}
			s.Promoted = cur.Promoted
		}
		s.Next = i + 1
		s.Completed = append(s.Completed, Done{Name: st.Name, Elapsed: took})
		if s.Next == len(p.Steps) {
			s.Status = StatusSucceeded
		}
		if err := c.save(s); err != nil {
			return err
		}
		c.logf("[%d/%d] %s: done in %s", i+1, len(p.Steps), elapsed(c.now().Sub(s.Started)), elapsed(took))
	}
	c.logf("release of %s succeeded in %s", p.Image, elapsed(c.now().Sub(s.Started)))
	return nil
}

func (c *Controller) save(s *State) error {
	s.Updated = c.now()
	return SaveState(c.StatePath, s)
}

func (c *Controller) step(ctx context.Context, s *State, st Step) error {
	p := s.Plan
	switch st.Kind {
	case KindBackup:
		if err := c.Backup.Backup(ctx); err != nil {
			return fmt.Errorf("pre-deployment backup: %w (nothing was changed)", err)
		}
	case KindSmoke:
		if err := c.Smoke.Test(ctx, p.New); err != nil {
			// The new slot has no traffic yet: nothing to roll back.
			s.Status, s.Reason = StatusRolledBack, err.Error()
			if serr := c.save(s); serr != nil {
				return serr
			}
			return fmt.Errorf("%w; the %s slot never got traffic", err, p.New)
		}
	}
	if len(st.Changes) > 0 {
		c.logf("    up: %s", changeList(st.Changes))
		if err := c.Runner.Up(ctx, st.Name, st.Changes); err != nil {
			if st.Kind == KindWeight || st.Kind == KindPhase {
				return c.rollback(ctx, s, fmt.Sprintf("up of %q failed: %v", st.Name, err), c.now())
			}
			return fmt.Errorf("up of %q failed: %w; fix the cause and run release resume (the step is re-run) or release abort", st.Name, err)
		}
	}
	if st.Wait > 0 {
		return c.wait(ctx, s, st)
	}
	return nil
}

// wait analyses the new slot every Interval for the step's wait, ending
// early on promote and rolling back on a failed analysis. A drain only
// waits.
func (c *Controller) wait(ctx context.Context, s *State, st Step) error {
	analyse := st.Kind != KindDrain
	end := c.now().Add(st.Wait)
	maxInc := c.MaxInconclusive
	if maxInc == 0 {
		maxInc = 3
	}
	inconclusive := 0
	what := "waiting"
	if analyse {
		what = "analysing the " + s.Plan.New + " slot"
	}
	c.logf("    %s for %s (every %s; release promote ends it)", what, st.Wait, c.Interval)
	for {
		if analyse {
			err := c.Analysis.Analyse(ctx, s.Plan.New)
			failedAt := c.now()
			var failed *Failed
			switch {
			case errors.As(err, &failed):
				return c.rollback(ctx, s, err.Error(), failedAt)
			case err != nil:
				inconclusive++
				c.logf("    analysis inconclusive (%d/%d): %v", inconclusive, maxInc, err)
				if inconclusive >= maxInc {
					return c.rollback(ctx, s, fmt.Sprintf("analysis inconclusive %d times in a row: %v", inconclusive, err), failedAt)
				}
			default:
				inconclusive = 0
			}
		}
		cur, err := LoadState(c.StatePath)
		if err != nil {
			return err
		}
		if cur.Status == StatusAborted {
			return ErrAborted
		}
		if cur.Promoted {
			c.logf("    promoted: the rest of the wait is skipped")
			cur.Promoted = false // consumed: the next wait runs in full
			s.Promoted = false
			return c.save(cur)
		}
		left := end.Sub(c.now())
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, c.Interval)):
		}
	}
}

// rollback gives the old release its traffic back in one up (by weight:
// no container is recreated) and records why.
func (c *Controller) rollback(ctx context.Context, s *State, reason string, failedAt time.Time) error {
	p := s.Plan
	changes := p.Rollback()
	c.logf("    ROLLBACK: %s", reason)
	c.logf("    up: %s (%s after the failure)", changeList(changes), c.now().Sub(failedAt).Round(time.Microsecond))
	upErr := c.Runner.Up(ctx, "rollback", changes)
	s.Status, s.Reason = StatusRolledBack, reason
	if upErr != nil {
		s.Reason += fmt.Sprintf("; the rollback up failed too: %v", upErr)
	} else if err := c.restore(ctx, p); err != nil {
		s.Reason += "; " + err.Error()
	}
	if err := c.save(s); err != nil {
		return err
	}
	if upErr != nil {
		return fmt.Errorf("release rolled back: %s; the rollback up FAILED: %w: set %s by hand and run pulumi up", reason, upErr, changeList(changes))
	}
	return fmt.Errorf("release rolled back: %s", reason)
}

// Abort rolls the recorded release back by weight and records it aborted.
func (c *Controller) Abort(ctx context.Context) error {
	s, err := LoadState(c.StatePath)
	if err != nil {
		return err
	}
	if s.Status != StatusRunning {
		return fmt.Errorf("the release of %s is %s, nothing to abort", s.Plan.Image, s.Status)
	}
	changes := s.Plan.Rollback()
	c.logf("abort: up: %s", changeList(changes))
	if err := c.Runner.Up(ctx, "abort", changes); err != nil {
		return fmt.Errorf("abort: the rollback up failed: %w (the release stays recorded as running)", err)
	}
	s.Status, s.Reason = StatusAborted, "aborted by release abort"
	if err := c.restore(ctx, s.Plan); err != nil {
		s.Reason += "; " + err.Error()
	}
	return c.save(s)
}

// restore runs the old slot at full scale again after the traffic went
// back to it, when the release had shrunk it (Plan.Restore): a second up,
// after the rollback's, which is the one that matters for the time to
// safety.
func (c *Controller) restore(ctx context.Context, p *Plan) error {
	changes := p.Restore()
	if len(changes) == 0 {
		return nil
	}
	c.logf("    restore: up: %s", changeList(changes))
	if err := c.Runner.Up(ctx, "restore", changes); err != nil {
		return fmt.Errorf("the restore up failed: %v: set %s by hand and run pulumi up", err, changeList(changes))
	}
	return nil
}

// Promote ends the running release's current wait (pause or analysis
// window) at its next look at the state file.
func (c *Controller) Promote() error {
	s, err := LoadState(c.StatePath)
	if err != nil {
		return err
	}
	if s.Status != StatusRunning {
		return fmt.Errorf("the release of %s is %s, nothing to promote", s.Plan.Image, s.Status)
	}
	s.Promoted = true
	return c.save(s)
}

// Status describes the recorded release.
func (c *Controller) Status() error {
	s, err := LoadState(c.StatePath)
	if err != nil {
		return err
	}
	p := s.Plan
	c.logf("%s release of %s on stack %s (%s -> %s): %s, started %s, updated %s", p.Strategy, p.Image, s.Stack, p.Old, p.New, s.Status, s.Started.Format(time.RFC3339), s.Updated.Format(time.RFC3339))
	if s.Reason != "" {
		c.logf("reason: %s", s.Reason)
	}
	for i, st := range p.Steps {
		mark := "  "
		switch {
		case i < len(s.Completed):
			mark = "ok"
		case i == s.Next && s.Status == StatusRunning:
			mark = "->"
		}
		line := fmt.Sprintf("%s [%d/%d] %s", mark, i+1, len(p.Steps), st.Name)
		if i < len(s.Completed) {
			line += " (" + elapsed(s.Completed[i].Elapsed) + ")"
		}
		c.logf("%s", line)
	}
	return nil
}

// DryRun prints the plan's steps, their config changes and waits.
func DryRun(w io.Writer, p *Plan) {
	fmt.Fprintf(w, "%s release of %s: %s -> %s (rollback: %s)\n", p.Strategy, p.Image, p.Old, p.New, changeList(p.Rollback()))
	for i, st := range p.Steps {
		fmt.Fprintf(w, "[%d/%d] %s\n", i+1, len(p.Steps), st.Name)
		if len(st.Changes) > 0 {
			fmt.Fprintf(w, "      up: %s\n", changeList(st.Changes))
		}
		if st.Wait > 0 {
			fmt.Fprintf(w, "      wait %s", st.Wait)
			if st.Kind != KindDrain {
				fmt.Fprintf(w, ", analysing the %s slot", p.New)
			}
			fmt.Fprintln(w)
		}
	}
}

func changeList(cs []Change) string {
	parts := make([]string, len(cs))
	for i, ch := range cs {
		parts[i] = ch.String()
	}
	return strings.Join(parts, ", ")
}

func elapsed(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
