package plandiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aurigraph/infra/internal/plan"
)

// ErrNoPlanInBase means the base commit predates cmd/plan, so its program
// cannot be planned offline.
var ErrNoPlanInBase = errors.New("base has no cmd/plan")

// Options say what to compare.
type Options struct {
	Dir    string // project directory (holds Pulumi.yaml) inside a git work tree
	Base   string // git ref of the base, e.g. origin/main
	Stack  string
	Stderr io.Writer // progress and the base build's messages
}

// Run plans the base ref (its own program, in a temporary git worktree) and
// the working tree (this program, in process), and returns the diff.
func Run(ctx context.Context, o Options) (*Diff, error) {
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git work tree: %w", dir, err)
	}
	// The project may live below the repository root; plan the same place.
	rel, err := filepath.Rel(evalLinks(top), evalLinks(dir))
	if err != nil {
		return nil, err
	}
	sha, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", o.Base+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("base %q is not a commit in this repository", o.Base)
	}
	basePlan, err := planBase(ctx, top, rel, sha, o)
	if err != nil {
		return nil, err
	}
	head, err := plan.Build(dir, o.Stack)
	if err != nil {
		return nil, fmt.Errorf("planning the working tree: %w", err)
	}
	// One JSON round trip, so both sides are values of the same kinds.
	var buf bytes.Buffer
	if err := head.WriteJSON(&buf); err != nil {
		return nil, err
	}
	if head, err = plan.Read(&buf); err != nil {
		return nil, err
	}
	d := Compare(basePlan, head)
	d.BaseDescription = fmt.Sprintf("%s (%s)", o.Base, sha[:12])
	d.HeadDescription = "working tree"
	return d, nil
}

// planBase checks the base out in a temporary worktree, runs its cmd/plan
// there and removes the worktree again.
func planBase(ctx context.Context, top, rel, sha string, o Options) (p *plan.Plan, err error) {
	tmp, err := os.MkdirTemp("", "plandiff-")
	if err != nil {
		return nil, err
	}
	wt := filepath.Join(tmp, "base")
	if _, err := git(ctx, top, "worktree", "add", "--detach", wt, sha); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("creating a worktree of %s: %w", o.Base, err)
	}
	defer func() {
		// A fresh context: clean up even when ctx was cancelled.
		if _, rmErr := git(context.Background(), top, "worktree", "remove", "--force", wt); rmErr != nil && err == nil {
			err = fmt.Errorf("removing worktree %s: %w", wt, rmErr)
		}
		os.RemoveAll(tmp)
		git(context.Background(), top, "worktree", "prune")
	}()
	proj := filepath.Join(wt, rel)
	if _, err := os.Stat(filepath.Join(proj, "cmd", "plan")); err != nil {
		return nil, fmt.Errorf("%w: %s (%s) predates the offline plan (no %s), so it cannot be planned; compare against a newer base",
			ErrNoPlanInBase, o.Base, sha[:12], filepath.Join(rel, "cmd", "plan"))
	}
	if _, err := os.Stat(filepath.Join(proj, "Pulumi."+o.Stack+".yaml")); err != nil {
		// A stack new in the head: everything is added.
		fmt.Fprintf(o.Stderr, "plandiff: stack %s does not exist at %s; comparing against an empty plan\n", o.Stack, o.Base)
		return &plan.Plan{Stack: o.Stack}, nil
	}
	fmt.Fprintf(o.Stderr, "plandiff: planning %s at %s (%s) with its own program...\n", o.Stack, o.Base, sha[:12])
	var out bytes.Buffer
	// -trimpath: the worktree is a new directory every time, and without it
	// the build cache keys every package of the module on its directory, so
	// each run recompiled the whole program (its time grew with the load on
	// the machine). Trimmed, a base already built is taken from the cache.
	cmd := exec.CommandContext(ctx, "go", "run", "-trimpath", "./cmd/plan", "-stack", o.Stack, "-format", "json")
	cmd.Dir = proj
	cmd.Stdout = &out
	cmd.Stderr = o.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("planning %s at %s failed (%v); its messages are above", o.Stack, o.Base, err)
	}
	return plan.Read(&out)
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func evalLinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
