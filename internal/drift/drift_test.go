package drift

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, name string) *Digest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	d, err := Parse(b)
	require.NoError(t, err)
	return d
}

// A refresh that read back a container changed by hand (docker update
// --restart=no --memory 16g) and found another one gone: both are drift;
// a container that only got a new IP address is not.
func TestRefreshDrift(t *testing.T) {
	diffs := Differences(load(t, "refresh-drift.json"), Refresh)
	require.Len(t, diffs, 3, "the stack, the unchanged command and the unchanged key are left out")

	app := diffs[0]
	assert.Equal(t, "aurigraph-v11-blue-1", app.Name)
	assert.Equal(t, "docker:index/container:Container", app.Type)
	assert.True(t, app.Drifted())
	assert.Equal(t, []Property{
		{Path: "memory", Old: "32768", New: "16384"},
		{Path: "restart", Old: `"unless-stopped"`, New: `"no"`},
	}, app.Properties, "outputs against outputs")
	assert.Equal(t, []string{"networkData[0].ipAddress"}, app.Computed, "the program sets no IP address")

	jaeger := diffs[1]
	assert.Equal(t, "jaeger", jaeger.Name)
	assert.False(t, jaeger.Drifted(), "only a computed value changed")

	grafana := diffs[2]
	assert.Equal(t, "grafana", grafana.Name)
	assert.Equal(t, "delete", grafana.Op)
	assert.True(t, grafana.Drifted())
}

// A preview of a program that changed since the last update: a host
// step's script, a container replaced for an environment variable (the
// secret one stays "[secret]"), a new step.
func TestPreviewDrift(t *testing.T) {
	diffs := Differences(load(t, "preview-drift.json"), Preview)
	require.Len(t, diffs, 3, "the replacement is reported once")

	step := diffs[0]
	assert.Equal(t, "prod-app-01-prepare-sysctl", step.Name)
	assert.Equal(t, []Property{{Path: "stdin", Old: `line 3: "vm.max_map_count = 262144"`, New: `line 3: "vm.max_map_count = 524288"`}},
		step.Properties, "a script shows its first differing line")

	redis := diffs[1]
	assert.Equal(t, "replace", redis.Op)
	assert.Equal(t, []string{"envs"}, redis.Replace)
	assert.Equal(t, []Property{{Path: "envs[0]", Old: `"REDIS_PORT=6379"`, New: `"REDIS_PORT=6380"`}}, redis.Properties,
		"inputs against inputs")

	created := diffs[2]
	assert.Equal(t, "create", created.Op)
	assert.Empty(t, created.Properties)
}

func TestCleanDigestsHaveNoDifferences(t *testing.T) {
	assert.Empty(t, Differences(load(t, "refresh-clean.json"), Refresh))
	assert.Empty(t, Differences(load(t, "preview-clean.json"), Preview))
}

func TestParseSkipsWhatPrecedesTheJSON(t *testing.T) {
	d, err := Parse([]byte("warning: A new version of Pulumi is available.\n{\"steps\": [{\"op\": \"same\", \"urn\": \"u\"}]}\n"))
	require.NoError(t, err)
	assert.Len(t, d.Steps, 1)
	_, err = Parse([]byte("error: could not load the backend\n"))
	assert.Error(t, err)
}

func TestLongValuesAreCutShort(t *testing.T) {
	long := strings.Repeat("x", 200)
	p := textDiff("image", long, true, long+"y", true)
	assert.True(t, strings.HasSuffix(p.Old, "…"))
	assert.Len(t, []rune(p.New), maxValue)
	p = textDiff("stdin", "a\nb", true, "a\nb\nc", true)
	assert.Equal(t, Property{Path: "stdin", Old: "line 3: (absent)", New: `line 3: "c"`}, p)
}

func TestLookupFollowsPropertyPaths(t *testing.T) {
	v := map[string]any{
		"healthcheck": map[string]any{"tests": []any{"CMD", "true"}},
		"labels":      map[string]any{"com.aurigraph.service": "redis"},
		"ulimits":     []any{map[string]any{"name": "nofile", "soft": 65536.0}},
	}
	for path, want := range map[string]any{
		"healthcheck.tests[1]":            "true",
		`labels["com.aurigraph.service"]`: "redis",
		"ulimits[0].soft":                 65536.0,
		`ulimits[0]["name"]`:              "nofile",
	} {
		got, ok := lookup(v, path)
		assert.True(t, ok, path)
		assert.Equal(t, want, got, path)
	}
	for _, path := range []string{"healthcheck.tests[2]", "labels.missing", "ulimits[x]", "ulimits[0"} {
		_, ok := lookup(v, path)
		assert.False(t, ok, path)
	}
}

// Without a detailed diff (older engines, some providers) the values are
// compared directly, under the keys the engine named.
func TestWithoutDetailedDiffTheValuesAreCompared(t *testing.T) {
	s := Step{Op: "update", URN: "urn:pulumi:prod::aurigraph::docker:index/container:Container::redis",
		OldState:    &State{Outputs: map[string]any{"logOpts": map[string]any{"max-size": "50m", "max-file": "5"}, "name": "redis"}},
		NewState:    &State{Outputs: map[string]any{"logOpts": map[string]any{"max-size": "10m", "max-file": "5"}, "name": "redis"}},
		DiffReasons: []string{"logOpts"}}
	assert.Equal(t, []Property{{Path: `logOpts["max-size"]`, Old: `"50m"`, New: `"10m"`}}, properties(s, Refresh))
}
