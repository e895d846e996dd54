// Package plandiff compares two offline plans (internal/plan) and prints a
// readable diff for a pull request: resources added and removed, and for
// changed resources each changed input path with its old and new value.
// Plans carry secrets only as "[secret]", so the diff needs no credentials
// and shows none.
package plandiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/policy/check"
)

// Change is one difference at a path: Kind is "+" (added), "-" (removed)
// or "~" (changed); Old/New are plain JSON values.
type Change struct {
	Path     string
	Kind     string
	Old, New any
}

// ResourceDiff is what changed about one resource.
type ResourceDiff struct {
	URN, Type, Name string
	Kind            string // + created, - deleted, ~ updated
	Changes         []Change
	Inputs          map[string]any // the new inputs of a created resource
}

// Diff is every difference between a base plan and a head plan.
type Diff struct {
	Resources       []ResourceDiff // sorted by URN
	SecretsAdded    []string       // newly missing secrets
	SecretsRemoved  []string       // no longer missing
	PolicyAdded     []check.Violation
	PolicyRemoved   []check.Violation
	Added, Removed  int
	Changed         int
	BaseResources   int
	HeadResources   int
	Stack           string
	BaseDescription string // e.g. "origin/main (1a2b3c4d5e6f)"
	HeadDescription string
}

// Empty reports whether the plans are the same.
func (d *Diff) Empty() bool {
	return len(d.Resources) == 0 && len(d.SecretsAdded) == 0 && len(d.SecretsRemoved) == 0 &&
		len(d.PolicyAdded) == 0 && len(d.PolicyRemoved) == 0
}

// Compare computes the diff from base to head.
func Compare(base, head *plan.Plan) *Diff {
	d := &Diff{Stack: head.Stack, BaseResources: len(base.Resources), HeadResources: len(head.Resources)}
	b := map[string]plan.Resource{}
	for _, r := range base.Resources {
		b[r.URN] = r
	}
	h := map[string]plan.Resource{}
	for _, r := range head.Resources {
		h[r.URN] = r
	}
	var urns []string
	for u := range b {
		urns = append(urns, u)
	}
	for u := range h {
		if _, ok := b[u]; !ok {
			urns = append(urns, u)
		}
	}
	sort.Strings(urns)
	for _, u := range urns {
		old, inBase := b[u]
		cur, inHead := h[u]
		switch {
		case !inBase:
			d.Resources = append(d.Resources, ResourceDiff{URN: u, Type: cur.Type, Name: cur.Name, Kind: "+", Inputs: cur.Inputs})
			d.Added++
		case !inHead:
			d.Resources = append(d.Resources, ResourceDiff{URN: u, Type: old.Type, Name: old.Name, Kind: "-"})
			d.Removed++
		default:
			var cs []Change
			diffValue("provider", old.Provider, cur.Provider, &cs)
			diffValue("parent", old.Parent, cur.Parent, &cs)
			diffValue("dependsOn", strings2any(old.DependsOn), strings2any(cur.DependsOn), &cs)
			diffValue("inputs", normalize(old.Inputs), normalize(cur.Inputs), &cs)
			if len(cs) > 0 {
				d.Resources = append(d.Resources, ResourceDiff{URN: u, Type: cur.Type, Name: cur.Name, Kind: "~", Changes: cs})
				d.Changed++
			}
		}
	}
	d.SecretsAdded, d.SecretsRemoved = setDiff(base.MissingSecrets, head.MissingSecrets)
	d.PolicyAdded, d.PolicyRemoved = violationDiff(base.Policy.Violations, head.Policy.Violations)
	return d
}

func strings2any(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// normalize makes in-process and decoded plans comparable (one JSON round
// trip gives the same Go types on both sides).
func normalize(m map[string]any) any {
	raw, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return m
	}
	return v
}

