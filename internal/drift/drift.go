// Package drift reads the JSON of `pulumi refresh --preview-only --json`
// and `pulumi preview --json` (the engine's preview digest: steps with op,
// urn, oldState/newState, diffReasons and detailedDiff) and says, in
// markdown, what differs: per resource, each property with its old and new
// value. The nightly drift workflow (.github/workflows/drift.yml) fails on
// anything it reports; docs/drift.md says how to read it.
//
// The engine writes secrets as "[secret]" into this JSON, so the summary
// shows none; the unknown-value sentinel (a value only known after the
// update) is shown as such.
package drift

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Digest is the part of the engine's preview digest the summary reads.
type Digest struct {
	Steps         []Step         `json:"steps"`
	Diagnostics   []Diagnostic   `json:"diagnostics"`
	ChangeSummary map[string]int `json:"changeSummary"`
}

// Step is one resource operation.
type Step struct {
	Op             string                  `json:"op"`
	URN            string                  `json:"urn"`
	OldState       *State                  `json:"oldState"`
	NewState       *State                  `json:"newState"`
	DiffReasons    []string                `json:"diffReasons"`
	ReplaceReasons []string                `json:"replaceReasons"`
	DetailedDiff   map[string]PropertyDiff `json:"detailedDiff"`
}

// State is a resource's inputs and outputs.
type State struct {
	Type    string         `json:"type"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

// PropertyDiff is one entry of a detailed diff.
type PropertyDiff struct {
	Kind      string `json:"kind"` // add, delete, update, and the same with -replace
	InputDiff bool   `json:"inputDiff"`
}

// Diagnostic is a message the engine or a provider printed.
type Diagnostic struct {
	URN      string `json:"urn"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// Parse reads a digest. Pulumi prints the JSON object last; anything a
// plugin printed before it is skipped.
func Parse(b []byte) (*Digest, error) {
	s := strings.TrimSpace(string(b))
	if i := strings.Index(s, "{"); i > 0 {
		s = s[i:]
	}
	var d Digest
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("not the JSON of pulumi --json: %w", err)
	}
	return &d, nil
}

// Kind says which command a digest came from: it decides which values
// are compared.
type Kind int

const (
	// Refresh: the state recorded at the last update against what the
	// providers read back now (outputs against outputs).
	Refresh Kind = iota
	// Preview: the state against the program's inputs now.
	Preview
)

// Property is one differing property.
type Property struct {
	Path     string
	Old, New string // rendered values; "" when absent
}

// Resource is one resource that differs.
type Resource struct {
	URN, Type, Name string
	Op              string // the engine's op
	Replace         []string
	Properties      []Property
	// Computed are the paths that differ in values the program does not set
	// (a refresh reading a container's new IP address): listed, not drift.
	Computed []string
}

// Drifted says whether the resource differs in something the program
// declares, or exists on one side only.
func (r Resource) Drifted() bool {
	return len(r.Properties) > 0 || len(r.Computed) == 0
}

// unknown is the engine's sentinel for a value known only after the update.
const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

// noChange are the ops that change nothing: unchanged resources, the
// refreshes that found nothing, and the two halves of a replacement (the
// replace step itself is reported).
var noChange = map[string]bool{
	"same": true, "refresh": true, "read": true, "create-replacement": true, "delete-replaced": true,
	"discard": true, "discard-replaced": true,
}

// maxProperties bounds one resource's rows: a replaced container lists a
// few changed inputs, not every output.
const maxProperties = 20

// morePath is the row that stands for the properties beyond maxProperties.
const morePath = "…"

// Differences lists the resources that differ, in the digest's order.
func Differences(d *Digest, kind Kind) []Resource {
	var out []Resource
	for _, s := range d.Steps {
		if noChange[s.Op] {
			continue
		}
		typ, name := splitURN(s.URN)
		if typ == "pulumi:pulumi:Stack" {
			continue
		}
		r := Resource{URN: s.URN, Type: typ, Name: name, Op: s.Op, Replace: s.ReplaceReasons}
		for _, p := range properties(s, kind) {
			if kind == Refresh && !declared(s, p.Path) {
				r.Computed = append(r.Computed, p.Path)
				continue
			}
			r.Properties = append(r.Properties, p)
		}
		out = append(out, r)
	}
	return out
}

