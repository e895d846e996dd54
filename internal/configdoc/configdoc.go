// Package configdoc writes the configuration reference from its one source,
// the typed config (stacks.Config, stacks.Secrets and the types they hold):
// docs/configuration.md and the descriptions of Pulumi.yaml's config keys.
//
// Each field says what it is in struct tags:
//
//	doc      what the key does (required on every field)
//	range    lo-hi, the values validation accepts
//	allowed  a|b|c, the only values validation accepts
//	example  a value as it is written in a stack file
//	check    the function of stacks/validate.go that checks the key
//	default  only a default that depends on another value ("the host's
//	         address"); every fixed default is read from the program's own
//	         defaulting (stacks.DocSample), never typed here.
//
// Types come from the Go types, map keys from the lists validation uses
// (stacks.DocMapKeys), whether a key is required and secret from Pulumi.yaml.
package configdoc

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/internal/zones"
	"github.com/aurigraph/infra/stacks"
)

// Files the reference is written to, relative to the project directory.
const (
	DocFile     = "docs/configuration.md"
	ProjectFile = "Pulumi.yaml"
	// ValidateFile holds every check a key's check tag may name.
	ValidateFile = "stacks/validate.go"
)

// Key is one documented setting: a top-level config key or a field in one.
type Key struct {
	Path    string // "hosts[].capacity.cpus", "resources.<service>.cpus"
	Name    string // the last element: "cpus"
	Type    string
	Default string // the value the program applies; "" when there is none
	// DefaultNote describes a default that depends on another value (the
	// default tag), when Default is "".
	DefaultNote string
	Allowed     string
	Example     string
	Check       string
	Doc         string
	Fields      []Key // of an object
}

// TopKey is one key of Pulumi.yaml's config section.
type TopKey struct {
	Key
	Secret bool // declared secret: true in Pulumi.yaml
	// Required: no default in Pulumi.yaml, so every stack sets it (a
	// required secret through `pulumi config set --secret`).
	Required bool
	// SecretValue: a secret value whether or not Pulumi.yaml can declare
	// it so (optional secrets carry a default instead).
	SecretValue bool
}

// Reference builds the documentation of every config key from the typed
// config, reading Pulumi.yaml and stacks/validate.go in dir. It fails on a
// field without a doc tag, a check that does not exist, a default tag
// where the code applies a default, and a key Pulumi.yaml does not declare.
func Reference(dir string) ([]TopKey, error) {
	project, err := stackfile.LoadProject(dir)
	if err != nil {
		return nil, err
	}
	checks, err := funcNames(filepath.Join(dir, ValidateFile))
	if err != nil {
		return nil, err
	}
	b := &builder{checks: checks, mapKeys: stacks.DocMapKeys()}
	var keys []TopKey
	sample := reflect.ValueOf(stacks.DocSample()).Elem()
	ct := sample.Type()
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		k := b.field(f, sample.Field(i), "", name)
		keys = append(keys, TopKey{Key: k})
	}
	st := reflect.TypeOf(stacks.Secrets{})
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		name := f.Tag.Get("config")
		if name == "" {
			b.errf("stacks.Secrets.%s: add a config tag naming its key", f.Name)
			continue
		}
		k := Key{Path: name, Name: name, Type: "string", Doc: b.doc(f, name), Check: b.check(f, name)}
		keys = append(keys, TopKey{Key: k, SecretValue: true})
	}
	for i := range keys {
		full := stacks.Namespace + ":" + keys[i].Name
		decl, ok := project.Config[full]
		if !ok {
			b.errf("%s: declare it in Pulumi.yaml with its type", full)
			continue
		}
		keys[i].Secret = decl.Secret
		keys[i].Required = decl.Default == nil
	}
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("configuration reference:\n  %s", strings.Join(b.errs, "\n  "))
	}
	return keys, nil
}

type builder struct {
	checks  map[string]bool
	mapKeys map[string][]string
	errs    []string
}

func (b *builder) errf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func (b *builder) doc(f reflect.StructField, path string) string {
	d := f.Tag.Get("doc")
	if d == "" {
		b.errf("%s (field %s): add a doc tag", path, f.Name)
	}
	return d
}

func (b *builder) check(f reflect.StructField, path string) string {
	c := f.Tag.Get("check")
	if c != "" && !b.checks[c] {
		b.errf("%s: check tag names %s, which %s does not define", path, c, ValidateFile)
	}
	return c
}

