// Package stackfile reads Pulumi.yaml and Pulumi.<stack>.yaml the way the
// Pulumi CLI hands them to a program, without the CLI, a backend or secrets:
// what the offline plan, the tests and the policy checks run the program on.
package stackfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// Key is one config key's schema in Pulumi.yaml.
type Key struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Secret      bool   `yaml:"secret"`
	Default     any    `yaml:"default"`
}

// Project is the part of Pulumi.yaml the program depends on.
type Project struct {
	Name    string         `yaml:"name"`
	Runtime any            `yaml:"runtime"`
	Config  map[string]Key `yaml:"config"`
}

// Stack is a stack's configuration ready to hand to the program.
type Stack struct {
	Project string
	Name    string
	// Config maps full keys to values; structured values are JSON.
	Config map[string]string
	// SecretKeys are the full keys that are secrets.
	SecretKeys []string
	// MissingSecrets are required secrets with no readable value (unset, or
	// encrypted for a backend this machine does not have).
	MissingSecrets []string
}

// LoadProject reads dir/Pulumi.yaml.
func LoadProject(dir string) (*Project, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	var p Project
	if err := yaml.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("Pulumi.yaml: %w", err)
	}
	return &p, nil
}

// Load reads the project and dir/Pulumi.<stack>.yaml.
func Load(dir, stack string) (*Stack, error) {
	p, err := LoadProject(dir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("Pulumi.%s.yaml: %w", stack, err)
	}
	return FromValues(p, stack, file.Config)
}

// FromValues builds a stack from decoded config values (as in a stack file).
func FromValues(p *Project, stack string, values map[string]any) (*Stack, error) {
	s := &Stack{Project: p.Name, Name: stack, Config: map[string]string{}}
	for key, v := range values {
		if m, ok := v.(map[string]any); ok {
			if _, secure := m["secure"]; secure && len(m) == 1 {
				continue // ciphertext: unreadable here, reported as missing if required
			}
		}
		str, err := encode(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		s.Config[key] = str
		if p.Config[key].Secret {
			s.SecretKeys = append(s.SecretKeys, key)
		}
	}
	for key, k := range p.Config {
		if !k.Secret {
			continue
		}
		if _, ok := s.Config[key]; !ok && k.Default == nil {
			s.MissingSecrets = append(s.MissingSecrets, key)
		}
	}
	sort.Strings(s.SecretKeys)
	sort.Strings(s.MissingSecrets)
	return s, nil
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
	c := &Stack{Project: s.Project, Name: s.Name, Config: map[string]string{}, MissingSecrets: s.MissingSecrets}
	for k, v := range s.Config {
		c.Config[k] = v
	}
	c.SecretKeys = append([]string{}, s.SecretKeys...)
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
	c := &Stack{Project: s.Project, Name: s.Name, Config: map[string]string{}, MissingSecrets: s.MissingSecrets}
	for k, v := range s.Config {
		c.Config[k] = v
	}
	c.SecretKeys = append([]string{}, s.SecretKeys...)
	c.Config[s.full(key)] = value
	return c
}

// Delete returns a copy without key.
func (s *Stack) Delete(key string) *Stack {
	c := s.Set(key, "")
	delete(c.Config, s.full(key))
	return c
}

func (s *Stack) full(key string) string {
	if _, ok := s.Config[key]; ok {
		return key
	}
	for _, r := range key {
		if r == ':' {
			return key
		}
	}
	return s.Project + ":" + key
}