// Errors are the error diagnostics: a provider that could not read a
// resource, a program that failed.
func Errors(d *Digest) []Diagnostic {
	var out []Diagnostic
	for _, g := range d.Diagnostics {
		if g.Severity == "error" {
			out = append(out, g)
		}
	}
	return out
}

// alwaysDeclared are outputs a refresh changes that mean drift although
// the program leaves them to their default: newer Docker providers set
// mustRun false when they find a container stopped (v3.9.0, under
// pulumi-docker 4.11, removes it instead: docs/drift.md).
var alwaysDeclared = map[string]bool{"mustRun": true}

// declared says whether path starts at an input of the resource: what the
// program declares, the values a refresh is compared on.
func declared(s Step, path string) bool {
	segs, ok := parsePath(path)
	if !ok || len(segs) == 0 || path == morePath {
		return true
	}
	top, isKey := segs[0].(string)
	if !isKey || alwaysDeclared[top] {
		return true
	}
	for _, st := range []*State{s.OldState, s.NewState} {
		if st != nil {
			if _, in := st.Inputs[top]; in {
				return true
			}
		}
	}
	return false
}

func properties(s Step, kind Kind) []Property {
	if s.OldState == nil || s.NewState == nil {
		return nil // created or deleted: the whole resource is the change
	}
	side := func(st *State, inputs bool) map[string]any {
		if inputs {
			return st.Inputs
		}
		return st.Outputs
	}
	var out []Property
	add := func(p Property) bool {
		if len(out) == maxProperties {
			out = append(out, Property{Path: morePath, New: "more properties differ (see the JSON artifact)"})
			return false
		}
		out = append(out, p)
		return true
	}
	if len(s.DetailedDiff) > 0 {
		paths := make([]string, 0, len(s.DetailedDiff))
		for p := range s.DetailedDiff {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			pd := s.DetailedDiff[p]
			oldSide := side(s.OldState, kind == Preview && pd.InputDiff)
			newSide := side(s.NewState, kind == Preview)
			oldV, oldOK := lookup(oldSide, p)
			newV, newOK := lookup(newSide, p)
			if strings.HasPrefix(pd.Kind, "add") {
				oldOK = false
			}
			if strings.HasPrefix(pd.Kind, "delete") {
				newOK = false
			}
			if !add(textDiff(p, oldV, oldOK, newV, newOK)) {
				break
			}
		}
		return out
	}
	// No detailed diff: compare the two sides ourselves, under the keys the
	// engine named when it named any.
	oldSide, newSide := side(s.OldState, kind == Preview), side(s.NewState, kind == Preview)
	if kind == Preview && len(s.OldState.Inputs) == 0 {
		oldSide = s.OldState.Outputs
	}
	var changes []Property
	if len(s.DiffReasons) > 0 {
		for _, k := range s.DiffReasons {
			a, aok := oldSide[k]
			b, bok := newSide[k]
			diffValue(quoteKey(k, true), a, aok, b, bok, &changes)
		}
	} else {
		diffValue("", any(oldSide), true, any(newSide), true, &changes)
	}
	for _, c := range changes {
		if !add(c) {
			break
		}
	}
	return out
}

// diffValue appends a row per differing leaf under path.
func diffValue(path string, a any, aok bool, b any, bok bool, out *[]Property) {
	if aok == bok && reflect.DeepEqual(a, b) {
		return
	}
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aok && bok && aIsMap && bIsMap {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			x, xok := am[k]
			y, yok := bm[k]
			diffValue(join(path, k), x, xok, y, yok, out)
		}
		return
	}
	al, aIsList := a.([]any)
	bl, bIsList := b.([]any)
	if aok && bok && aIsList && bIsList && len(al) == len(bl) {
		for i := range al {
			diffValue(path+"["+strconv.Itoa(i)+"]", al[i], true, bl[i], true, out)
		}
		return
	}
	*out = append(*out, textDiff(path, a, aok, b, bok))
}

