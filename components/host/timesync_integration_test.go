//go:build integration

package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/shell"
)

// trackingCSV is `chronyc -c tracking` as chrony 4.3 prints it (captured
// from a real chronyd), with the System time and leap status replaced.
func trackingCSV(systemTime, leap string) string {
	return "AC140003,172.20.0.3,9,1796527329.650048053," + systemTime + ",-0.000011379,0.000011379,0.000,-2.231,1000000.000,0.000049823,1.406139612,0.0," + leap
}

// fakeChronyc puts a `chronyc` on PATH that answers `-c tracking` with out,
// or fails like chronyc without a running chronyd when out is "".
func fakeChronyc(t *testing.T, out string) string {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$*\" = \"-c tracking\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\n"
	if out == "" {
		script += "echo '506 Cannot talk to daemon' >&2\nexit 1\n"
	} else {
		script += "echo " + shell.Quote(out) + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(bin, "chronyc"), []byte(script), 0o755))
	return bin
}

// The preflight script's clock decision, run by bash with a stubbed chronyc
// (a real chronyd cannot be made to report a large offset here: containers
// may not set the clock, and chronyd -x corrects its own estimate within
// seconds). The real chronyc's output is parsed in
// TestIntegrationTimeSyncOnRealHosts.
func TestIntegrationPreflightClockDecision(t *testing.T) {
	t.Parallel()
	a := sampleArgs()
	a.Name, a.DataPath, a.MaxClockOffsetMs = "clock-01", t.TempDir(), 100
	a.Thresholds = Thresholds{MinCPUs: 1, MinMemoryGB: 1, MinDiskGB: 1}
	v := NewPreflightValues(a)
	pre, err := RenderPreflight(v)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, tracking, clock, refusal string
	}{
		{"250 ms slow", trackingCSV("0.250000000", "Normal"), "clock_offset=250ms", "host clock-01 refused: clock off by 250 ms (chrony), at most 100 ms allowed"},
		{"180 ms fast", trackingCSV("-0.180000000", "Normal"), "clock_offset=180ms", "host clock-01 refused: clock off by 180 ms (chrony), at most 100 ms allowed"},
		{"at the bound", trackingCSV("-0.100400000", "Normal"), "clock_offset=100ms", ""},
		{"40 ms", trackingCSV("0.040400000", "Normal"), "clock_offset=40ms", ""},
		{"unsynchronised", trackingCSV("3.000000000", "Not synchronised"), "clock_offset=unsynchronised", ""},
		{"no chronyd", "", "clock_offset=no-chronyd", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := scripttest.RunBash(t, pre, fakeChronyc(t, tc.tracking))
			assert.Contains(t, stdout, " "+tc.clock+"\n")
			if tc.refusal == "" {
				assert.NoError(t, err)
				assert.Empty(t, stderr)
			} else {
				assert.Error(t, err)
				assert.Equal(t, tc.refusal+"\n", stderr, "one line, the refusal")
			}
			if strings.HasSuffix(tc.clock, "ms") {
				assert.NotContains(t, stdout, "not measured")
			} else {
				assert.Contains(t, stdout, "warning: host clock-01: clock offset not measured")
			}
		})
	}
	// Go's Refusal says the same as the script.
	assert.Equal(t, "host clock-01 refused: clock off by 250 ms (chrony), at most 100 ms allowed",
		Refusal(v, Figures{CPUs: 1, MemoryGB: 1, DiskFreeGB: 1, OS: "debian", Kernel: "6.1.0", ClockOffsetMs: 250}))
}

func TestIntegrationClockMetricsScript(t *testing.T) {
	t.Parallel()
	shellcheck, promtool := need(t, "shellcheck"), need(t, "promtool")
	dir := t.TempDir()
	script := filepath.Join(dir, "clock-metrics")
	require.NoError(t, os.WriteFile(script, []byte(ClockMetricsScript), 0o755))
	out, err := exec.Command(shellcheck, "-s", "bash", script).CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)

	for _, tc := range []struct {
		name, tracking, want string
	}{
		{"slow", trackingCSV("0.000011379", "Normal"), "aurigraph_clock_synchronised 1\n# HELP aurigraph_clock_offset_seconds The host clock minus NTP time as chronyd estimates it (positive: ahead).\n# TYPE aurigraph_clock_offset_seconds gauge\naurigraph_clock_offset_seconds -0.000011379\n"},
		{"fast", trackingCSV("-0.250000000", "Normal"), "aurigraph_clock_offset_seconds 0.250000000\n"},
		{"unsynchronised", trackingCSV("0.5", "Not synchronised"), "aurigraph_clock_synchronised 0\n"},
		{"no chronyd", "", "aurigraph_clock_synchronised 0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			textfile := t.TempDir()
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "TEXTFILE_DIR="+textfile, "CHRONYC="+filepath.Join(fakeChronyc(t, tc.tracking), "chronyc"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			entries, err := os.ReadDir(textfile)
			require.NoError(t, err)
			require.Len(t, entries, 1, "only the .prom file, no temporary file left")
			prom := filepath.Join(textfile, "aurigraph-clock.prom")
			b, err := os.ReadFile(prom)
			require.NoError(t, err)
			assert.Contains(t, string(b), tc.want)
			if strings.HasSuffix(tc.want, "_synchronised 0\n") {
				assert.NotContains(t, string(b), "aurigraph_clock_offset_seconds", "no offset without a synchronised chronyd")
			}
			fi, err := os.Stat(prom)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node exporter reads it")
			check := exec.Command(promtool, "check", "metrics")
			check.Stdin = strings.NewReader(string(b))
			out, err = check.CombinedOutput()
			assert.NoError(t, err, "promtool check metrics:\n%s", out)
		})
	}
}
