// Package config holds the policy pack's per-environment settings: each
// rule's enforcement level and the numbers some rules compare against. The
// files use the Pulumi CLI's policy-pack-config format, so the same file
// serves `pulumi preview --policy-pack policy --policy-pack-config
// policy/config/prod.json` and the offline runner, and they are embedded in
// the pack so a run without --policy-pack-config gets the same answer.
package config

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// Levels a rule may have.
const (
	Mandatory = "mandatory"
	Advisory  = "advisory"
	Disabled  = "disabled"
)

// Rule is one rule's settings.
type Rule struct {
	Level string
	Props map[string]any
}

// Settings are every rule's settings for one environment.
type Settings struct {
	Environment string
	Rules       map[string]Rule
}

// Environments lists the environments with a settings file, sorted.
func Environments() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}

// Strictest is the environment used when a stack names none we know: an
// unknown stack is held to production's rules rather than to none.
const Strictest = "prod"

// Load returns the embedded settings of env, or the strictest ones when env
// has no file.
func Load(env string) (Settings, error) {
	raw, err := files.ReadFile(env + ".json")
	if err != nil {
		env = Strictest
		if raw, err = files.ReadFile(env + ".json"); err != nil {
			return Settings{}, err
		}
	}
	s, err := Parse(raw)
	if err != nil {
		return Settings{}, fmt.Errorf("policy/config/%s.json: %w", env, err)
	}
	s.Environment = env
	return s, nil
}

// Parse reads the CLI's format: {"rule": "level"} or
// {"rule": {"enforcementLevel": "level", "prop": value, ...}}.
func Parse(raw []byte) (Settings, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Settings{}, err
	}
	s := Settings{Rules: map[string]Rule{}}
	for name, v := range doc {
		var level string
		if err := json.Unmarshal(v, &level); err == nil {
			if !validLevel(level) {
				return Settings{}, fmt.Errorf("%s: unknown level %q", name, level)
			}
			s.Rules[name] = Rule{Level: level, Props: map[string]any{}}
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(v, &obj); err != nil {
			return Settings{}, fmt.Errorf("%s: want a level or an object: %w", name, err)
		}
		r := Rule{Level: Mandatory, Props: map[string]any{}}
		for k, pv := range obj {
			if k == "enforcementLevel" {
				l, ok := pv.(string)
				if !ok || !validLevel(l) {
					return Settings{}, fmt.Errorf("%s: unknown level %v", name, pv)
				}
				r.Level = l
				continue
			}
			r.Props[k] = pv
		}
		s.Rules[name] = r
	}
	return s, nil
}

func validLevel(l string) bool { return l == Mandatory || l == Advisory || l == Disabled }

// Level of a rule; a rule the file does not list is mandatory (fail closed).
func (s Settings) Level(rule string) string {
	if r, ok := s.Rules[rule]; ok && r.Level != "" {
		return r.Level
	}
	return Mandatory
}

// Props of a rule (never nil).
func (s Settings) Props(rule string) map[string]any {
	if r, ok := s.Rules[rule]; ok && r.Props != nil {
		return r.Props
	}
	return map[string]any{}
}

// WithLevels returns s with some rules' levels replaced, as a stack's own
// policy config sets them (a fixture that makes an opt-in rule mandatory).
func (s Settings) WithLevels(levels map[string]string) (Settings, error) {
	out := Settings{Environment: s.Environment, Rules: make(map[string]Rule, len(s.Rules))}
	for name, r := range s.Rules {
		out.Rules[name] = r
	}
	for name, level := range levels {
		if !validLevel(level) {
			return Settings{}, fmt.Errorf("%s: unknown level %q", name, level)
		}
		r := out.Rules[name]
		r.Level = level
		out.Rules[name] = r
	}
	return out, nil
}