// textDiff renders one difference. Two multi-line texts (a step's script)
// show their first differing line: their beginnings are usually the same.
func textDiff(path string, a any, aok bool, b any, bok bool) Property {
	as, aIsString := a.(string)
	bs, bIsString := b.(string)
	if aok && bok && aIsString && bIsString && (strings.Contains(as, "\n") || strings.Contains(bs, "\n")) {
		al, bl := strings.Split(as, "\n"), strings.Split(bs, "\n")
		for i := 0; i < len(al) || i < len(bl); i++ {
			var x, y string
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			if x != y || i >= len(al) || i >= len(bl) {
				at := func(text string, present bool) string {
					if !present {
						return fmt.Sprintf("line %d: (absent)", i+1)
					}
					return fmt.Sprintf("line %d: %s", i+1, render(text, true))
				}
				return Property{Path: path, Old: at(x, i < len(al)), New: at(y, i < len(bl))}
			}
		}
	}
	return Property{Path: path, Old: render(a, aok), New: render(b, bok)}
}

func join(path, key string) string {
	if path == "" {
		return quoteKey(key, true)
	}
	return path + quoteKey(key, false)
}

// quoteKey writes a key as the engine writes property paths: name or
// .name, and ["a.b"] for a key that is not a plain name.
func quoteKey(k string, first bool) string {
	plain := k != "" && !(k[0] >= '0' && k[0] <= '9')
	for _, r := range k {
		if !(r == '_' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			plain = false
		}
	}
	switch {
	case !plain:
		return "[" + strconv.Quote(k) + "]"
	case first:
		return k
	default:
		return "." + k
	}
}

// lookup follows a property path (name.sub[2]["a.b"]) into v.
func lookup(v map[string]any, path string) (any, bool) {
	segs, ok := parsePath(path)
	if !ok {
		x, found := v[path]
		return x, found
	}
	var cur any = v
	for _, s := range segs {
		switch c := cur.(type) {
		case map[string]any:
			key, isKey := s.(string)
			if !isKey {
				return nil, false
			}
			x, found := c[key]
			if !found {
				return nil, false
			}
			cur = x
		case []any:
			i, isIndex := s.(int)
			if !isIndex || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// parsePath splits a property path into keys (string) and indices (int).
func parsePath(p string) ([]any, bool) {
	var segs []any
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, false
			}
			inner := p[i+1 : i+end]
			if strings.HasPrefix(inner, `"`) {
				// A quoted key may hold ']': find the closing quote.
				q, err := strconv.QuotedPrefix(p[i+1:])
				if err != nil || i+1+len(q) >= len(p) || p[i+1+len(q)] != ']' {
					return nil, false
				}
				k, _ := strconv.Unquote(q)
				segs = append(segs, k)
				i += len(q) + 2
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil {
				return nil, false
			}
			segs = append(segs, n)
			i += end + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, p[i:j])
			i = j
		}
	}
	return segs, true
}

// maxValue bounds a rendered value: a script's text is not a table cell.
const maxValue = 80

func render(v any, ok bool) string {
	if !ok {
		return ""
	}
	if s, isString := v.(string); isString {
		switch s {
		case unknown:
			return "(known after the update)"
		case "[secret]":
			return "[secret]"
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.ReplaceAll(string(b), unknown, "(unknown)")
	if r := []rune(s); len(r) > maxValue {
		s = string(r[:maxValue-1]) + "…"
	}
	return s
}

// splitURN returns the type (the last of a parent chain) and the name.
func splitURN(urn string) (typ, name string) {
	parts := strings.SplitN(urn, "::", 4)
	if len(parts) < 4 {
		return "", urn
	}
	typ = parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ, parts[3]
}
