// Package pin resolves every image tag of a stack file to the digest its
// registry serves for it now and writes the digests into the file, changing
// nothing else in it: `make pin STACK=…` (cmd/pin). A digest is only ever
// what a registry answered, never typed or guessed.
package pin

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/internal/imageref"
)

// Site is one image reference in a stack file.
type Site struct {
	Key  string // config key path without the namespace, e.g. "images.postgres"
	Ref  string
	node *yaml.Node
}

// Change is what Pin did (or would do) to one site.
type Change struct {
	Key, Old, New string
}

// Changed reports whether the site's text changes.
func (c Change) Changed() bool { return c.Old != c.New }

// Find lists the image references of a stack file, in file order: every
// value of <ns>:images, the release slots' images and the tiers' image
// overrides. Empty values (an unused green slot) are left out.
func Find(raw []byte, ns string) ([]Site, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	cfg := lookup(doc.Content[0], "config")
	if cfg == nil {
		return nil, nil
	}
	var sites []Site
	add := func(key string, n *yaml.Node) {
		if n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
			sites = append(sites, Site{Key: key, Ref: n.Value, node: n})
		}
	}
	if m := lookup(cfg, ns+":images"); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			add("images."+m.Content[i].Value, m.Content[i+1])
		}
	}
	for _, parent := range []string{"release", "tiers"} {
		m := lookup(cfg, ns+":"+parent)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			add(parent+"."+m.Content[i].Value+".image", lookup(m.Content[i+1], "image"))
		}
	}
	sort.SliceStable(sites, func(i, j int) bool {
		a, b := sites[i].node, sites[j].node
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	return sites, nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Resolve is what Pin asks for a reference's current digest.
type Resolve func(ctx context.Context, ref string) (string, error)

// Pin resolves the tag of every image reference in raw and returns the file
// with each pinned to its digest (an existing digest is replaced when the
// tag has moved), and what changed. References with a digest but no tag
// have nothing to resolve and stay as they are. On any error nothing is
// returned to write: a stack file is never half pinned.
func Pin(ctx context.Context, raw []byte, ns string, resolve Resolve) ([]byte, []Change, error) {
	sites, err := Find(raw, ns)
	if err != nil {
		return nil, nil, err
	}
	digests := map[string]string{} // name:tag → digest, each asked once
	var changes []Change
	var problems []string
	for _, s := range sites {
		r, err := imageref.Parse(s.Ref)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.Key, err))
			continue
		}
		if r.Tag == "" {
			changes = append(changes, Change{Key: s.Key, Old: s.Ref, New: s.Ref})
			continue
		}
		tagged := r.WithDigest("")
		d, ok := digests[tagged]
		if !ok {
			if d, err = resolve(ctx, tagged); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", s.Key, err))
				continue
			}
			if !imageref.ValidDigest(d) {
				problems = append(problems, fmt.Sprintf("%s: %q is not a sha256 digest", s.Key, d))
				continue
			}
			digests[tagged] = d
		}
		changes = append(changes, Change{Key: s.Key, Old: s.Ref, New: r.WithDigest(d)})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("could not pin:\n  %s", strings.Join(problems, "\n  "))
	}
	out, err := rewrite(raw, sites, changes)
	if err != nil {
		return nil, nil, err
	}
	// The result must read back as the old file with only the new values.
	after, err := Find(out, ns)
	if err != nil {
		return nil, nil, fmt.Errorf("the pinned file does not parse: %w", err)
	}
	if len(after) != len(changes) {
		return nil, nil, fmt.Errorf("the pinned file has %d image references, not %d", len(after), len(changes))
	}
	for i, s := range after {
		if s.Key != changes[i].Key || s.Ref != changes[i].New {
			return nil, nil, fmt.Errorf("the pinned file reads %s = %q, not %q", s.Key, s.Ref, changes[i].New)
		}
	}
	return out, changes, nil
}

// rewrite replaces each site's scalar in place, in its own quoting style.
func rewrite(raw []byte, sites []Site, changes []Change) ([]byte, error) {
	lines := bytes.SplitAfter(raw, []byte("\n"))
	// Right to left, so earlier columns on a line stay where they are.
	for i := len(sites) - 1; i >= 0; i-- {
		s, c := sites[i], changes[i]
		if !c.Changed() {
			continue
		}
		n := s.node
		if n.Line < 1 || n.Line > len(lines) {
			return nil, fmt.Errorf("%s: line %d is outside the file", s.Key, n.Line)
		}
		line := lines[n.Line-1]
		start := byteOffset(line, n.Column-1)
		var quote string
		switch n.Style {
		case yaml.DoubleQuotedStyle:
			quote = `"`
		case yaml.SingleQuotedStyle:
			quote = `'`
		case 0:
		default:
			return nil, fmt.Errorf("%s: line %d: write the image as a plain or quoted scalar", s.Key, n.Line)
		}
		old := quote + c.Old + quote
		if start < 0 || !bytes.HasPrefix(line[start:], []byte(old)) {
			return nil, fmt.Errorf("%s: line %d column %d does not hold %s", s.Key, n.Line, n.Column, old)
		}
		var b bytes.Buffer
		b.Write(line[:start])
		b.WriteString(quote + c.New + quote)
		b.Write(line[start+len(old):])
		lines[n.Line-1] = b.Bytes()
	}
	return bytes.Join(lines, nil), nil
}

// byteOffset is the byte index of the col-th character (0-based) of line.
func byteOffset(line []byte, col int) int {
	off := 0
	for i := 0; i < col; i++ {
		if off >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	return off
}