// field documents struct field f holding the default v (from DocSample),
// at prefix+name.
func (b *builder) field(f reflect.StructField, v reflect.Value, prefix, name string) Key {
	path := prefix + name
	k := Key{Path: path, Name: name, Doc: b.doc(f, path), Check: b.check(f, path),
		Example: f.Tag.Get("example"), Allowed: allowed(f)}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if v.IsNil() {
			v = reflect.Zero(t)
		} else {
			v = v.Elem()
		}
	}
	if keys, ok := b.mapKeys[path]; ok {
		k.Allowed = joinAllowed("keys: "+strings.Join(keys, ", "), k.Allowed)
	}
	switch {
	case t.Kind() == reflect.Struct:
		k.Type = "object"
		k.Fields = b.fields(t, v, path+".")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		k.Type = "list of objects"
		elem := reflect.Zero(t.Elem())
		if v.Len() > 0 {
			elem = v.Index(0)
		}
		k.Fields = b.fields(t.Elem(), elem, path+"[].")
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		k.Type = "object of objects"
		k.Fields = b.fields(t.Elem(), reflect.Zero(t.Elem()), path+".<key>.")
	default:
		k.Type = typeName(t)
		k.Default, k.DefaultNote = b.defaultOf(f, v, path)
	}
	return k
}

func (b *builder) fields(t reflect.Type, v reflect.Value, prefix string) []Key {
	var out []Key
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		out = append(out, b.field(f, v.Field(i), prefix, name))
	}
	return out
}

// defaultOf is the default the program applies (v, from DocSample), or the
// default tag describing one that depends on another value.
func (b *builder) defaultOf(f reflect.StructField, v reflect.Value, path string) (value, note string) {
	tag := f.Tag.Get("default")
	if v.IsZero() {
		return "", tag
	}
	if tag != "" {
		b.errf("%s: the code defaults it to %s: remove the default tag", path, valueText(v))
	}
	return valueText(v), ""
}

// valueText writes a default as a stack file would (YAML flow style):
// 22, /srv/aurigraph, [a, b], {default: 3}.
func valueText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = valueText(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k.String() + ": " + valueText(v.MapIndex(k))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}

func allowed(f reflect.StructField) string {
	var parts []string
	if r := f.Tag.Get("range"); r != "" {
		parts = append(parts, strings.Replace(r, "-", " to ", 1))
	}
	if a := f.Tag.Get("allowed"); a != "" {
		parts = append(parts, strings.ReplaceAll(a, "|", ", "))
	}
	return strings.Join(parts, "; ")
}

func joinAllowed(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; values " + b
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Float64, reflect.Float32:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "object of " + typeName(t.Elem()) + "s"
	}
	return t.String()
}

// funcNames are the functions a Go file declares.
func funcNames(file string) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			names[fd.Name.Name] = true
		}
	}
	return names, nil
}

// Generate returns the files `make docs` writes, by path relative to dir,
// with their generated content.
func Generate(dir string) (map[string][]byte, error) {
	keys, err := Reference(dir)
	if err != nil {
		return nil, err
	}
	project, err := os.ReadFile(filepath.Join(dir, ProjectFile))
	if err != nil {
		return nil, err
	}
	descriptions := map[string]string{}
	for _, k := range keys {
		descriptions[stacks.Namespace+":"+k.Name] = Description(k)
	}
	yaml, err := SetDescriptions(project, descriptions)
	if err != nil {
		return nil, err
	}
	matrix, err := zoneMatrix(keys)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{DocFile: Markdown(keys), ProjectFile: yaml, zones.DocFile: matrix}, nil
}

// zoneMatrix is docs/network-zones.md, for network.name's and
// network.subnet's defaults.
func zoneMatrix(keys []TopKey) ([]byte, error) {
	defaults := map[string]string{}
	for _, k := range keys {
		for _, f := range k.Fields {
			defaults[f.Path] = f.Default
		}
	}
	subnet, err := netip.ParsePrefix(defaults["network.subnet"])
	if err != nil {
		return nil, fmt.Errorf("network.subnet's default: %w", err)
	}
	return zones.Table().Markdown(defaults["network.name"], subnet)
}

// Stale lists the generated files whose content on disk differs from what
// Generate makes now.
func Stale(dir string) ([]string, error) {
	files, err := Generate(dir)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, name := range sortedNames(files) {
		have, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(have, files[name]) {
			stale = append(stale, name)
		}
	}
	return stale, nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
