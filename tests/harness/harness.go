// Package harness runs the real program under Pulumi's mocks for a committed
// stack file (or a variant of it) and answers questions about the recording.
// Whole-stack tests in package tests share it.
package harness

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

// ContainerType is the docker provider's container token.
const ContainerType = "docker:index/container:Container"

// RepoRoot finds the module root from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found above the test directory")
		dir = parent
	}
}

// Stack loads a committed stack file with placeholder secrets.
func Stack(t testing.TB, name string) *stackfile.Stack {
	t.Helper()
	s, err := stackfile.Load(RepoRoot(t), name)
	require.NoError(t, err)
	return s.WithPlaceholders()
}

// Run runs the real program on s and fails the test on error.
func Run(t testing.TB, s *stackfile.Stack) *mockrun.Result {
	t.Helper()
	res, err := mockrun.RunStack(stacks.Run, s)
	require.NoError(t, err)
	return res
}

// Preview runs the real program on s as the first `pulumi preview` of a new
// stack: every value a provider computes is unknown.
func Preview(t testing.TB, s *stackfile.Stack) *mockrun.Result {
	t.Helper()
	res, err := mockrun.Run(stacks.Run, mockrun.Options{
		Project: s.Project, Stack: s.Name, Config: s.Config, SecretKeys: s.SecretKeys, Preview: true,
	})
	require.NoError(t, err)
	return res
}

// RunRealTLS runs the real program on s with real certificates from the
// PKI (mockrun.RealTLS): the CA and every leaf can be checked.
func RunRealTLS(t testing.TB, s *stackfile.Stack) (*mockrun.Result, *mockrun.RealTLS) {
	t.Helper()
	real := mockrun.NewRealTLS()
	res, err := mockrun.RunStackWith(stacks.Run, s, real.Outputs)
	require.NoError(t, err)
	return res, real
}

// RunErr runs the real program on s and returns its error.
func RunErr(s *stackfile.Stack) error {
	_, err := mockrun.RunStack(stacks.Run, s)
	return err
}

// Containers returns the recorded containers by container name.
func Containers(res *mockrun.Result) map[string]mockrun.Resource {
	out := map[string]mockrun.Resource{}
	for _, r := range res.OfType(ContainerType) {
		out[Str(r.Inputs, "name")] = r
	}
	return out
}

// Str reads a plain string input ("" when absent, secret or not a string).
func Str(m resource.PropertyMap, key string) string {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Label reads a container label from the recorded labels list.
func Label(r mockrun.Resource, name string) string {
	labels, ok := r.Inputs["labels"]
	if !ok || !labels.IsArray() {
		return ""
	}
	for _, l := range labels.ArrayValue() {
		if l.IsObject() && Str(l.ObjectValue(), "label") == name {
			return Str(l.ObjectValue(), "value")
		}
	}
	return ""
}

// PlaintextContaining returns the URNs of the resources where needle
// appears in an input value that is not wrapped as a secret.
func PlaintextContaining(res *mockrun.Result, needle string) []string {
	var hits []string
	for _, r := range res.Resources {
		for _, s := range PlainStrings(resource.NewObjectProperty(r.Inputs)) {
			if strings.Contains(s, needle) {
				hits = append(hits, r.URN)
				break
			}
		}
	}
	return hits
}

// PlainStrings returns every string in v that is not inside a secret,
// the text of assets included.
func PlainStrings(v resource.PropertyValue) []string {
	var out []string
	var walk func(resource.PropertyValue)
	walk = func(v resource.PropertyValue) {
		switch {
		case v.IsSecret():
		case v.IsString():
			out = append(out, v.StringValue())
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(e)
			}
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				walk(e)
			}
		case v.IsAsset():
			out = append(out, v.AssetValue().Text)
		case v.IsOutput():
			walk(v.OutputValue().Element)
		}
	}
	walk(v)
	return out
}

// installLine is how configfile installs a staged copy in place.
var installLine = regexp.MustCompile(`(?m)^\$SUDO install -D -m \S+ -o \S+ -g \S+ (\S+) (\S+)$`)

// InstalledFiles maps every config file's final path on its host to its
// content: the staged copy's text followed through its install step.
func InstalledFiles(res *mockrun.Result) map[string]string {
	target := map[string]string{}
	for _, r := range res.OfType("command:remote:Command") {
		for _, m := range installLine.FindAllStringSubmatch(Str(r.Inputs, "create"), -1) {
			target[m[1]] = m[2]
		}
	}
	out := map[string]string{}
	for _, r := range res.OfType("command:remote:CopyToRemote") {
		src, ok := r.Inputs["source"]
		if to, staged := target[Str(r.Inputs, "remotePath")]; staged && ok && src.IsAsset() {
			out[to] = src.AssetValue().Text
		}
	}
	return out
}
