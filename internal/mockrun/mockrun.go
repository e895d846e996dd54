// Package mockrun runs the real Pulumi program under Pulumi's own mocks and
// records every resource it registers: type, name, parent, provider,
// dependencies and inputs. Tests, the offline plan and the policy checks all
// read the same recording.
package mockrun

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/stackfile"
)

// Resource is one registered resource as the engine would see it.
type Resource struct {
	URN       string
	Type      string
	Name      string
	Parent    string
	Provider  string // URN of the explicit provider, "" for the default one
	DependsOn []string
	Custom    bool
	Inputs    resource.PropertyMap
	// DeleteBeforeReplace: a replacement removes this resource first.
	DeleteBeforeReplace bool
	// AdditionalSecretOutputs are the outputs the program marks secret.
	AdditionalSecretOutputs []string
}

// Options say which project, stack and config to run with.
type Options struct {
	Project string
	Stack   string
	// Config maps full keys ("aurigraph:hosts") to values; structured values as JSON.
	Config map[string]string
	// SecretKeys are the full keys that are secrets.
	SecretKeys []string
	// Outputs, when set, fabricates a resource's outputs (e.g. real
	// certificates); nil falls back to the default fabrication.
	Outputs func(typ, name string, inputs resource.PropertyMap) resource.PropertyMap
	// Preview runs as the first `pulumi preview` of a new stack: a dry run
	// in which every value a provider computes (ids, keys, certificates,
	// command output, image digests) is unknown, so ApplyT bodies on them
	// do not run and inputs built from them are unknown.
	Preview bool
}

// Result is the recording of one run.
type Result struct {
	Resources []Resource // sorted by URN
}

// ByURN returns the resource with urn, or nil.
func (r *Result) ByURN(urn string) *Resource {
	for i := range r.Resources {
		if r.Resources[i].URN == urn {
			return &r.Resources[i]
		}
	}
	return nil
}

// Closure is every resource urn waits for: its DependsOn (explicit and
// through its inputs) and its provider, transitively, by URN: what the
// engine orders before it.
func (r *Result) Closure(urn string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{urn}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		res := r.ByURN(u)
		if res == nil {
			continue
		}
		next := append([]string{}, res.DependsOn...)
		if res.Provider != "" {
			next = append(next, res.Provider)
		}
		for _, d := range next {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return seen
}

// OfType returns the resources of a type token, sorted by URN.
func (r *Result) OfType(typ string) []Resource {
	var out []Resource
	for _, res := range r.Resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// Named returns the resource of type typ and name, or nil.
func (r *Result) Named(typ, name string) *Resource {
	for i := range r.Resources {
		if r.Resources[i].Type == typ && r.Resources[i].Name == name {
			return &r.Resources[i]
		}
	}
	return nil
}

// env is process-wide: runs are serialised because config travels in the environment.
var envMu sync.Mutex

// Run executes program against an in-process engine (see engine.go) with
// opts and returns what it registered.
func Run(program pulumi.RunFunc, opts Options) (*Result, error) {
	envMu.Lock()
	defer envMu.Unlock()
	cfg, err := json.Marshal(opts.Config)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, opts.SecretKeys...))
	if err != nil {
		return nil, err
	}
	m := &monitor{project: opts.Project, stack: opts.Stack, outputs: opts.Outputs, preview: opts.Preview}
	addr, stop, err := serve(m)
	if err != nil {
		return nil, err
	}
	defer stop()
	restore := setenv(map[string]string{
		"PULUMI_PROJECT":            opts.Project,
		"PULUMI_STACK":              opts.Stack,
		"PULUMI_MONITOR":            addr,
		"PULUMI_ENGINE":             addr,
		"PULUMI_CONFIG":             string(cfg),
		"PULUMI_CONFIG_SECRET_KEYS": string(secretKeys),
		"PULUMI_DRY_RUN":            strconv.FormatBool(opts.Preview),
		"PULUMI_PARALLEL":           "8",
	})
	defer restore()
	err = pulumi.RunErr(program)
	if err == nil {
		err = m.failure()
	}
	res := &Result{Resources: m.recorded()}
	return res, err
}

