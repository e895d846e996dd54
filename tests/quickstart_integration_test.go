//go:build integration

package tests

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// quickStartPackages is what the quick start's `make test` is restricted to
// in the clone: the one package whose unit and integration tests take
// seconds. The outer `make test` that runs this test already runs the whole
// suite on the same commit; running it again in the clone would double its
// duration and prove nothing more. What only a clean clone can show is
// proven by the restricted run: the dependency check and install step (which
// prints the programs and versions), lint and both test targets start from
// nothing but the committed files.
const quickStartPackages = "./components/pki/"

// quickStart reads the commands of the README's quick start: the lines of
// the first ```sh block after "## Quick start", comments removed.
func quickStart(t *testing.T, readme string) []string {
	t.Helper()
	f, err := os.Open(readme)
	require.NoError(t, err)
	defer f.Close()
	var cmds []string
	section, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			if section && len(cmds) > 0 {
				return cmds
			}
			section = strings.HasPrefix(line, "## Quick start")
		case section && !block && line == "```sh":
			block = true
		case section && block && line == "```":
			return cmds
		case section && block:
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimSpace(line); line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

// cleanClone clones the commit checked out in root (HEAD: what a newcomer
// would clone; uncommitted changes are not in it) into an empty directory.
// The directory's path is the same on every run from root: Go's build cache
// keys compiled packages by their directory, so a path of its own each time
// would recompile the whole program on every run (measured: `make plan` 73 s
// in a new path, against 9 s in a known one). It is emptied before and after.
func cleanClone(t *testing.T, root string) string {
	t.Helper()
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "aurigraph-quickstart-"+hex.EncodeToString(sum[:6]))
	require.NoError(t, os.RemoveAll(dir))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, args := range [][]string{
		{"clone", "-q", "--no-checkout", "--shared", root, dir},
		{"-C", dir, "checkout", "-q", strings.TrimSpace(string(head))},
	} {
		out, err := exec.Command("git", args...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	t.Logf("clean clone of %s in %s", strings.TrimSpace(string(head)), dir)
	return dir
}

// newcomerEnv is this environment without what an enclosing make passes down
// (its flags, its level, the Makefile's variables): a newcomer's shell has none.
func newcomerEnv() []string {
	drop := map[string]bool{"MAKEFLAGS": true, "MFLAGS": true, "MAKELEVEL": true, "MAKEOVERRIDES": true,
		"MAKE_TERMOUT": true, "MAKE_TERMERR": true, "STACK": true, "FORMAT": true, "BASE": true, "GO": true, "PKGS": true}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// TestIntegrationQuickStart runs the README's quick start, read from the
// README so the two cannot disagree, in a clean clone of HEAD: exactly two
// commands, both succeed. `make plan STACK=prod` runs as written;
// `make test` runs restricted to quickStartPackages (see there why).
func TestIntegrationQuickStart(t *testing.T) {
	root := harness.RepoRoot(t)
	dir := cleanClone(t, root)
	cmds := quickStart(t, filepath.Join(dir, "README.md"))
	require.Len(t, cmds, 2, "the README's quick start is two commands: %q", cmds)

	ran := map[string]string{}
	for _, c := range cmds {
		fields := strings.Fields(c)
		require.True(t, len(fields) >= 2 && fields[0] == "make", "quick start command %q: every entry point is a make target", c)
		line := c
		if fields[1] == "test" {
			line += " PKGS=" + quickStartPackages
		}
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir, cmd.Env = dir, newcomerEnv()
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s   (%s)\n%s", line, time.Since(start).Round(time.Second), out)
		require.NoError(t, err, "%s in a clean clone failed", line)
		ran[fields[1]] = string(out)
	}

	require.Contains(t, ran, "plan", "the quick start shows a plan")
	// The hosts of the clone's stack file, read without running the program.
	s, err := stackfile.Load(dir, "prod")
	require.NoError(t, err)
	var hosts []stacks.Host
	require.NoError(t, json.Unmarshal([]byte(s.Config[stacks.Namespace+":hosts"]), &hosts))
	require.NotEmpty(t, hosts)
	assert.True(t, strings.HasPrefix(ran["plan"], "Plan for stack prod "), "the plan's header first")
	for _, h := range hosts {
		assert.Regexp(t, `(?m)^`+h.Name+` `, ran["plan"], "the plan shows host %s", h.Name)
	}

	require.Contains(t, ran, "test", "the quick start runs the tests")
	out := ran["test"]
	assert.Contains(t, out, "real programs the tests use", "make test says first which programs it found")
	assert.Less(t, strings.Index(out, "real programs the tests use"), strings.Index(out, "go vet"), "the check comes before lint")
	assert.Regexp(t, `(?m)^  docker +\d+\.\d+`, out)
	assert.Contains(t, out, "go vet -tags integration "+quickStartPackages, "lint ran")
	pkg := "github.com/aurigraph/infra/" + strings.Trim(quickStartPackages, "./")
	assert.Equal(t, 2, strings.Count(out, "ok  \t"+pkg), "unit and integration tests of %s ran and passed", pkg)
}
