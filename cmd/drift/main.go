// Command drift summarises a stack's nightly drift run in markdown: what
// `pulumi refresh --preview-only --json` read back differently from the
// state, and what `pulumi preview --expect-no-changes --json` would change,
// one row per property (resource, property, was → now). It exits 1 when
// anything differs or either command failed, 0 when the stack is clean,
// 2 on a usage error. Used by .github/workflows/drift.yml (docs/drift.md).
//
//	drift -stack prod -refresh refresh.json -refresh-exit 0 -preview preview.json -preview-exit 255
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/aurigraph/infra/internal/drift"
)

func main() {
	stack := flag.String("stack", "", "stack name")
	refresh := flag.String("refresh", "", "JSON printed by pulumi refresh --preview-only --json")
	refreshExit := flag.Int("refresh-exit", 0, "exit status of that pulumi refresh")
	preview := flag.String("preview", "", "JSON printed by pulumi preview --expect-no-changes --json")
	previewExit := flag.Int("preview-exit", 0, "exit status of that pulumi preview")
	flag.Parse()
	if *stack == "" || *refresh == "" || *preview == "" {
		fmt.Fprintln(os.Stderr, "usage: drift -stack <stack> -refresh <file> [-refresh-exit N] -preview <file> [-preview-exit N]")
		os.Exit(2)
	}
	r := drift.Report{Stack: *stack, Refresh: read(*refresh, *refreshExit), Preview: read(*preview, *previewExit)}
	if err := r.WriteMarkdown(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "drift: %v\n", err)
		os.Exit(2)
	}
	if !r.Clean() {
		os.Exit(1)
	}
}

// read loads one command's JSON; a command that failed before printing any
// is reported as such, not as a crash of the summary.
func read(path string, exit int) drift.Run {
	b, err := os.ReadFile(path)
	if err != nil {
		return drift.Run{Exit: exit, ReadError: err}
	}
	d, err := drift.Parse(b)
	if err != nil {
		return drift.Run{Exit: exit, ReadError: err}
	}
	return drift.Run{Digest: d, Exit: exit}
}
