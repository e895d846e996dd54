package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// dataHostOf is the first host with the data role, as placement chooses it
// (PostgreSQL, Redis and Vault run there).
func dataHostOf(t *testing.T, s *stackfile.Stack) string {
	t.Helper()
	var hosts []stacks.Host
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
	for _, h := range hosts {
		if h.HasRole(stacks.RoleData) {
			return h.Name
		}
	}
	t.Fatal("no data host")
	return ""
}

// assertInternalOnDataHost: each container runs through the data host's
// Docker provider, as a child of the component of type parent, and
// publishes no port.
func assertInternalOnDataHost(t *testing.T, res *mockrun.Result, s *stackfile.Stack, parent string, cs ...*mockrun.Resource) {
	t.Helper()
	provider := res.Named("pulumi:providers:docker", dataHostOf(t, s)+"-docker")
	require.NotNil(t, provider)
	for _, c := range cs {
		require.NotNil(t, c)
		assert.Equal(t, provider.URN, c.Provider, "%s runs on the data host", c.Name)
		assert.Contains(t, c.Parent, parent)
		assert.Empty(t, propArray(c.Inputs["ports"]), "%s publishes no port", c.Name)
	}
}

// pgExpectedResources is the stack's override for svc, else the SPEC default.
func pgExpectedResources(t *testing.T, s *stackfile.Stack, svc string) container.Resources {
	t.Helper()
	if raw, ok := s.Config["aurigraph:resources"]; ok {
		var over map[string]container.Resources
		require.NoError(t, json.Unmarshal([]byte(raw), &over))
		if r, ok := over[svc]; ok {
			return r
		}
	}
	return stacks.DefaultResources[svc]
}

func pgPlaceholders(s *stackfile.Stack) []string {
	var out []string
	for _, k := range s.SecretKeys {
		if v := s.Config[k]; strings.HasPrefix(v, "plan-placeholder-") {
			out = append(out, v)
		}
	}
	return out
}

// propArray is v's elements; nothing when the input is absent.
func propArray(v resource.PropertyValue) []resource.PropertyValue {
	if v.IsArray() {
		return v.ArrayValue()
	}
	return nil
}

func pgEnvSecrets(t *testing.T, r *mockrun.Resource) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, e := range r.Inputs["envs"].ArrayValue() {
		s := e
		if e.IsSecret() {
			s = e.SecretValue().Element
		}
		name, _, _ := strings.Cut(s.StringValue(), "=")
		out[name] = e.IsSecret()
	}
	return out
}

// assertNoPlaceholderInClear: no placeholder secret of s appears in clear
// in any input of the run.
func assertNoPlaceholderInClear(t *testing.T, s *stackfile.Stack, res *mockrun.Result) {
	t.Helper()
	secrets := pgPlaceholders(s)
	require.NotEmpty(t, secrets)
	for _, r := range res.Resources {
		for _, str := range harness.PlainStrings(resource.NewObjectProperty(r.Inputs)) {
			for _, p := range secrets {
				assert.NotContains(t, str, p, "%s leaks a secret", r.URN)
			}
		}
	}
}

func TestStackPostgresContainers(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			db := res.Named(harness.ContainerType, "postgres")
			exp := res.Named(harness.ContainerType, "postgres-exporter")
			assertInternalOnDataHost(t, res, s, "aurigraph:postgres:Postgres", db, exp)
			want := pgExpectedResources(t, s, stacks.Postgres)
			assert.Equal(t, float64(want.MemoryMB), db.Inputs["memory"].NumberValue())
			assert.Equal(t, float64(want.MemoryReservationMB), db.Inputs["memoryReservation"].NumberValue())
			assert.Equal(t, float64(int(want.CPUsReservation*1024)), db.Inputs["cpuShares"].NumberValue())
			assert.Equal(t, container.FormatCPUs(want.CPUs), db.Inputs["cpus"].StringValue())
			wantExp := stacks.DefaultResources[stacks.Exporter]
			assert.Equal(t, float64(wantExp.MemoryMB), exp.Inputs["memory"].NumberValue())

			assert.Equal(t, map[string]bool{"POSTGRES_DB": false, "POSTGRES_USER": false, "POSTGRES_INITDB_ARGS": false,
				"POSTGRES_HOST_AUTH_METHOD": false, "PGDATA": false, "POSTGRES_PASSWORD_FILE": false}, pgEnvSecrets(t, db))
			assert.Equal(t, map[string]bool{"DATA_SOURCE_URI": false, "DATA_SOURCE_USER": false, "DATA_SOURCE_PASS_FILE": false}, pgEnvSecrets(t, exp))
			assert.Equal(t, "70:70", db.Inputs["user"].StringValue())
			caps := db.Inputs["capabilities"].ObjectValue()
			assert.Empty(t, propArray(caps["adds"]), "no capability added back")
			assert.Equal(t, "ALL", propArray(caps["drops"])[0].StringValue())

			assertNoPlaceholderInClear(t, s, res)
		})
	}
}

func pgPredeployTriggers(t *testing.T, res *mockrun.Result) []string {
	t.Helper()
	cmd := res.Named("command:remote:Command", "postgres-predeploy-backup")
	require.NotNil(t, cmd)
	var out []string
	for _, v := range cmd.Inputs["triggers"].ArrayValue() {
		out = append(out, v.StringValue())
	}
	return out
}

func TestPreDeployBackupTriggers(t *testing.T) {
	base := harness.Stack(t, "prod")
	res := harness.Run(t, base)
	before := pgPredeployTriggers(t, res)
	assert.Equal(t, []string{"aurigraph/v11:11.4.2"}, before, "the release image from Pulumi.prod.yaml")

	// The backup runs on the data host and waits for the database.
	cmd := res.Named("command:remote:Command", "postgres-predeploy-backup")
	assert.Contains(t, cmd.Inputs["create"].StringValue(), "/srv/aurigraph/postgres/bin/backup.sh predeploy")
	db := res.Named(harness.ContainerType, "postgres")
	assert.Contains(t, cmd.DependsOn, db.URN)

	unrelated := harness.Run(t, base.Set("retention", `{"prometheusDays": 30, "elasticsearchDays": 30, "backups": {"hourly": 24, "daily": 7, "weekly": 4, "monthly": 12}}`))
	assert.Equal(t, before, pgPredeployTriggers(t, unrelated), "no release, no new trigger")

	release := harness.Run(t, base.Set("release", `{"blue": {"image": "aurigraph/v11:11.4.3", "weight": 100}, "green": {"image": "", "weight": 0}}`))
	assert.Equal(t, []string{"aurigraph/v11:11.4.3"}, pgPredeployTriggers(t, release))

	green := harness.Run(t, base.Set("release", `{"blue": {"image": "aurigraph/v11:11.4.2", "weight": 100}, "green": {"image": "aurigraph/v11:11.5.0", "weight": 0, "scale": 50}}`))
	assert.Equal(t, []string{"aurigraph/v11:11.4.2", "aurigraph/v11:11.5.0"}, pgPredeployTriggers(t, green), "distinct, sorted")
}
