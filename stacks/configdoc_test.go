package stacks

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
)

// rangeProbe is one range tag of the configuration reference, at a
// concrete path of the prod stack ("hosts[0].capacity.cpus").
type rangeProbe struct {
	path   []string // json names, slice indexes, map keys
	lo, hi int
}

func (p rangeProbe) key() string {
	var b strings.Builder
	for i, e := range p.path {
		switch {
		case strings.HasPrefix(e, "["):
			b.WriteString(e)
		case i > 0 && p.path[i-1] == "unhealthyChecks":
			b.WriteString("." + strconv.Quote(e)) // as validateSelfHealing names it
		case i > 0:
			b.WriteString("." + e)
		default:
			b.WriteString(e)
		}
	}
	return b.String()
}

// mapProbeKey is the map key a probe of a map-valued setting uses.
var mapProbeKey = map[string]string{"resources": Postgres, "unhealthyChecks": Postgres}

func rangeProbes(t reflect.Type, path []string, out *[]rangeProbe) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := append(append([]string{}, path...), name)
			if r := f.Tag.Get("range"); r != "" {
				lo, hi, ok := strings.Cut(r, "-")
				l, err1 := strconv.Atoi(lo)
				h, err2 := strconv.Atoi(hi)
				if !ok || err1 != nil || err2 != nil {
					panic(fmt.Sprintf("%v: range tag %q is not lo-hi", p, r))
				}
				if f.Type.Kind() == reflect.Map {
					p = append(p, mapProbeKey[name])
				}
				*out = append(*out, rangeProbe{path: p, lo: l, hi: h})
				continue
			}
			rangeProbes(f.Type, p, out)
		}
	case reflect.Slice:
		rangeProbes(t.Elem(), append(append([]string{}, path...), "[0]"), out)
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct {
			rangeProbes(t.Elem(), append(append([]string{}, path...), mapProbeKey[path[len(path)-1]]), out)
		}
	}
}

// setAt sets the number at path inside v (addressable).
func setAt(v reflect.Value, path []string, x int) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem())) // an optional number left out
		}
		v = v.Elem()
	}
	if len(path) == 0 {
		if v.Kind() == reflect.Float64 {
			v.SetFloat(float64(x))
		} else {
			v.SetInt(int64(x))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ","); name == path[0] {
				setAt(v.Field(i), path[1:], x)
				return
			}
		}
	case reflect.Slice:
		i, _ := strconv.Atoi(strings.Trim(path[0], "[]"))
		setAt(v.Index(i), path[1:], x)
		return
	case reflect.Map:
		k := reflect.ValueOf(path[0])
		elem := reflect.New(v.Type().Elem()).Elem()
		if cur := v.MapIndex(k); cur.IsValid() {
			elem.Set(cur)
		}
		setAt(elem, path[1:], x)
		v.SetMapIndex(k, elem)
		return
	}
	panic(fmt.Sprintf("no field %s in %s", path[0], v.Type()))
}

// prodConfig is the committed prod stack decoded and defaulted as Load
// does, with strong secrets and a resources entry to probe.
func prodConfig(t *testing.T, s *stackfile.Stack) (*Config, map[string]string) {
	c := &Config{Environment: "prod"}
	for key, target := range objectKeys(c) {
		if raw, ok := s.Config[Namespace+":"+key]; ok {
			require.NoError(t, decodeStrict(raw, target), key)
		}
	}
	applyDefaults(c)
	c.Resources = ResourceOverrides{Postgres: DefaultResources[Postgres]}
	raw := map[string]string{}
	for _, k := range RequiredSecrets {
		raw[k] = "a-strong-" + k + "-value"
	}
	return c, raw
}

// The reference's ranges (range tags) are the ones validation enforces:
// one step outside is refused on the key (or the object holding it), the
// bounds themselves are accepted.
func TestDocumentedRangesAreTheValidatedOnes(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	s, err := stackfile.Load(filepath.Dir(filepath.Dir(file)), "prod")
	require.NoError(t, err)
	base, raw := prodConfig(t, s)
	require.Empty(t, Validate(base, raw), "the prod stack is valid to begin with")

	// Bounds that depend on another key, which the doc tag says: the bound
	// itself is only valid with a matching other value.
	related := map[string]bool{
		"pki.validityHours lo":                      true, // above earlyRenewalHours
		"pki.earlyRenewalHours hi":                  true, // below validityHours
		"postgres.maxConnections lo":                true, // holds the pooler's server pool
		"app.datasourceMaxSize hi":                  true, // raises what pooler.maxClientConn must hold
		"pooler.maxClientConn lo":                   true, // holds every replica's pool
		"pooler.defaultPoolSize hi":                 true, // fits postgres.maxConnections
		"pooler.reservePoolSize hi":                 true,
		"release.blue.weight lo":                    true, // the weights sum to 100
		"release.green.weight hi":                   true,
		"release.blue.scale lo":                     true, // blue has weight 100: it needs replicas
		"tiers.validator.imageGroups hi":            true, // at most the tier's groups, with its image set
		"tiers.business.imageGroups hi":             true,
		"tiers.slim.imageGroups hi":                 true,
		"resources.postgres.cpus lo":                true, // a limit of 0 is no limit: refused
		"resources.postgres.cpusReservation hi":     true, // at most cpus
		"resources.postgres.memoryReservationMb hi": true, // at most memoryMb
	}
	var probes []rangeProbe
	rangeProbes(reflect.TypeOf(Config{}), nil, &probes)
	require.Greater(t, len(probes), 40)
	for _, p := range probes {
		key := p.key()
		for _, c := range []struct {
			bound string
			v     int
			valid bool
		}{{"lo", p.lo, true}, {"hi", p.hi, true}, {"lo", p.lo - 1, false}, {"hi", p.hi + 1, false}} {
			cfg, raw := prodConfig(t, s)
			setAt(reflect.ValueOf(cfg).Elem(), p.path, c.v)
			refused := refusedOn(Validate(cfg, raw), key)
			if c.valid {
				if !related[key+" "+c.bound] {
					assert.False(t, refused, "%s = %d is inside the documented range %d-%d, but validation refuses it", key, c.v, p.lo, p.hi)
				}
			} else {
				assert.True(t, refused, "%s = %d is outside the documented range %d-%d, but validation accepts it", key, c.v, p.lo, p.hi)
			}
		}
	}
}

// refusedOn: a problem names key or an object holding it.
func refusedOn(ps Problems, key string) bool {
	for _, p := range ps {
		if p.Key == key || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[") {
			return true
		}
	}
	return false
}
