package drift

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func markdown(t *testing.T, r Report) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, r.WriteMarkdown(&b))
	return b.String()
}

func TestReportNamesEachDriftedProperty(t *testing.T) {
	r := Report{Stack: "prod",
		Refresh: Run{Digest: load(t, "refresh-drift.json")},
		Preview: Run{Digest: load(t, "preview-drift.json"), Exit: 255}}
	assert.False(t, r.Clean())
	out := markdown(t, r)
	assert.Contains(t, out, "## Drift in stack `prod`")
	for _, row := range []string{
		"| `aurigraph-v11-blue-1` | `docker:index/container:Container` | changed outside Pulumi | `memory` | `32768` | `16384` |",
		"|  |  |  | `restart` | `\"unless-stopped\"` | `\"no\"` |",
		"| `grafana` | `docker:index/container:Container` | gone (deleted outside Pulumi) | | | |",
		"| `redis` | `docker:index/container:Container` | would be replaced (replaced for envs) | `envs[0]` | `\"REDIS_PORT=6379\"` | `\"REDIS_PORT=6380\"` |",
		"| `prod-app-01-prepare-drift-check` | `command:remote:Command` | would be created | | | |",
	} {
		assert.Contains(t, out, row+"\n")
	}
	assert.Contains(t, out, "Not drift: values the providers compute and the program does not set changed on `aurigraph-v11-blue-1` (networkData[0].ipAddress); `jaeger` (networkData[0].ipAddress).")
	assert.NotContains(t, out, "| `jaeger` |", "a new IP address alone is no row")
	assert.NotContains(t, out, "aurigraph-prod", "the stack resource is no row")
	assert.NotContains(t, out, "privateKeyPem")
}

func TestReportOfACleanStack(t *testing.T) {
	r := Report{Stack: "staging", Refresh: Run{Digest: load(t, "refresh-clean.json")}, Preview: Run{Digest: load(t, "preview-clean.json")}}
	assert.True(t, r.Clean())
	assert.Equal(t, "## No drift in stack `staging`\n\nThe resources read back as recorded, and the program matches the state.\n", markdown(t, r))
}

// Only computed values changed: not drift, but said.
func TestComputedOnlyChangesAreNotDrift(t *testing.T) {
	d := load(t, "refresh-drift.json")
	var jaeger []Step
	for _, s := range d.Steps {
		if strings.HasSuffix(s.URN, "::jaeger") {
			jaeger = append(jaeger, s)
		}
	}
	require.Len(t, jaeger, 1)
	r := Report{Stack: "prod", Refresh: Run{Digest: &Digest{Steps: jaeger}}, Preview: Run{Digest: load(t, "preview-clean.json")}}
	assert.True(t, r.Clean())
}

// A failed command is never a clean night, whether it printed JSON or not.
func TestFailuresAreReported(t *testing.T) {
	r := Report{Stack: "prod", Refresh: Run{Digest: load(t, "refresh-clean.json")}, Preview: Run{Digest: load(t, "preview-failed.json"), Exit: 255}}
	assert.False(t, r.Clean())
	out := markdown(t, r)
	assert.Contains(t, out, "- aurigraph-prod: error: hosts[2].capacity.diskGb: 20 is below Elasticsearch's 30 GB: raise it or move the logging role\n")

	r = Report{Stack: "prod", Refresh: Run{Exit: 255, ReadError: errors.New("not the JSON of pulumi --json")}, Preview: Run{Digest: load(t, "preview-clean.json")}}
	assert.False(t, r.Clean())
	assert.Contains(t, markdown(t, r), "**pulumi refresh printed no result** (exit 255): not the JSON of pulumi --json.")

	// Exit status 255 with no difference and no error: a mandatory policy
	// violation (the JSON output carries no policy events).
	r = Report{Stack: "prod", Refresh: Run{Digest: load(t, "refresh-clean.json")}, Preview: Run{Digest: load(t, "preview-clean.json"), Exit: 255}}
	assert.False(t, r.Clean())
	assert.Contains(t, markdown(t, r), "**pulumi preview failed (exit 255)** without a difference or an error in its result")
}

func TestCellsStayInTheirColumn(t *testing.T) {
	assert.Equal(t, "`a \\| b c`", code("a | b\nc"))
	assert.Equal(t, "`` echo `id` ``", code("echo `id`"))
	assert.Equal(t, "(absent)", value(""))
}
