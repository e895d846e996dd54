// Command diagram draws a stack's running system from its offline plan:
// docs/architecture-<stack>.dot (Graphviz source) and, rendered by Graphviz
// `dot`, docs/architecture-<stack>.svg. `make diagram` runs it for every stack.
//
//	go run ./cmd/diagram -stack prod [-dir .] [-out docs] [-dot-only]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/aurigraph/infra/internal/diagram"
)

func main() {
	stack := flag.String("stack", "", "stack name (reads Pulumi.<stack>.yaml)")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	out := flag.String("out", "docs", "directory the .dot and .svg files go to")
	dotOnly := flag.Bool("dot-only", false, "write the .dot source only (no Graphviz needed)")
	flag.Parse()
	if *stack == "" {
		fail("-stack is required, e.g. -stack prod")
	}
	// The program's own prints go to stderr, as in cmd/plan.
	stdout := os.Stdout
	os.Stdout = os.Stderr
	src, err := diagram.ForStack(*dir, *stack)
	os.Stdout = stdout
	if err != nil {
		fail("%v", err)
	}
	files := diagram.Files(*out, *stack)
	if err := os.WriteFile(files.DOT, []byte(src), 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Println("wrote", files.DOT)
	if *dotOnly {
		return
	}
	svg, err := diagram.RenderSVG(src, files.DOTName())
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(files.SVG, svg, 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Println("wrote", files.SVG)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "diagram: "+format+"\n", args...)
	os.Exit(1)
}
