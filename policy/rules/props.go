package rules

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Reading properties defensively: during a preview any value may be unknown
// (computed) and any value may be a secret; a rule reads through these
// helpers, which never panic, and decides nothing on an unknown value.

// state says what a read found.
type state int

const (
	absent  state = iota // missing or null
	unknown              // computed: not known until the update
	known                // a value of the wanted kind
	invalid              // present but of another kind
)

func kind(v property.Value, ok bool) state {
	switch {
	case v.IsNull():
		return absent
	case v.IsComputed():
		return unknown
	case ok:
		return known
	default:
		return invalid
	}
}

// str reads a string.
func str(v property.Value) (string, state) {
	s := kind(v, v.IsString())
	if s != known {
		return "", s
	}
	return v.AsString(), known
}

// num reads a number, or a string holding one (the provider's cpus is a string).
func num(v property.Value) (float64, state) {
	if v.IsString() {
		f, err := strconv.ParseFloat(strings.TrimSpace(v.AsString()), 64)
		if err != nil {
			return 0, invalid
		}
		return f, known
	}
	s := kind(v, v.IsNumber())
	if s != known {
		return 0, s
	}
	return v.AsNumber(), known
}

// boolean reads a bool, or a string "true"/"false".
func boolean(v property.Value) (bool, state) {
	if v.IsString() {
		b, err := strconv.ParseBool(v.AsString())
		if err != nil {
			return false, invalid
		}
		return b, known
	}
	s := kind(v, v.IsBool())
	if s != known {
		return false, s
	}
	return v.AsBool(), known
}

// arr reads an array's elements.
func arr(v property.Value) ([]property.Value, state) {
	s := kind(v, v.IsArray())
	if s != known {
		return nil, s
	}
	return v.AsArray().AsSlice(), known
}

// obj reads a map.
func obj(v property.Value) (property.Map, state) {
	s := kind(v, v.IsMap())
	if s != known {
		return property.Map{}, s
	}
	return v.AsMap(), known
}

// strs reads an array of strings; unknown if the array or any element is.
func strs(v property.Value) ([]string, state) {
	elems, s := arr(v)
	if s != known {
		return nil, s
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		x, es := str(e)
		switch es {
		case unknown:
			return nil, unknown
		case known:
			out = append(out, x)
		}
	}
	return out, known
}

// strMap reads a map of strings, skipping unknown values (reported in the bool).
func strMap(v property.Value) (map[string]string, bool, state) {
	m, s := obj(v)
	if s != known {
		return nil, false, s
	}
	out := map[string]string{}
	someUnknown := false
	for k, e := range m.All {
		x, es := str(e)
		if es == unknown {
			someUnknown = true
			continue
		}
		if es == known {
			out[k] = x
		}
	}
	return out, someUnknown, known
}
