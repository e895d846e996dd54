// Package harness runs the real program under Pulumi's mocks for a committed
// stack file (or a variant of it) and answers questions about the recording.
// Whole-stack tests in package tests share it.
package harness

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
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

// Stack loads a committed stack file with placeholder secrets, and a fake
// value for every alert receiver's secret (optional secrets, which the
// committed files cannot carry), so a test may configure any receiver.
func Stack(t testing.TB, name string) *stackfile.Stack {
	t.Helper()
	s, err := stackfile.Load(RepoRoot(t), name)
	require.NoError(t, err)
	s = s.WithPlaceholders()
	for _, key := range stacks.AlertingSecrets {
		if s.Config[stacks.Namespace+":"+key] == "" {
			s = s.SetSecret(key, FakeAlertingSecret(name, key))
		}
	}
	return s
}

// RoomForBothSlots doubles the cores and memory of every app host, so the
// stack holds both release slots whole. The committed stacks' hosts hold one
// slot and a spare (a release trades replicas: tests/release_steps_test.go);
// tests about what a second slot changes, not about capacity, run both
// slots whole on these hosts.
func RoomForBothSlots(t testing.TB, s *stackfile.Stack) *stackfile.Stack {
	t.Helper()
	var hosts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(s.Config[stacks.Namespace+":hosts"]), &hosts))
	for _, h := range hosts {
		roles, _ := h["roles"].([]any)
		if !slices.Contains(roles, any(stacks.RoleApp)) {
			continue
		}
		c, ok := h["capacity"].(map[string]any)
		require.True(t, ok, "host %v states its capacity", h["name"])
		for _, k := range []string{"cpus", "memoryGb"} {
			n, ok := c[k].(float64)
			require.True(t, ok, "host %v capacity.%s", h["name"], k)
			c[k] = 2 * n
		}
	}
	raw, err := json.Marshal(hosts)
	require.NoError(t, err)
	return s.Set("hosts", string(raw))
}

// FakeAlertingSecret is the value Stack gives an alert receiver's secret:
// long, derived from the stack and key, and for the webhook an https URL
// (amtool accepts the rendered file).
func FakeAlertingSecret(stack, key string) string {
	v := "fake-" + stack + "-" + key + "-7c41e2"
	if key == stacks.SecretAlertWebhookURL {
		return "https://hooks.example.invalid/" + v
	}
	return v
}

// HostNames are the names of the hosts s lists, in inventory order.
func HostNames(t testing.TB, s *stackfile.Stack) []string {
	t.Helper()
	var hosts []struct {
		Name string `json:"name"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
	require.NotEmpty(t, hosts)
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	return names
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
	_, err := Try(s)
	return err
}

// Try runs the real program on s and returns the recording and the error,
// for tests that expect either (a refused config, a fuzzed one).
func Try(s *stackfile.Stack) (*mockrun.Result, error) {
	return mockrun.RunStack(stacks.Run, s)
}

// Config is the configuration the program loads from s (defaults applied,
// validated), for tests that compare the recording with config facts.
func Config(t testing.TB, s *stackfile.Stack) *stacks.Config {
	t.Helper()
	var cfg *stacks.Config
	_, err := mockrun.Run(func(ctx *pulumi.Context) error {
		var err error
		cfg, err = stacks.Load(ctx)
		return err
	}, mockrun.Options{Project: s.Project, Stack: s.Name, Config: s.Config, SecretKeys: s.SecretKeys})
	require.NoError(t, err)
	return cfg
}

// Outputs are a run's stack outputs, resolved.
type Outputs struct {
	HostRoles     map[string]string
	URLs          map[string]string
	CACertificate string
	// Services are the services that publish their own outputs.
	Services []string
}

// StackOutputs runs the real program on s and returns its stack outputs.
func StackOutputs(t testing.TB, s *stackfile.Stack) Outputs {
	t.Helper()
	var out Outputs
	_, err := mockrun.Run(func(ctx *pulumi.Context) error {
		cfg, err := stacks.Load(ctx)
		if err != nil {
			return err
		}
		o, err := stacks.Deploy(ctx, cfg)
		if err != nil {
			return err
		}
		o.HostRoles.ToStringMapOutput().ApplyT(func(m map[string]string) error { out.HostRoles = m; return nil })
		o.URLs.ToStringMapOutput().ApplyT(func(m map[string]string) error { out.URLs = m; return nil })
		o.CACertificate.ApplyT(func(s string) error { out.CACertificate = s; return nil })
		for name := range o.Services {
			out.Services = append(out.Services, name)
		}
		return nil
	}, mockrun.Options{Project: s.Project, Stack: s.Name, Config: s.Config, SecretKeys: s.SecretKeys})
	require.NoError(t, err)
	return out
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
	return res.PlaintextContaining(needle)
}

// PlainStrings returns every string in v that is not inside a secret,
// the text of assets included.
func PlainStrings(v resource.PropertyValue) []string { return mockrun.PlainStrings(v) }

// InstalledFiles maps every config file's final path on its host to its
// content: the staged copy's text followed through its install step.
func InstalledFiles(res *mockrun.Result) map[string]string {
	target := map[string]string{}
	for _, r := range res.OfType("command:remote:Command") {
		for _, in := range configfile.Installs(text(r.Inputs["create"])) {
			target[in.From] = in.To
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

// Plain unwraps secrets and known outputs down to the value inside.
func Plain(v resource.PropertyValue) resource.PropertyValue { return mockrun.Unwrap(v) }

// Field reads key of an object value, through secrets and outputs
// (a null value when v is not an object or has no key).
func Field(v resource.PropertyValue, key string) resource.PropertyValue {
	v = Plain(v)
	if !v.IsObject() {
		return resource.NewNullProperty()
	}
	return Plain(v.ObjectValue()[resource.PropertyKey(key)])
}

// Elements is the elements of an array value, through secrets and outputs.
func Elements(v resource.PropertyValue) []resource.PropertyValue {
	v = Plain(v)
	if !v.IsArray() {
		return nil
	}
	return v.ArrayValue()
}

// text is a string value through secrets and outputs, "" otherwise.
func text(v resource.PropertyValue) string {
	v = Plain(v)
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Closure is every resource urn waits for (mockrun.Result.Closure).
func Closure(res *mockrun.Result, urn string) map[string]bool { return res.Closure(urn) }

// ContainerNetworks are the names of the networks a container joins.
func ContainerNetworks(c mockrun.Resource) []string {
	var out []string
	for _, n := range Elements(c.Inputs["networksAdvanced"]) {
		out = append(out, text(Field(n, "name")))
	}
	return out
}

// ContainerHostPaths are the host paths a container mounts (bind mounts
// and host-path volumes).
func ContainerHostPaths(c mockrun.Resource) []string {
	var out []string
	for _, m := range Elements(c.Inputs["mounts"]) {
		if text(Field(m, "type")) == "bind" {
			out = append(out, text(Field(m, "source")))
		}
	}
	for _, v := range Elements(c.Inputs["volumes"]) {
		if p := text(Field(v, "hostPath")); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Host is the address of the machine a resource acts on: a command's
// connection host, or the address in its Docker provider's ssh:// URL;
// "" when it cannot be told.
func Host(res *mockrun.Result, r mockrun.Resource) string {
	if h := text(Field(r.Inputs["connection"], "host")); h != "" {
		return h
	}
	if p := res.ByURN(r.Provider); p != nil {
		if u, err := url.Parse(Str(p.Inputs, "host")); err == nil {
			return u.Hostname()
		}
	}
	return ""
}

// Write is one step that puts a file or a directory on a host.
type Write struct {
	URN  string
	Host string
	Path string
	// Content is what the step writes, when it arrives on stdin (secret files).
	Content string
}

var (
	// ensureDir is host preparation creating a directory.
	ensureDir = regexp.MustCompile(`(?m)^\s*ensure_dir '([^']+)' `)
	// installDirs is a step creating directories (install -d … 'a' 'b').
	installDirs = regexp.MustCompile(`(?m)install -d (?:-[ogm] \S+ )*((?:'[^']+' ?)+)`)
	quoted      = regexp.MustCompile(`'([^']+)'`)
)

