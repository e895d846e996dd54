// Command plandiff prints the difference between the offline plans of a
// base git ref and the working tree, for a pull request. It needs no Pulumi
// CLI, backend or credential. Exit status: 0 with or without changes, 2 when
// the base predates cmd/plan, 1 on any other error.
//
//	go run ./cmd/plandiff -base origin/main -stack prod
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aurigraph/infra/internal/plandiff"
)

func main() {
	base := flag.String("base", "", "git ref of the base (e.g. origin/main)")
	stack := flag.String("stack", "", "stack name (reads Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	flag.Parse()
	if *base == "" || *stack == "" {
		fmt.Fprintln(os.Stderr, "usage: plandiff -base <git ref> -stack <stack>")
		os.Exit(1)
	}
	// Cancel on Ctrl-C so the temporary worktree is still removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout := os.Stdout
	os.Stdout = os.Stderr // only the diff goes to stdout
	d, err := plandiff.Run(ctx, plandiff.Options{Dir: *dir, Base: *base, Stack: *stack, Stderr: os.Stderr})
	os.Stdout = stdout
	if err != nil {
		fmt.Fprintf(os.Stderr, "plandiff: %v\n", err)
		if errors.Is(err, plandiff.ErrNoPlanInBase) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	if err := d.Write(stdout); err != nil {
		fmt.Fprintf(os.Stderr, "plandiff: %v\n", err)
		os.Exit(1)
	}
}
