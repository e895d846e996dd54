package configdoc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/internal/zones"
	"github.com/aurigraph/infra/stacks"
)

const repoRoot = "../.."

// docs/configuration.md and Pulumi.yaml's descriptions are what the typed
// config generates now.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	stale, err := Stale(repoRoot)
	require.NoError(t, err)
	assert.Empty(t, stale, "generated from the config struct's tags and out of date: run `make docs` and commit the result")
}

// A changed description, or a changed doc tag (simulated by an edited
// reference), is reported stale.
func TestStaleFilesAreReported(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{ProjectFile, DocFile, ValidateFile, zones.DocFile} {
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	stale, err := Stale(dir)
	require.NoError(t, err)
	require.Empty(t, stale)

	project, err := os.ReadFile(filepath.Join(dir, ProjectFile))
	require.NoError(t, err)
	edited := strings.Replace(string(project), "SSH settings shared by every host.", "SSH settings.", 1)
	require.NotEqual(t, string(project), edited)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ProjectFile), []byte(edited), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, DocFile), []byte("# old\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, zones.DocFile), []byte("# old\n"), 0o644))
	stale, err = Stale(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{ProjectFile, DocFile, zones.DocFile}, stale) // sorted: upper case first
}

// Every key the program reads, and every field inside the object keys, has
// a row with a description in docs/configuration.md.
func TestEveryKeyAndFieldIsDocumented(t *testing.T) {
	keys, err := Reference(repoRoot)
	require.NoError(t, err)
	doc := string(Markdown(keys))
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
		assert.Contains(t, doc, "\n## "+k.Name+"\n")
		assert.NotEmpty(t, k.Doc, k.Name)
		var rows []Key
		flatten(k.Fields, &rows)
		for _, f := range rows {
			assert.NotEmpty(t, f.Doc, f.Path)
			assert.NotEmpty(t, f.Type, f.Path)
			assert.Contains(t, doc, "| `"+f.Path+"` | "+f.Type+" |", f.Path)
		}
	}
	assert.ElementsMatch(t, stacks.ConfigKeys(), names)

	// Every json field of the config types appears, e.g. deep ones.
	for _, path := range []string{"hosts[].capacity.diskGb", "ssh.jumpHost.hostKey", "tiers.slim.groups",
		"release.green.weight", "retention.backups.monthly", "edge.monitoringHostnames", "pki.caValidityHours",
		"alerting.email.smarthost", "alerting.opsgenie.apiUrl", "selfHealing.unhealthyChecks",
		"time.maxOffsetMs", "updates.rebootTime", "resources.<key>.memoryReservationMb"} {
		assert.Contains(t, doc, "| `"+path+"` |")
	}
}

// Defaults in the reference are the ones the program applies: those of an
// empty configuration after the real defaulting, never a second copy.
func TestDefaultsAreTheProgramsOwn(t *testing.T) {
	keys, err := Reference(repoRoot)
	require.NoError(t, err)
	sample := stacks.DocSample()
	byPath := map[string]Key{}
	for _, k := range keys {
		var rows []Key
		flatten(k.Fields, &rows)
		for _, f := range rows {
			byPath[f.Path] = f
		}
	}
	assert.Equal(t, "22", byPath["hosts[].sshPort"].Default)
	assert.Equal(t, "22", byPath["ssh.jumpHost.port"].Default)
	assert.Equal(t, sample.Network.Subnet, byPath["network.subnet"].Default)
	assert.Equal(t, sample.Updates.RebootTime, byPath["updates.rebootTime"].Default)
	assert.Equal(t, sample.Alerting.GroupWait, byPath["alerting.groupWait"].Default)
	assert.Equal(t, "{default: 3}", byPath["selfHealing.unhealthyChecks"].Default)
	assert.Equal(t, "", byPath["hosts[].name"].Default, "a required field has no default")
	assert.Equal(t, "the host's address", byPath["hosts[].privateAddress"].DefaultNote)
}

type goodDoc struct {
	Port  int    `json:"port" doc:"A port." range:"1-65535" check:"validateSSH"`
	Label string `json:"label" doc:"A label." default:"the name"`
}

type missingDoc struct {
	Port int `json:"port"`
}

type unknownCheck struct {
	Port int `json:"port" doc:"A port." check:"validateNothing"`
}

type typedDefault struct {
	Port int `json:"port" doc:"A port." default:"22"`
}

// The generator refuses a field without a doc tag, a check that
// stacks/validate.go does not define, and a default typed in a tag where
// the code applies one.
func TestReferenceRefusesIncompleteTags(t *testing.T) {
	checks, err := funcNames(filepath.Join(repoRoot, ValidateFile))
	require.NoError(t, err)
	require.True(t, checks["validateSSH"])
	doc := func(v any) ([]Key, []string) {
		b := &builder{checks: checks}
		rv := reflect.ValueOf(v)
		return b.fields(rv.Type(), rv, ""), b.errs
	}
	keys, errs := doc(goodDoc{Port: 22})
	assert.Empty(t, errs)
	require.Len(t, keys, 2)
	assert.Equal(t, Key{Path: "port", Name: "port", Type: "integer", Default: "22", Allowed: "1 to 65535", Check: "validateSSH", Doc: "A port."}, keys[0])
	assert.Equal(t, "the name", keys[1].DefaultNote)

	_, errs = doc(missingDoc{})
	assert.Equal(t, []string{"port (field Port): add a doc tag"}, errs)
	_, errs = doc(unknownCheck{})
	assert.Equal(t, []string{"port: check tag names validateNothing, which stacks/validate.go does not define"}, errs)
	_, errs = doc(typedDefault{Port: 22})
	assert.Equal(t, []string{"port: the code defaults it to 22: remove the default tag"}, errs)
}

// Only description lines change: types, secret flags and defaults of
// Pulumi.yaml are exactly what they were.
func TestSetDescriptionsChangesOnlyDescriptions(t *testing.T) {
	in := "name: p\nconfig:\n  p:a:\n    type: string\n    secret: true\n    description: \"old\"\n  p:b:\n    type: object\n    default: {}\n    description: \"old b\"\n"
	out, err := SetDescriptions([]byte(in), map[string]string{"p:a": `new "quoted" → text`})
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(in, `description: "old"`, `description: "new \"quoted\" → text"`, 1), string(out))

	_, err = SetDescriptions([]byte(in), map[string]string{"p:c": "x"})
	assert.ErrorContains(t, err, "p:c")

	// On the real file: loaded by the CLI's loader, every key keeps its
	// type, secret flag and default.
	keys, err := Reference(repoRoot)
	require.NoError(t, err)
	project, err := os.ReadFile(filepath.Join(repoRoot, ProjectFile))
	require.NoError(t, err)
	descriptions := map[string]string{}
	for _, k := range keys {
		descriptions[stacks.Namespace+":"+k.Name] = "Changed: " + k.Name
	}
	changed, err := SetDescriptions(project, descriptions)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ProjectFile), changed, 0o644))
	before, err := stackfile.LoadProject(repoRoot)
	require.NoError(t, err)
	after, err := stackfile.LoadProject(dir)
	require.NoError(t, err)
	require.Len(t, after.Config, len(before.Config))
	for key, b := range before.Config {
		a := after.Config[key]
		assert.Equal(t, "Changed: "+strings.TrimPrefix(key, stacks.Namespace+":"), a.Description)
		a.Description, b.Description = "", ""
		assert.Equal(t, b, a, key)
	}
}
