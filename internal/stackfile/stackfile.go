// Package stackfile reads Pulumi.yaml and Pulumi.<stack>.yaml the way the
// Pulumi CLI hands them to a program, without the CLI, a backend or secrets:
// what the offline plan, the tests and the policy checks run the program on.
//
// The files are parsed by the CLI's own loaders (sdk/go/common/workspace),
// and the engine's rules are applied before the program runs (see Check):
// a real `pulumi preview` would stop on any of them, so a stack that passes
// here but not there is a defect of this package.
package stackfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// Key is one config key's schema in Pulumi.yaml.
type Key struct {
	Type        string
	Items       *workspace.ProjectConfigItemsType
	Description string
	Secret      bool
	Default     any // nil: no default, so the key is required
}

// Project is the part of Pulumi.yaml the program depends on.
type Project struct {
	Name   string
	Config map[string]Key // full keys ("aurigraph:hosts")
}

// Stack is a stack's configuration ready to hand to the program.
type Stack struct {
	Project string
	Name    string
	// Config maps full keys to values, Pulumi.yaml defaults applied as the
	// engine applies them; structured values are JSON.
	Config map[string]string
	// SecretKeys are the full keys that are secrets.
	SecretKeys []string
	// MissingSecrets are required secrets with no readable value (unset, or
	// encrypted for a backend this machine does not have).
	MissingSecrets []string
}

// LoadProject reads dir/Pulumi.yaml with the CLI's loader, which also
// validates it against the project schema.
func LoadProject(dir string) (*Project, error) {
	p, _, err := loadProject(dir)
	return p, err
}

func loadProject(dir string) (*Project, *workspace.Project, error) {
	wp, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		//lint:ignore ST1005 the message starts with the file name, as the user types it
		return nil, nil, fmt.Errorf("Pulumi.yaml: %w", err)
	}
	p := &Project{Name: wp.Name.String(), Config: map[string]Key{}}
	for key, t := range wp.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = p.Name + ":" + key
		}
		k := Key{Items: t.Items, Description: t.Description, Secret: t.Secret, Default: t.Default}
		if t.Type != nil {
			k.Type = *t.Type
		}
		p.Config[full] = k
	}
	return p, wp, nil
}

// Load reads the project and dir/Pulumi.<stack>.yaml and applies the
// engine's rules (Check).
func Load(dir, stack string) (*Stack, error) {
	p, wp, err := loadProject(dir)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "Pulumi."+stack+".yaml")
	ps, err := workspace.LoadProjectStack(nil, wp, file)
	if err != nil {
		//lint:ignore ST1005 the message starts with the file name, as the user types it
		return nil, fmt.Errorf("Pulumi.%s.yaml: %w", stack, err)
	}
	values := map[string]Value{}
	for k, v := range ps.Config {
		raw, err := v.Value(config.NopDecrypter) // ciphertext stays ciphertext
		if err != nil {
			//lint:ignore ST1005 the message starts with the file name, as the user types it
			return nil, fmt.Errorf("Pulumi.%s.yaml: %s: %w", stack, k, err)
		}
		values[k.String()] = Value{Text: raw, Object: v.Object(), Secure: v.Secure()}
	}
	return FromValues(p, stack, values)
}

// Value is one stack file value as the CLI stores it.
type Value struct {
	Text   string // plain text, JSON for objects, ciphertext when Secure
	Object bool
	Secure bool
}

// FromValues applies the engine's rules to a stack's values (Check) and
// builds the configuration the program receives.
func FromValues(p *Project, stack string, values map[string]Value) (*Stack, error) {
	if err := Check(p, stack, values); err != nil {
		return nil, err
	}
	s := &Stack{Project: p.Name, Name: stack, Config: map[string]string{}}
	for key, v := range values {
		if v.Secure {
			continue // ciphertext: unreadable here, reported as missing if required
		}
		s.Config[key] = v.Text
	}
	for key, k := range p.Config {
		if _, set := values[key]; set {
			continue
		}
		if k.Default != nil {
			text, err := encode(k.Default)
			if err != nil {
				//lint:ignore ST1005 the message starts with the file name, as the user types it
				return nil, fmt.Errorf("Pulumi.yaml: %s default: %w", key, err)
			}
			s.Config[key] = text
		}
	}
	for key, k := range p.Config {
		_, readable := s.Config[key]
		// An optional secret (declared with a default, not secret) set with
		// `pulumi config set --secret` is ciphertext too: it is set, but
		// unreadable here, so it is planned with a placeholder as well.
		if (k.Secret && !readable) || values[key].Secure {
			s.MissingSecrets = append(s.MissingSecrets, key)
		}
	}
	sort.Strings(s.MissingSecrets)
	return s, nil
}

