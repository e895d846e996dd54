package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/internal/release"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

func TestConfigKeyIsTheProjectsPathKey(t *testing.T) {
	p, err := stackfile.LoadProject("../..")
	require.NoError(t, err)
	assert.Equal(t, p.Name, project, "config keys are namespaced by the project name in Pulumi.yaml")
	assert.Equal(t, "aurigraph:release.green.weight", configKey(release.Change{Key: "release.green.weight", Value: "5"}))
}

func TestParseSteps(t *testing.T) {
	got, err := parseSteps("5, 20,50,100")
	require.NoError(t, err)
	assert.Equal(t, []int{5, 20, 50, 100}, got)
	_, err = parseSteps("5,twenty,100")
	assert.ErrorContains(t, err, `"twenty" is not a whole percentage`)
}

func TestCurrentReadsTheStackFile(t *testing.T) {
	c, err := plan.Config("../..", "prod")
	require.NoError(t, err)
	cur := stacks.ReleaseCurrent(c)
	assert.Equal(t, c.Release.Blue.Image, cur.Blue.Image)
	assert.Equal(t, 100, cur.Blue.Weight+cur.Green.Weight)
	p, err := release.NewPlan(cur, release.Spec{Strategy: release.Canary, Image: "aurigraph/v11:11.5.0"})
	require.NoError(t, err, "the committed prod stack is ready for a release")
	assert.Equal(t, release.Blue, p.Old)
}

func TestBackupRunsOnPostgresHost(t *testing.T) {
	c, err := plan.Config("../..", "prod")
	require.NoError(t, err)
	b, err := newSSHBackup(c)
	require.NoError(t, err)
	want := stacks.Place(c).Services[stacks.Postgres]
	assert.Equal(t, want, b.set.Name)
	assert.Equal(t, stacks.ServiceDir(c, stacks.Postgres)+"/bin/backup.sh", b.script)
	assert.NotEmpty(t, b.set.Target.HostKey, "the host key is pinned")
}

func TestSmokeGoesThroughTheGatewaysSlotRoute(t *testing.T) {
	c, err := plan.Config("../..", "prod")
	require.NoError(t, err)
	s := newSmoke(c, "", "/api/v11/status", "ops", "pw")
	assert.Equal(t, "https://"+c.Edge.APIHostname+"/_slot/green/q/health/ready", s.URL("green", s.ReadyPath))
	assert.Equal(t, "https://"+c.Edge.APIHostname+"/_slot/green/q/health/live", s.URL("green", s.HealthPath))
	assert.Equal(t, "https://"+c.Edge.APIHostname+"/_slot/blue/api/v11/status", s.URL("blue", s.RequestPath))
	assert.Equal(t, [2]string{"ops", "pw"}, [2]string{s.User, s.Password})

	s = newSmoke(c, "https://127.0.0.1:8443/", "/x", "", "")
	assert.Equal(t, "https://127.0.0.1:8443/_slot/green/x", s.URL("green", s.RequestPath))
}
