//go:build tools

// Package tools pins the linters `make lint` runs, apart from the program's
// own go.mod so they add nothing to its dependency graph.
package tools

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
	_ "golang.org/x/tools/cmd/deadcode"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