func setDiff(base, head []string) (added, removed []string) {
	inBase, inHead := map[string]bool{}, map[string]bool{}
	for _, s := range base {
		inBase[s] = true
	}
	for _, s := range head {
		inHead[s] = true
		if !inBase[s] {
			added = append(added, s)
		}
	}
	for _, s := range base {
		if !inHead[s] {
			removed = append(removed, s)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

func violationDiff(base, head []check.Violation) (added, removed []check.Violation) {
	key := func(v check.Violation) string {
		return v.Level + "\x00" + v.Policy + "\x00" + v.URN + "\x00" + v.Message
	}
	inBase, inHead := map[string]bool{}, map[string]bool{}
	for _, v := range base {
		inBase[key(v)] = true
	}
	for _, v := range head {
		inHead[key(v)] = true
		if !inBase[key(v)] {
			added = append(added, v)
		}
	}
	for _, v := range base {
		if !inHead[key(v)] {
			removed = append(removed, v)
		}
	}
	return added, removed
}

// diffValue appends the changes from a to b under path. Objects compare
// key by key; arrays by a longest common subsequence of their elements, so
// inserting one environment variable shows as one added element, not as a
// shift of every later one.
func diffValue(path string, a, b any, out *[]Change) {
	if reflect.DeepEqual(a, b) {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range av {
				keys[k] = true
			}
			for k := range bv {
				keys[k] = true
			}
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				x, inA := av[k]
				y, inB := bv[k]
				p := path + "." + k
				switch {
				case !inA:
					*out = append(*out, Change{Path: p, Kind: "+", New: y})
				case !inB:
					*out = append(*out, Change{Path: p, Kind: "-", Old: x})
				default:
					diffValue(p, x, y, out)
				}
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			diffArray(path, av, bv, out)
			return
		}
	}
	*out = append(*out, Change{Path: path, Kind: "~", Old: a, New: b})
}

func diffArray(path string, a, b []any, out *[]Change) {
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, v := range a {
		ka[i] = compact(v)
	}
	for i, v := range b {
		kb[i] = compact(v)
	}
	for _, run := range edits(ka, kb) {
		n := min(len(run.del), len(run.ins))
		for k := 0; k < n; k++ { // replaced in place: show what changed inside
			i, j := run.del[k], run.ins[k]
			diffValue(fmt.Sprintf("%s[%d]", path, j), a[i], b[j], out)
		}
		for _, i := range run.del[n:] {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, i), Kind: "-", Old: a[i]})
		}
		for _, j := range run.ins[n:] {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, j), Kind: "+", New: b[j]})
		}
	}
}

// editRun is a stretch between two matches: indexes deleted from a and
// inserted from b.
type editRun struct{ del, ins []int }

