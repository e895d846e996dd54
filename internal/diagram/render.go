package diagram

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"

	"github.com/aurigraph/infra/internal/plan"
)

// Paths are where one stack's diagram lives.
type Paths struct{ DOT, SVG string }

// Files are the diagram files of stack under dir.
func Files(dir, stack string) Paths {
	base := filepath.Join(dir, "architecture-"+stack)
	return Paths{DOT: base + ".dot", SVG: base + ".svg"}
}

// DOTName is the .dot file's base name, as the SVG's source comment names it.
func (p Paths) DOTName() string { return filepath.Base(p.DOT) }

// InstallHint is what to run when Graphviz is missing.
const InstallHint = "Graphviz `dot` is not installed: run `make deps` (installs the Debian package graphviz) or `apt-get install graphviz`"

// sourceComment ties an SVG to the exact .dot text it was rendered from,
// so a test without Graphviz can tell a stale SVG.
var sourceComment = regexp.MustCompile(`<!-- source: (\S+) sha256:([0-9a-f]{64}) -->`)

// Hash is the hex SHA-256 of a .dot source.
func Hash(src string) string {
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:])
}

// RenderSVG runs Graphviz `dot -Tsvg` on src and inserts, after the XML
// declaration, a comment naming the source file and its hash.
func RenderSVG(src, name string) ([]byte, error) {
	if _, err := exec.LookPath("dot"); err != nil {
		return nil, fmt.Errorf("%s", InstallHint)
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = bytes.NewBufferString(src)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %v: %s", err, stderr.String())
	}
	return WithSource(out.Bytes(), name, src), nil
}

// WithSource inserts the source comment into svg (after its first line, the
// XML declaration).
func WithSource(svg []byte, name, src string) []byte {
	comment := fmt.Sprintf("<!-- source: %s sha256:%s -->\n", name, Hash(src))
	i := bytes.IndexByte(svg, '\n') + 1
	out := append([]byte{}, svg[:i]...)
	out = append(out, comment...)
	return append(out, svg[i:]...)
}

// SourceOf reads the source comment of an SVG: the .dot file name and hash;
// ok is false when there is none.
func SourceOf(svg []byte) (name, hash string, ok bool) {
	m := sourceComment.FindSubmatch(svg)
	if m == nil {
		return "", "", false
	}
	return string(m[1]), string(m[2]), true
}

// ForStack is what `make diagram` writes for stack: the DOT source of the
// offline plan of the stack files in dir.
func ForStack(dir, stack string) (string, error) {
	p, err := plan.Build(dir, stack)
	if err != nil {
		return "", fmt.Errorf("plan %s: %w", stack, err)
	}
	return Source(p), nil
}

// Source is the DOT source of a plan's diagram.
func Source(p *plan.Plan) string { return DOT(Build(p)) }