func setenv(vars map[string]string) func() {
	old := map[string]*string{}
	for k, v := range vars {
		if prev, ok := os.LookupEnv(k); ok {
			p := prev
			old[k] = &p
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// urn builds the URN the way the engine does: the parent's type is part of it.
func (m *monitor) urn(parent, typ, name string) string {
	parentType := ""
	if parent != "" {
		u := resource.URN(parent)
		if u.QualifiedType() != resource.RootStackType {
			parentType = string(u.QualifiedType()) + "$"
		}
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s%s::%s", m.stack, m.project, parentType, typ, name)
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// fake is a deterministic stand-in value derived from a resource's name.
func fake(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "/" + name))
	return hex.EncodeToString(sum[:8])
}

// Fabricate returns the outputs a provider would add, deterministically:
// the same name always gets the same fake value, so runs are comparable.
func Fabricate(typ, name string, inputs resource.PropertyMap) resource.PropertyMap {
	pem := func(kind string) string {
		return fmt.Sprintf("-----BEGIN %s-----\nMOCK%s\n-----END %s-----\n", kind, fake(kind, name), kind)
	}
	switch typ {
	case "tls:index/privateKey:PrivateKey":
		return resource.PropertyMap{
			"privateKeyPem":      resource.MakeSecret(resource.NewProperty(pem("EC PRIVATE KEY"))),
			"privateKeyPemPkcs8": resource.MakeSecret(resource.NewProperty(pem("PRIVATE KEY"))),
			"publicKeyPem":       resource.NewProperty(pem("PUBLIC KEY")),
			"publicKeyOpenssh":   resource.NewProperty("ecdsa-sha2-nistp256 MOCK" + fake("ssh", name)),
		}
	case "tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert":
		return resource.PropertyMap{
			"certPem":         resource.NewProperty(pem("CERTIFICATE")),
			"validityEndTime": resource.NewProperty("2027-02-21T00:00:00Z"),
			"readyForRenewal": resource.NewProperty(false),
		}
	case "tls:index/certRequest:CertRequest":
		return resource.PropertyMap{"certRequestPem": resource.NewProperty(pem("CERTIFICATE REQUEST"))}
	case "docker:index/remoteImage:RemoteImage":
		return resource.PropertyMap{
			"imageId":    resource.NewProperty("sha256:" + fake("image", name)),
			"repoDigest": resource.NewProperty("sha256:" + fake("digest", name)),
		}
	case "command:remote:Command", "command:local:Command":
		// Nothing runs: a command prints nothing, except the one whose output
		// the program reads back, a script reading a swarm join token.
		stdout := ""
		if stdin := inputs["stdin"]; stdin.IsString() && strings.Contains(stdin.StringValue(), "docker swarm join-token -q") {
			stdout = "SWMTKN-1-mock" + fake("swarm-token", name)
		}
		return resource.PropertyMap{
			"stdout": resource.NewProperty(stdout),
			"stderr": resource.NewProperty(""),
		}
	}
	return nil
}

// RunStack runs program on a stack read by stackfile.
func RunStack(program pulumi.RunFunc, s *stackfile.Stack) (*Result, error) {
	return RunStackWith(program, s, nil)
}

// RunStackWith is RunStack with an Options.Outputs function, e.g.
// RealTLS.Outputs.
func RunStackWith(program pulumi.RunFunc, s *stackfile.Stack, outputs func(typ, name string, inputs resource.PropertyMap) resource.PropertyMap) (*Result, error) {
	return Run(program, Options{Project: s.Project, Stack: s.Name, Config: s.Config, SecretKeys: s.SecretKeys, Outputs: outputs})
}

// PlaintextContaining returns the URNs of the resources where needle
// appears in an input value that is not wrapped as a secret.
func (r *Result) PlaintextContaining(needle string) []string {
	var hits []string
	for _, res := range r.Resources {
		for _, s := range PlainStrings(resource.NewObjectProperty(res.Inputs)) {
			if strings.Contains(s, needle) {
				hits = append(hits, res.URN)
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