// edits finds the runs of differences between a and b along a longest
// common subsequence (common prefix and suffix trimmed first; a very large
// remainder is treated as replaced whole to bound the work).
func edits(a, b []string) []editRun {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	a2, b2 := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(a2), len(b2)
	if n == 0 && m == 0 {
		return nil
	}
	match := make([][2]int, 0)
	if n*m <= 4_000_000 {
		// lcs[i][j] = LCS length of a2[i:], b2[j:].
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if a2[i] == b2[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		for i, j := 0, 0; i < n && j < m; {
			switch {
			case a2[i] == b2[j]:
				match = append(match, [2]int{i, j})
				i++
				j++
			case lcs[i+1][j] >= lcs[i][j+1]:
				i++
			default:
				j++
			}
		}
	}
	match = append(match, [2]int{n, m}) // sentinel closes the last run
	var runs []editRun
	pi, pj := 0, 0
	for _, mt := range match {
		var r editRun
		for i := pi; i < mt[0]; i++ {
			r.del = append(r.del, pre+i)
		}
		for j := pj; j < mt[1]; j++ {
			r.ins = append(r.ins, pre+j)
		}
		if len(r.del)+len(r.ins) > 0 {
			runs = append(runs, r)
		}
		pi, pj = mt[0]+1, mt[1]+1
	}
	return runs
}

// compact is a value as one line of JSON, HTML characters kept as is.
func compact(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// Write prints the diff. Multi-line strings (config files) are shown as a
// line diff; everything else as JSON.
func (d *Diff) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan diff for stack %s: %s → %s\n", d.Stack, orDefault(d.BaseDescription, "base"), orDefault(d.HeadDescription, "head"))
	if d.Empty() {
		b.WriteString("no changes\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	for _, r := range d.Resources {
		fmt.Fprintf(&b, "\n%s %s %s\n    %s\n", r.Kind, r.Type, r.Name, r.URN)
		switch r.Kind {
		case "+":
			for _, k := range sortedAnyKeys(r.Inputs) {
				writeValue(&b, "+", "inputs."+k, r.Inputs[k])
			}
		case "~":
			for _, c := range r.Changes {
				writeChange(&b, c)
			}
		}
	}
	if len(d.SecretsAdded)+len(d.SecretsRemoved) > 0 {
		b.WriteString("\nmissing secrets\n")
		for _, s := range d.SecretsAdded {
			fmt.Fprintf(&b, "  + %s\n", s)
		}
		for _, s := range d.SecretsRemoved {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	if len(d.PolicyAdded)+len(d.PolicyRemoved) > 0 {
		b.WriteString("\npolicy violations\n")
		for _, v := range d.PolicyAdded {
			fmt.Fprintf(&b, "  + [%s] %s %s: %s\n", v.Level, v.Policy, v.URN, v.Message)
		}
		for _, v := range d.PolicyRemoved {
			fmt.Fprintf(&b, "  - [%s] %s %s: %s\n", v.Level, v.Policy, v.URN, v.Message)
		}
	}
	fmt.Fprintf(&b, "\n%d to add, %d to change, %d to delete (%d → %d resources)", d.Added, d.Changed, d.Removed, d.BaseResources, d.HeadResources)
	if n := len(d.PolicyAdded); n > 0 {
		fmt.Fprintf(&b, "; %d new policy violations", n)
	}
	if n := len(d.SecretsAdded); n > 0 {
		fmt.Fprintf(&b, "; %d newly missing secrets", n)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeChange(b *strings.Builder, c Change) {
	switch c.Kind {
	case "+":
		writeValue(b, "+", c.Path, c.New)
	case "-":
		writeValue(b, "-", c.Path, c.Old)
	default:
		oldS, oldText := c.Old.(string)
		newS, newText := c.New.(string)
		if oldText && newText && (strings.Contains(oldS, "\n") || strings.Contains(newS, "\n")) {
			fmt.Fprintf(b, "  ~ %s:\n", c.Path)
			writeLineDiff(b, oldS, newS)
			return
		}
		fmt.Fprintf(b, "  ~ %s: %s → %s\n", c.Path, compact(c.Old), compact(c.New))
	}
}

// writeValue prints an added or removed value; text inside it (a config
// file) is printed line by line rather than as one escaped JSON string.
func writeValue(b *strings.Builder, kind, path string, v any) {
	if !hasText(v) {
		fmt.Fprintf(b, "  %s %s: %s\n", kind, path, compact(v))
		return
	}
	switch t := v.(type) {
	case string:
		fmt.Fprintf(b, "  %s %s: |\n", kind, path)
		for _, line := range splitLines(t) {
			fmt.Fprintf(b, "      %s %s\n", kind, line)
		}
	case map[string]any:
		for _, k := range sortedAnyKeys(t) {
			writeValue(b, kind, path+"."+k, t[k])
		}
	case []any:
		for i, e := range t {
			writeValue(b, kind, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

func hasText(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "\n")
	case map[string]any:
		for _, e := range t {
			if hasText(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasText(e) {
				return true
			}
		}
	}
	return false
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func splitLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// contextLines is how many unchanged lines surround each change in a text diff.
const contextLines = 2

// writeLineDiff prints a unified-style diff of two texts with a little context.
func writeLineDiff(b *strings.Builder, old, cur string) {
	a, c := splitLines(old), splitLines(cur)
	runs := edits(a, c)
	if len(runs) == 0 { // differ only in the final newline
		b.WriteString("      (only the trailing newline changed)\n")
		return
	}
	// Walk a with its matching positions in c, printing runs and context.
	type line struct {
		kind string
		text string
	}
	var lines []line
	ai, ci := 0, 0
	for _, r := range runs {
		start := ai
		if len(r.del) > 0 {
			start = r.del[0]
		} else if len(r.ins) > 0 {
			start = ai + (r.ins[0] - ci)
		}
		for ; ai < start; ai, ci = ai+1, ci+1 {
			lines = append(lines, line{" ", a[ai]})
		}
		for _, i := range r.del {
			lines = append(lines, line{"-", a[i]})
			ai = i + 1
		}
		for _, j := range r.ins {
			lines = append(lines, line{"+", c[j]})
			ci = j + 1
		}
	}
	for ; ai < len(a); ai++ {
		lines = append(lines, line{" ", a[ai]})
	}
	// Keep changed lines and `contextLines` lines around them.
	keep := make([]bool, len(lines))
	for i, l := range lines {
		if l.kind != " " {
			for k := max(0, i-contextLines); k <= min(len(lines)-1, i+contextLines); k++ {
				keep[k] = true
			}
		}
	}
	skipped := false
	for i, l := range lines {
		if !keep[i] {
			skipped = true
			continue
		}
		if skipped {
			b.WriteString("      ...\n")
			skipped = false
		}
		fmt.Fprintf(b, "      %s %s\n", l.kind, l.text)
	}
	if skipped {
		b.WriteString("      ...\n")
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
