// Command plan prints what a stack would deploy, offline: no Pulumi CLI, no
// backend, no secrets. Text for people, JSON (-format json) for tools.
//
//	go run ./cmd/plan -stack prod [-format text|json] [-dir .]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/aurigraph/infra/internal/plan"
)

func main() {
	stack := flag.String("stack", "", "stack name (reads Pulumi.<stack>.yaml)")
	format := flag.String("format", "text", "text or json")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	flag.Parse()
	if *stack == "" {
		fail("-stack is required, e.g. -stack prod")
	}
	if *format == "" {
		*format = "text" // `make plan` passes FORMAT= empty when unset
	}
	if *format != "text" && *format != "json" {
		fail("-format must be text or json, not %q", *format)
	}
	// Only the plan goes to stdout: anything the program prints while it
	// runs goes to stderr, so `-format json` output stays parseable.
	stdout := os.Stdout
	os.Stdout = os.Stderr
	p, err := plan.Build(*dir, *stack)
	os.Stdout = stdout
	if err != nil {
		fail("plan %s: %v", *stack, err)
	}
	w := bufio.NewWriter(stdout)
	if *format == "json" {
		err = p.WriteJSON(w)
	} else {
		err = p.WriteText(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fail("writing plan: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
