//go:build integration

package host

import (
	"github.com/aurigraph/infra/internal/shell"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeContainer is one running container of the fake Docker host.
type fakeContainer struct {
	id, name string
	layout   string // "systemd", "cgroupfs" or "" (no cgroup found)
	current  string // memory.current
	inactive string // inactive_file in memory.stat
	max      string // memory.max
	restarts string // RestartCount ("" is 0)
}

func containerID(n int) string { return strings.Repeat(strconv.Itoa(n), 64) }

// fakeDockerHost builds a cgroup v2 tree and a `docker` that answers
// `ps --quiet --no-trunc` and `inspect --format '{{.Id}} {{.Name}} {{.RestartCount}}' IDS`
// like the real one (inspect fails for an unknown id, after printing the rest).
func fakeDockerHost(t *testing.T, cs []fakeContainer) (cgroupRoot, bin string) {
	t.Helper()
	dir := t.TempDir()
	cgroupRoot, bin = filepath.Join(dir, "cgroup"), filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(cgroupRoot, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cgroupRoot, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644))
	var ids, table strings.Builder
	for _, c := range cs {
		ids.WriteString(c.id + "\n")
		restarts := c.restarts
		if restarts == "" {
			restarts = "0"
		}
		table.WriteString(c.id + " /" + c.name + " " + restarts + "\n")
		var d string
		switch c.layout {
		case "systemd":
			d = filepath.Join(cgroupRoot, "system.slice", "docker-"+c.id+".scope")
		case "cgroupfs":
			d = filepath.Join(cgroupRoot, "docker", c.id)
		default:
			continue
		}
		require.NoError(t, os.MkdirAll(d, 0o755))
		stat := "anon 4096\nfile 8192\nactive_anon 1\ninactive_anon 2\nactive_file 3\ninactive_file " + c.inactive + "\nunevictable 0\n"
		for name, content := range map[string]string{"memory.current": c.current, "memory.max": c.max, "memory.stat": stat} {
			require.NoError(t, os.WriteFile(filepath.Join(d, name), []byte(content+"\n"), 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ids"), []byte(ids.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "table"), []byte(table.String()), 0o644))
	docker := `#!/bin/sh
set -eu
dir=` + shell.Quote(dir) + `
case "$1" in
ps)
  [ "$*" = "ps --quiet --no-trunc" ] || { echo "unexpected: $*" >&2; exit 2; }
  [ ! -e "$dir/down" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
  cat "$dir/ids"
  ;;
inspect)
  [ "$2 $3" = "--format {{.Id}} {{.Name}} {{.RestartCount}}" ] || { echo "unexpected: $*" >&2; exit 2; }
  shift 3
  rc=0
  for id in "$@"; do
    grep "^$id " "$dir/table" || { echo "Error: No such object: $id" >&2; rc=1; }
  done
  exit $rc
  ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755))
	return cgroupRoot, bin
}

var sampleLineRE = regexp.MustCompile(`^([a-z_]+)\{name="([^"]+)"\} ([0-9]+)$`)

// parseTextfile reads the exposition format: every sample by metric and
// container name, and the HELP/TYPE lines seen.
func parseTextfile(t *testing.T, text string) (map[string]map[string]int64, []string) {
	t.Helper()
	samples := map[string]map[string]int64{}
	var meta []string
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, "# ") {
			f := strings.Fields(line)
			meta = append(meta, f[1]+" "+f[2])
			continue
		}
		m := sampleLineRE.FindStringSubmatch(line)
		require.NotNil(t, m, "sample line %q", line)
		v, err := strconv.ParseInt(m[3], 10, 64)
		require.NoError(t, err)
		if samples[m[1]] == nil {
			samples[m[1]] = map[string]int64{}
		}
		_, dup := samples[m[1]][m[2]]
		require.False(t, dup, "one sample per container: %q", line)
		samples[m[1]][m[2]] = v
	}
	return samples, meta
}

func TestIntegrationContainerMetricsScript(t *testing.T) {
	t.Parallel()
	shellcheck, promtool := need(t, "shellcheck"), need(t, "promtool")
	dir := t.TempDir()
	script := filepath.Join(dir, "container-metrics")
	require.NoError(t, os.WriteFile(script, []byte(ContainerMetricsScript), 0o755))
	out, err := exec.Command(shellcheck, "-s", "bash", script).CombinedOutput()
	assert.NoError(t, err, "%s", out)

	cs := []fakeContainer{
		{id: containerID(1), name: "postgres", layout: "systemd", current: "3221225472", inactive: "1073741824", max: "8589934592"},
		{id: containerID(2), name: "aurigraph-v11-blue-slim-1", layout: "cgroupfs", current: "1500000", inactive: "500000", max: "2000000", restarts: "7"},
		{id: containerID(3), name: "jaeger", layout: "systemd", current: "52428800", inactive: "0", max: "max"},
		{id: containerID(4), name: "grafana", layout: "systemd", current: "4000", inactive: "9000", max: "1048576"},
		{id: containerID(5), name: "starting", layout: "", restarts: "12"},
	}
	cgroupRoot, bin := fakeDockerHost(t, cs)
	textfiles := filepath.Join(dir, "node-exporter")
	runScript := func() (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "CGROUP_ROOT="+cgroupRoot, "TEXTFILE_DIR="+textfiles, "PATH="+bin+":"+os.Getenv("PATH"))
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	output, err := runScript()
	require.NoError(t, err, output)
	assert.Equal(t, "container-metrics: no cgroup for container starting ("+containerID(5)+")\n", output)

	prom := filepath.Join(textfiles, "aurigraph-containers.prom")
	text, err := os.ReadFile(prom)
	require.NoError(t, err)
	samples, meta := parseTextfile(t, string(text))
	assert.Equal(t, map[string]map[string]int64{
		"container_memory_working_set_bytes": {
			"postgres":                  2147483648, // 3 GiB - 1 GiB inactive_file
			"aurigraph-v11-blue-slim-1": 1000000,    // cgroupfs layout
			"jaeger":                    52428800,
			"grafana":                   0, // inactive_file above memory.current: floored
		},
		"container_spec_memory_limit_bytes": {
			"postgres":                  8589934592,
			"aurigraph-v11-blue-slim-1": 2000000,
			"jaeger":                    0, // "max": no limit
			"grafana":                   1048576,
		},
		// Every container Docker lists, with or without a cgroup: one
		// between two restarts of a loop has none at that moment.
		"aurigraph_container_restarts_total": {
			"postgres":                  0,
			"aurigraph-v11-blue-slim-1": 7,
			"jaeger":                    0,
			"grafana":                   0,
			"starting":                  12,
		},
	}, samples)
	assert.Equal(t, []string{
		"HELP container_memory_working_set_bytes", "TYPE container_memory_working_set_bytes",
		"HELP container_spec_memory_limit_bytes", "TYPE container_spec_memory_limit_bytes",
		"HELP " + ContainerRestartsMetric, "TYPE " + ContainerRestartsMetric,
	}, meta)
	assert.Contains(t, string(text), "# TYPE "+ContainerRestartsMetric+" counter\n")
	assert.Contains(t, string(text), "# TYPE container_memory_working_set_bytes gauge\n")
	fi, err := os.Stat(prom)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node exporter reads it as its own user")
	// Prometheus's own parser and linter accept the file.
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(string(text))
	b, err := check.CombinedOutput()
	assert.NoError(t, err, "%s", b)
	assert.Equal(t, []string{"aurigraph-containers.prom"}, dirNames(t, textfiles), "no temporary file left behind")

	// Deterministic: same host, same bytes.
	_, err = runScript()
	require.NoError(t, err)
	again, err := os.ReadFile(prom)
	require.NoError(t, err)
	assert.Equal(t, string(text), string(again))

	// A container gone between `ps` and `inspect` is left out, the rest stays.
	cgroupRoot2, bin2 := fakeDockerHost(t, append([]fakeContainer{}, cs[0], cs[1]))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(bin2), "table"), []byte(containerID(2)+" /"+cs[1].name+" 7\n"), 0o644))
	cgroupRoot, bin = cgroupRoot2, bin2
	_, err = runScript()
	require.NoError(t, err)
	text, err = os.ReadFile(prom)
	require.NoError(t, err)
	samples, _ = parseTextfile(t, string(text))
	assert.Equal(t, map[string]int64{"aurigraph-v11-blue-slim-1": 1000000}, samples["container_memory_working_set_bytes"])
	assert.Equal(t, map[string]int64{"aurigraph-v11-blue-slim-1": 7}, samples[ContainerRestartsMetric])

	// No container running: the file holds no samples (old ones vanish).
	cgroupRoot, bin = fakeDockerHost(t, nil)
	_, err = runScript()
	require.NoError(t, err)
	text, err = os.ReadFile(prom)
	require.NoError(t, err)
	samples, meta = parseTextfile(t, string(text))
	assert.Empty(t, samples)
	assert.Len(t, meta, 6)

	// Docker down: the script fails and removes the file, so no stale value
	// keeps an alert firing (or silent).
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(bin), "down"), nil, 0o644))
	output, err = runScript()
	assert.Error(t, err)
	assert.Contains(t, output, "container-metrics: docker ps failed")
	assert.NoFileExists(t, prom)
	assert.Empty(t, dirNames(t, textfiles))

	// Not a cgroup v2 hierarchy: refused with a clear message.
	cgroupRoot = t.TempDir()
	output, err = runScript()
	assert.Error(t, err)
	assert.Contains(t, output, "is not a cgroup v2 hierarchy")
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
