package check

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/internal/stackfile"
)

// Fixture is a deliberately broken configuration (policy/testdata/…): config
// overrides applied to a committed stack, and the rule it must break, or,
// for configurations validation refuses first, the error it refuses with.
type Fixture struct {
	Stack string         `yaml:"stack"`
	Rule  string         `yaml:"rule"`
	Error string         `yaml:"error"`
	Set   map[string]any `yaml:"set"`
	// Levels are rule levels the fixture's stack sets over its environment's
	// policy config: how an opt-in rule is shown mandatory.
	Levels map[string]string `yaml:"levels"`
}

// LoadFixture reads a fixture file.
func LoadFixture(path string) (Fixture, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, err
	}
	var f Fixture
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return Fixture{}, fmt.Errorf("%s: %w", path, err)
	}
	if f.Stack == "" || f.Rule == "" || len(f.Set) == 0 {
		return Fixture{}, fmt.Errorf("%s: stack, rule and set are required", path)
	}
	return f, nil
}

// Apply returns s (already with placeholders, so an override of a secret
// key is kept and stays secret) with the fixture's overrides; structured
// values become JSON as in a stack file.
func (f Fixture) Apply(s *stackfile.Stack) (*stackfile.Stack, error) {
	keys := make([]string, 0, len(f.Set))
	for k := range f.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := f.Set[k].(string)
		if !ok {
			raw, err := json.Marshal(f.Set[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			v = string(raw)
		}
		s = s.Set(k, v)
	}
	return s, nil
}
