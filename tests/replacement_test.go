package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// Every remote step of both stacks, in a normal run and a first preview,
// against the engine's replacement order (create the new step, then delete
// the old one) and its logs.

func TestEveryRemoteStepIsSafeToReplaceOnALiveHost(t *testing.T) {
	for _, stack := range engineStacks {
		for _, preview := range []bool{false, true} {
			name := stack
			if preview {
				name += "/preview"
			}
			t.Run(name, func(t *testing.T) {
				s := harness.Stack(t, stack)
				res := harness.Run(t, s)
				if preview {
					res = harness.Preview(t, s)
				}
				var owned, leaves int
				for _, r := range res.OfType("command:remote:Command") {
					if harness.Str(r.Inputs, "delete") == "" {
						leaves++ // its delete leaves the host as it is: nothing to undo
						continue
					}
					owned++
					assertDeleteKeepsANewerVersion(t, r)
				}
				t.Logf("%d steps leave their work in place, %d remove only what they still own", leaves, owned)
				assert.Positive(t, owned, "the walk reached steps with a delete")
			})
		}
	}
}

var (
	stampLine   = regexp.MustCompile(`(?m)^# owned RECORD ITEM: the record still names this version \(stamp ([0-9a-f]{16})\)\.$`)
	recordLines = regexp.MustCompile(`(?m)^printf '%s %s\\n' ([0-9a-f]{16}) '([^']+)' \| \$SUDO tee '([^']+)' > /dev/null$`)
)

// assertDeleteKeepsANewerVersion runs r's delete for real, with every
// command that could change the machine replaced by a recorder: once after
// a newer version recorded the items (the engine's replacement) and once
// with r's own records (the step leaves the host).
func assertDeleteKeepsANewerVersion(t *testing.T, r mockrun.Resource) {
	t.Helper()
	create, remove := harness.Str(r.Inputs, "create"), harness.Str(r.Inputs, "delete")
	if !assert.NotEmpty(t, create, r.URN) {
		return
	}
	m := stampLine.FindStringSubmatch(remove)
	if !assert.NotNil(t, m, "%s: a delete that removes what create installed must check what it owns", r.URN) {
		return
	}
	var triggers []string
	for _, v := range harness.Elements(r.Inputs["triggers"]) {
		triggers = append(triggers, harness.Plain(v).StringValue())
	}
	stamp := m[1]
	assert.Equal(t, hostcmd.Stamp(r.Name, triggers), stamp, "%s: the stamp changes with the triggers, so a replacement writes another", r.URN)
	records := recordLines.FindAllStringSubmatch(create, -1)
	require.NotEmpty(t, records, "%s: create records what it owns", r.URN)

	for _, newer := range []bool{true, false} {
		dir, calls := t.TempDir(), filepath.Join(t.TempDir(), "calls")
		bin := recorders(t, calls)
		script := strings.ReplaceAll(remove, hostcmd.RecordsDir, dir)
		var items []string
		for _, rec := range records {
			require.Equal(t, stamp, rec[1], "%s: create records its own stamp", r.URN)
			owner := stamp
			if newer {
				owner = hostcmd.Stamp(r.Name, append(triggers, "a newer version"))
			}
			path := strings.ReplaceAll(rec[3], hostcmd.RecordsDir, dir)
			require.NoError(t, os.WriteFile(path, []byte(owner+" "+rec[2]+"\n"), 0o644))
			items = append(items, rec[2])
		}
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", r.URN, out)
		got, _ := os.ReadFile(calls)
		for _, it := range items {
			if newer {
				assert.NotContains(t, string(got), it, "%s: the old delete touched %s, which the new version owns", r.URN, it)
			} else {
				assert.Contains(t, string(got), it, "%s: deleting the step removes %s", r.URN, it)
			}
		}
	}
}

// recorders puts id (a non-root user, so every privileged call goes through
// sudo), sudo (runs only cat, records the rest) and the commands a removal
// uses on a PATH; each records its argv to calls.
func recorders(t *testing.T, calls string) string {
	bin := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	record := `printf '%s\n' "$0 $*" >> ` + calls
	write("id", "echo 1000")
	write("sudo", `[ "$1" = -n ] && shift
if [ "$1" = cat ]; then exec "$@"; fi
`+record)
	for _, c := range []string{"rm", "systemctl", "docker", "mv", "install", "tee"} {
		write(c, record)
	}
	return bin
}

// No secret value is in any step's command text or triggers, and a step
// whose stdin or output carries a secret logs nothing.
func TestNoSecretOnACommandLineOrInALog(t *testing.T) {
	for _, stack := range engineStacks {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			secrets := secretValues(res)
			require.NotEmpty(t, secrets)
			var quiet int
			for _, r := range res.OfType("command:remote:Command") {
				for _, key := range []string{"create", "update", "delete"} {
					text := harness.Str(r.Inputs, key)
					for _, s := range secrets {
						assert.NotContains(t, text, s, "%s: a secret in %s", r.URN, key)
					}
				}
				for _, trig := range harness.PlainStrings(r.Inputs["triggers"]) {
					for _, s := range secrets {
						assert.NotContains(t, trig, s, "%s: a secret in triggers", r.URN)
					}
				}
				stdinSecret := resource.NewProperty(r.Inputs).ContainsSecrets() && r.Inputs["stdin"].ContainsSecrets()
				outSecret := contains(r.AdditionalSecretOutputs, "stdout")
				if stdinSecret || outSecret {
					quiet++
					assert.Equal(t, "none", harness.Str(r.Inputs, "logging"), "%s handles a secret: its output must not be logged", r.URN)
				}
			}
			assert.Positive(t, quiet, "the walk reached steps that handle secrets")
		})
	}
}

// secretValues are the plaintexts of every secret input of the run that is
// long enough to be recognisable.
func secretValues(res *mockrun.Result) []string {
	seen := map[string]bool{}
	var walk func(v resource.PropertyValue, secret bool)
	walk = func(v resource.PropertyValue, secret bool) {
		switch {
		case v.IsSecret():
			walk(v.SecretValue().Element, true)
		case v.IsOutput():
			walk(v.OutputValue().Element, secret || v.OutputValue().Secret)
		case v.IsString():
			if secret && len(v.StringValue()) >= 8 {
				seen[v.StringValue()] = true
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(e, secret)
			}
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				walk(e, secret)
			}
		}
	}
	for _, r := range res.Resources {
		walk(resource.NewObjectProperty(r.Inputs), false)
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Every remote step goes through hostcmd, the one place that knows the
// engine's replacement order and the rules for secrets.
func TestRemoteStepsAreMadeOnlyByHostcmd(t *testing.T) {
	root := harness.RepoRoot(t)
	var offenders []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "hostcmd") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "remote.NewCommand(") {
			offenders = append(offenders, strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, offenders, "use hostcmd.New")
}
