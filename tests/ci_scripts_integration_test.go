//go:build integration

package tests

// The CI scripts of the delivery pipeline, run with bash: .ci/stack-urls
// against a `pulumi` that answers from the real stack config, and
// .ci/release-rollback's choice for each recorded release state, with a
// recording stand-in for .ci/release.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/tests/harness"
)

// flatten gives every scalar of a config value its `--path` key.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(prefix+"."+k, e, out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case string:
		out[prefix] = x
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// fakePulumi puts a `pulumi` on PATH whose `config get --path KEY` answers
// from the stack's real config, and fails as the CLI does for a missing key.
func fakePulumi(t *testing.T, stack string) string {
	t.Helper()
	s := harness.Stack(t, stack)
	values := map[string]string{}
	for k, raw := range s.Config {
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			v = raw
		}
		flatten(k, v, values)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var table strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&table, "%s\t%s\n", k, values[k])
	}
	bin := t.TempDir()
	tableFile := filepath.Join(bin, "config.tsv")
	require.NoError(t, os.WriteFile(tableFile, []byte(table.String()), 0o644))
	script := `#!/usr/bin/env bash
[ "$1 $2" = "config get" ] || { echo "fake pulumi: only config get" >&2; exit 2; }
key=${!#}
awk -F '\t' -v k="$key" '$1 == k { print $2; found = 1 } END { exit !found }' ` + shell.Quote(tableFile) + ` ||
  { echo "error: configuration key '$key' not found for stack" >&2; exit 255; }
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi"), []byte(script), 0o755))
	return bin
}

func TestIntegrationStackURLsComeFromTheStackConfig(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			c := harness.Config(t, harness.Stack(t, stack))
			cmd := exec.Command("bash", ".ci/stack-urls", stack)
			cmd.Dir = harness.RepoRoot(t)
			cmd.Env = append(os.Environ(), "PATH="+fakePulumi(t, stack)+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			require.NoError(t, err)
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				k, v, ok := strings.Cut(l, "=")
				require.True(t, ok, l)
				got[k] = v
			}
			var slots []string
			if c.Release.Blue.Image != "" {
				slots = append(slots, release.Blue)
			}
			if c.Release.Green.Image != "" {
				slots = append(slots, release.Green)
			}
			assert.Equal(t, map[string]string{
				"API_HOST":        c.Edge.APIHostname,
				"SLOT_URL":        "https://" + c.Edge.APIHostname + "/_slot/{slot}",
				"PROMETHEUS_HOST": c.Edge.MonitoringHosts["prometheus"],
				"GRAFANA_HOST":    c.Edge.MonitoringHosts["grafana"],
				"KIBANA_HOST":     c.Edge.MonitoringHosts["kibana"],
				"SLOTS":           strings.Join(slots, ","),
			}, got)
			assert.NotEmpty(t, got["API_HOST"])
		})
	}
}

func TestIntegrationReleaseRollbackChoosesByTheRecordedState(t *testing.T) {
	root := harness.RepoRoot(t)
	plan, err := release.NewPlan(release.Current{Blue: release.SlotConfig{Image: "aurigraph/v11:11.4.2", Weight: 100}},
		release.Spec{Strategy: release.Canary, Image: "aurigraph/v11:11.5.0"})
	require.NoError(t, err)
	cases := []struct {
		status  string // "": no state file
		wantErr bool
		calls   string // what .ci/release was asked
	}{
		{status: release.StatusRunning, calls: "prod abort"},
		{status: release.StatusSucceeded, calls: "prod -image aurigraph/v11:11.4.2 blue-green"},
		{status: release.StatusRolledBack},
		{status: release.StatusAborted},
		{status: "", wantErr: true},
	}
	for _, tc := range cases {
		t.Run("status "+tc.status, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, ".ci"), 0o755))
			b, err := os.ReadFile(filepath.Join(root, ".ci", "release-rollback"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, ".ci", "release-rollback"), b, 0o755))
			calls := filepath.Join(dir, "calls")
			require.NoError(t, os.WriteFile(filepath.Join(dir, ".ci", "release"),
				[]byte("#!/usr/bin/env bash\necho \"$*\" >>"+shell.Quote(calls)+"\n"), 0o755))
			if tc.status != "" {
				now := time.Now()
				require.NoError(t, release.SaveState(filepath.Join(dir, ".release", "prod.json"),
					&release.State{Stack: "prod", Plan: plan, Status: tc.status, Reason: "why", Started: now, Updated: now}))
			}
			cmd := exec.Command("bash", ".ci/release-rollback", "prod")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if tc.wantErr {
				assert.Error(t, err, "%s", out)
			} else {
				assert.NoError(t, err, "%s", out)
			}
			got, _ := os.ReadFile(calls)
			assert.Equal(t, tc.calls, strings.TrimSpace(string(got)))
		})
	}
}