// Writes lists every file and directory the remote steps put on hosts:
// configfile installs, secret files, host preparation's directories and
// other steps' `install -d`.
func Writes(res *mockrun.Result) []Write {
	var out []Write
	for _, r := range res.OfType("command:remote:Command") {
		h := Host(res, r)
		script := text(r.Inputs["create"]) + "\n" + text(r.Inputs["stdin"])
		add := func(p string) { out = append(out, Write{URN: r.URN, Host: h, Path: p}) }
		for _, in := range configfile.Installs(script) {
			add(in.To)
		}
		if files, err := configfile.SecretFiles(text(r.Inputs["create"]), text(r.Inputs["stdin"])); err == nil {
			for p, content := range files {
				out = append(out, Write{URN: r.URN, Host: h, Path: p, Content: content})
			}
		}
		for _, m := range ensureDir.FindAllStringSubmatch(script, -1) {
			add(m[1])
		}
		for _, m := range installDirs.FindAllStringSubmatch(script, -1) {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				add(q[1])
			}
		}
	}
	return out
}

// TLSOutputs maps every PEM the mocked tls provider returns (certificates
// and keys, as mockrun.Fabricate makes them) to the resource that made it.
func TLSOutputs(res *mockrun.Result) map[string]string {
	out := map[string]string{}
	for _, r := range res.Resources {
		if !strings.HasPrefix(r.Type, "tls:") {
			continue
		}
		for _, v := range mockrun.Fabricate(r.Type, r.Name, r.Inputs) {
			if s := text(v); strings.HasPrefix(s, "-----BEGIN") {
				out[s] = r.URN
			}
		}
	}
	return out
}

// HostFile is a file or directory the plan puts on a host, with its owner
// (uid:gid), mode and, for files, content.
type HostFile struct {
	Host, Path, Owner, Mode, Content string
	Dir                              bool
}

// ensureDirMode is host preparation creating a directory with its mode and owner.
var ensureDirMode = regexp.MustCompile(`(?m)^\s*ensure_dir '([^']+)' ([0-7]+) ([0-9]+:[0-9]+)`)

// HostFiles is every file and directory the plan writes on host (an
// address) as it would land there: host preparation's directories, config
// files (configfile installs) and secret files with their directories.
func HostFiles(res *mockrun.Result, host string) []HostFile {
	installed := InstalledFiles(res)
	var out []HostFile
	for _, r := range res.OfType("command:remote:Command") {
		if Host(res, r) != host {
			continue
		}
		script, stdin := text(r.Inputs["create"]), text(r.Inputs["stdin"])
		for _, m := range ensureDirMode.FindAllStringSubmatch(script+"\n"+stdin, -1) {
			out = append(out, HostFile{Host: host, Path: m[1], Mode: m[2], Owner: m[3], Dir: true})
		}
		for _, in := range configfile.InstalledModes(script + "\n" + stdin) {
			out = append(out, HostFile{Host: host, Path: in.To, Mode: in.Mode, Owner: in.Owner, Content: installed[in.To]})
		}
		if written, err := configfile.SecretWrites(script, stdin); err == nil {
			for _, w := range written {
				out = append(out, HostFile{Host: host, Path: w.Path, Mode: w.Mode, Owner: w.Owner, Content: w.Content, Dir: w.Dir})
			}
		}
	}
	return out
}
