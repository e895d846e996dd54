package hostcmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/shell"
)

func TestAStepThatOwnsNothingRunsUnchangedAndHasNoDelete(t *testing.T) {
	create, remove, err := Scripts("dirs", "mkdir -p /srv/x", []string{"a"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "mkdir -p /srv/x", create)
	assert.Empty(t, remove)
}

func TestTheStampChangesExactlyWhenTheEngineReplacesTheStep(t *testing.T) {
	assert.Equal(t, Stamp("timers", []string{"a"}), Stamp("timers", []string{"a"}), "deterministic")
	assert.NotEqual(t, Stamp("timers", []string{"a"}), Stamp("timers", []string{"b"}), "new triggers: a replacement")
	assert.NotEqual(t, Stamp("timers", []string{"a"}), Stamp("timers-2", []string{"a"}), "a renamed step is another owner")
	assert.NotEqual(t, Stamp("t", []string{"ab"}), Stamp("t", []string{"a", "b"}), "triggers are framed")
}

func TestScriptsRefuseWhatTheyCannotOwnSafely(t *testing.T) {
	for _, o := range []*Owned{
		{Items: nil, Remove: `rm -f "$1"`},
		{Items: []string{"/srv/a"}, Remove: " "},
		{Items: []string{"/srv/a b"}, Remove: `rm -f "$1"`},
		{Items: []string{"/srv/$(reboot)"}, Remove: `rm -f "$1"`},
		{Items: []string{"/srv/../etc/passwd"}, Remove: `rm -f "$1"`},
		{Items: []string{"/srv/a"}, Remove: `rm -f "$1"`, Dir: "relative"},
	} {
		_, _, err := Scripts("s", "true", nil, o)
		assert.Error(t, err, "%+v", o)
	}
	_, _, err := Scripts("s", " \n", nil, nil)
	assert.Error(t, err, "nothing to run")
}

// fileStep is a step writing content to both files, as a version with the
// given triggers would.
func fileStep(t *testing.T, name, content string, triggers []string, dir string, files []string) (create, remove string) {
	run := ""
	for _, f := range files {
		run += "printf '%s' " + shell.Quote(content) + " > " + shell.Quote(f) + "\n"
	}
	create, remove, err := Scripts(name, run, triggers, &Owned{Items: files, Remove: `$SUDO rm -f "$1"`, After: "echo removals done", Dir: dir})
	require.NoError(t, err)
	return create, remove
}

func bash(t *testing.T, script string) string {
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, out)
	return string(out)
}

func TestCreateNewThenDeleteOldKeepsTheNewVersion(t *testing.T) {
	root := t.TempDir()
	records := filepath.Join(root, "owners")
	files := []string{filepath.Join(root, "a.conf"), filepath.Join(root, "b.conf")}
	createV1, deleteV1 := fileStep(t, "conf", "v1", []string{"1"}, records, files)
	createV2, deleteV2 := fileStep(t, "conf", "v2", []string{"2"}, records, files)

	bash(t, createV1)
	// The engine's replacement: the new version's create, then the old delete.
	bash(t, createV2)
	out := bash(t, deleteV1)
	assert.Contains(t, out, "a newer version of conf owns it")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err, "the old delete removed the new version's file")
		assert.Equal(t, "v2", string(b))
	}
	// Deleting the current version (the step leaves the host) removes its files and records.
	bash(t, deleteV2)
	for _, f := range files {
		assert.NoFileExists(t, f)
	}
	left, err := os.ReadDir(records)
	require.NoError(t, err)
	assert.Empty(t, left, "no record outlives its item")
}

func TestADeleteRemovesOnlyTheItemsItStillOwns(t *testing.T) {
	root := t.TempDir()
	records := filepath.Join(root, "owners")
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	createV1, deleteV1 := fileStep(t, "s", "v1", []string{"1"}, records, []string{a, b})
	createV2, _ := fileStep(t, "s", "v2", []string{"2"}, records, []string{a})
	bash(t, createV1)
	bash(t, createV2)
	bash(t, deleteV1)
	assert.FileExists(t, a, "a is the new version's")
	assert.NoFileExists(t, b, "b is still the old version's alone: it goes")
}

func TestAFailedRunRecordsNothing(t *testing.T) {
	root := t.TempDir()
	records := filepath.Join(root, "owners")
	f := filepath.Join(root, "a")
	create, _, err := Scripts("s", "false", []string{"1"}, &Owned{Items: []string{f}, Remove: `rm -f "$1"`, Dir: records})
	require.NoError(t, err)
	out, err := exec.Command("bash", "-c", create).CombinedOutput()
	assert.Error(t, err, string(out))
	assert.NoDirExists(t, records, "a version that failed owns nothing")
	assert.True(t, strings.HasPrefix(create, "set -eu\n"))
}