// Check applies the rules the Pulumi CLI applies to the project and the
// stack before the program runs (mergeConfig and validateStackConfigValues
// in the CLI's sdk/go/common/workspace/config.go, v3.220), every violation
// at once:
//   - a key of the project's namespace with no stack value and no default
//     is missing (secrets too: offline they are planned with placeholders,
//     so those are reported as MissingSecrets instead);
//   - a default is applied as a plain-text value, so a secret key with a
//     default fails "must be encrypted as it's secret" on every stack that
//     leaves it unset;
//   - a secret key's stack value must be encrypted;
//   - a typed key's value must match its type.
func Check(p *Project, stack string, values map[string]Value) error {
	var problems []string
	keys := make([]string, 0, len(p.Config))
	for k := range p.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		k := p.Config[key]
		v, set := values[key]
		if !set && k.Default == nil && !k.Secret && strings.HasPrefix(key, p.Name+":") {
			problems = append(problems, fmt.Sprintf("Stack '%s' is missing configuration '%s'", stack, key))
			continue
		}
		if !set {
			if k.Default == nil {
				continue // an optional secret, or a key of another namespace
			}
			if k.Secret {
				problems = append(problems, fmt.Sprintf("Stack '%s' with configuration key '%s' must be encrypted as it's secret (Pulumi.yaml gives it a plain-text default)", stack, key))
				continue
			}
			text, err := encode(k.Default)
			if err != nil {
				problems = append(problems, fmt.Sprintf("Pulumi.yaml: default of '%s': %v", key, err))
				continue
			}
			_, isString := k.Default.(string)
			v = Value{Text: text, Object: !isString}
		}
		if k.Secret && !v.Secure {
			problems = append(problems, fmt.Sprintf("Stack '%s' with configuration key '%s' must be encrypted as it's secret", stack, key))
			continue
		}
		if k.Type == "" || v.Secure {
			continue // ciphertext can't be type-checked without the stack's key
		}
		var content any = v.Text
		if v.Object {
			if err := json.Unmarshal([]byte(v.Text), &content); err != nil {
				problems = append(problems, fmt.Sprintf("Stack '%s' with configuration key '%s': %v", stack, key, err))
				continue
			}
		}
		if !workspace.ValidateConfigValue(k.Type, k.Items, content) {
			problems = append(problems, fmt.Sprintf("Stack '%s' with configuration key '%s' must be of type '%s'",
				stack, key, workspace.InferFullTypeName(k.Type, k.Items)))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func encode(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	default:
		b, err := json.Marshal(t)
		return string(b), err
	}
}

// WithPlaceholders returns a copy in which every missing secret has a
// placeholder value, marked secret, so the program can run to show what it
// would deploy. The placeholder is long and derived from the key, never a
// real credential, and it is shown only as [secret].
func (s *Stack) WithPlaceholders() *Stack {
	c := s.copy()
	for _, key := range s.MissingSecrets {
		sum := sha256.Sum256([]byte("placeholder/" + s.Name + "/" + key))
		c.Config[key] = "plan-placeholder-" + hex.EncodeToString(sum[:12])
		c.SecretKeys = append(c.SecretKeys, key)
	}
	sort.Strings(c.SecretKeys)
	return c
}

// Set returns a copy with key (short or full) set to a JSON or string value;
// tests use it to derive a broken or changed config from a committed one.
func (s *Stack) Set(key, value string) *Stack {
	c := s.copy()
	c.Config[s.full(key)] = value
	return c
}

// SetSecret returns a copy with key (short or full) set to value as a
// secret, as `pulumi config set --secret` would: tests give an optional
// secret a value with it.
func (s *Stack) SetSecret(key, value string) *Stack {
	c := s.copy()
	full := s.full(key)
	c.Config[full] = value
	if !slices.Contains(c.SecretKeys, full) {
		c.SecretKeys = append(c.SecretKeys, full)
		sort.Strings(c.SecretKeys)
	}
	return c
}

// Delete returns a copy without key.
func (s *Stack) Delete(key string) *Stack {
	c := s.copy()
	delete(c.Config, s.full(key))
	return c
}

func (s *Stack) copy() *Stack {
	c := &Stack{Project: s.Project, Name: s.Name, Config: map[string]string{}, MissingSecrets: s.MissingSecrets}
	for k, v := range s.Config {
		c.Config[k] = v
	}
	c.SecretKeys = append([]string{}, s.SecretKeys...)
	return c
}

func (s *Stack) full(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return s.Project + ":" + key
}
