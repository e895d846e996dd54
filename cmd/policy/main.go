// Command policy prints the policy pack's verdicts for a stack over a mocked
// run of the real program (no Pulumi CLI, backend or secrets needed) and
// exits 1 when a mandatory rule is violated: `make policy STACK=prod`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/stacks"
)

func main() {
	stack := flag.String("stack", "prod", "stack name (reads Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory (holds Pulumi.yaml)")
	format := flag.String("format", "text", "text or json")
	fixture := flag.String("fixture", "", "apply a broken-config fixture (policy/testdata/broken/*.yaml) to its stack")
	flag.Parse()
	os.Exit(run(os.Stdout, *dir, *stack, *format, *fixture))
}

func run(w io.Writer, dir, stack, format, fixture string) int {
	var f *check.Fixture
	if fixture != "" {
		loaded, err := check.LoadFixture(fixture)
		if err != nil {
			fmt.Fprintln(os.Stderr, "policy:", err)
			return 2
		}
		f, stack = &loaded, loaded.Stack
	}
	loaded, err := stackfile.Load(dir, stack)
	if err != nil {
		fmt.Fprintln(os.Stderr, "policy:", err)
		return 2
	}
	s := loaded.WithPlaceholders()
	if f != nil {
		if s, err = f.Apply(s); err != nil {
			fmt.Fprintln(os.Stderr, "policy:", err)
			return 2
		}
	}
	res, err := mockrun.RunStack(stacks.Run, s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "policy: the program failed on stack %s: %v\n", stack, err)
		return 2
	}
	var levels map[string]string
	if f != nil {
		levels = f.Levels
	}
	rep, err := check.EvaluateLevels(s, res, levels)
	if err != nil {
		fmt.Fprintln(os.Stderr, "policy:", err)
		return 2
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"policy": rep}); err != nil {
			return 2
		}
	} else {
		Print(w, stack, len(res.Resources), rep)
	}
	if rep.Mandatory() > 0 {
		return 1
	}
	return 0
}

// Print writes the verdicts: one line per rule, then every violation.
func Print(w io.Writer, stack string, resources int, rep *check.Report) {
	fmt.Fprintf(w, "Policy pack verdicts for stack %s (settings %s, %d resources)\n\n", stack, rep.Environment, resources)
	width := 0
	for _, r := range rep.Rules {
		width = max(width, len(r.Policy))
	}
	for _, r := range rep.Rules {
		verdict := "PASS"
		switch {
		case r.Level == "disabled":
			verdict = "OFF "
		case r.Failed > 0 && r.Level == "mandatory":
			verdict = "FAIL"
		case r.Failed > 0:
			verdict = "WARN"
		}
		scope := fmt.Sprintf("%d/%d resources pass", r.Checked-r.Failed, r.Checked)
		if r.Stack {
			scope = "stack rule"
		}
		fmt.Fprintf(w, "  %s  %-*s  %-9s  %s\n", verdict, width, r.Policy, r.Level, scope)
	}
	fmt.Fprintln(w)
	if len(rep.Violations) == 0 {
		fmt.Fprintln(w, "No violations.")
		return
	}
	fmt.Fprintf(w, "%d violation(s), %d mandatory:\n", len(rep.Violations), rep.Mandatory())
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "  [%s] %s\n    %s\n", strings.ToUpper(v.Level), v.Policy, v.Message)
		if v.URN != "" {
			fmt.Fprintf(w, "    %s\n", v.URN)
		}
	}
}
