package elasticsearch

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
)

const testHostDir = "/srv/aurigraph/elasticsearch"

// The repository is path.repo, mounted from the host directory that Dirs
// creates for Elasticsearch alone, and the snapshots name it.
func TestSnapshotRepositoryIsMountedAtPathRepo(t *testing.T) {
	assert.Equal(t, SnapshotsDir, Env(2048)["path.repo"])
	spec := ContainerSpec(ElasticsearchArgs{HostDir: testHostDir})
	var mount *container.Mount
	for i, m := range spec.Mounts {
		if m.Target == SnapshotsDir {
			mount = &spec.Mounts[i]
		}
	}
	require.NotNil(t, mount, "the repository is mounted")
	assert.Equal(t, testHostDir+"/snapshots", mount.HostPath)
	assert.False(t, mount.ReadOnly, "Elasticsearch writes its snapshots")
	v := DefaultSnapshots(testHostDir)
	assert.Equal(t, SnapshotsDir, v.Location)
	setup, err := RenderSnapshotSetup(v)
	require.NoError(t, err)
	assert.Contains(t, setup, `{"type": "fs", "settings": {"location": "/usr/share/elasticsearch/snapshots"}}`)
}

func TestSnapshotJobIsDailyWithADayAndTwoHours(t *testing.T) {
	jobs := Jobs(testHostDir)
	require.Len(t, jobs, 1)
	j := jobs[0]
	require.NoError(t, j.Validate())
	assert.Equal(t, "elasticsearch", j.Store)
	assert.Equal(t, "snapshot", j.Kind)
	assert.Equal(t, "/bin/bash /srv/aurigraph/elasticsearch/bin/snapshot.sh", j.Command)
	assert.Equal(t, 26*time.Hour, j.MaxAge)
	assert.True(t, j.Docker)
	assert.True(t, j.Persistent, "a run missed while the host was down runs at boot")
}

// The scripts hold no secret: they name the root-only files the passwords
// are read from, and record each run in their exit trap.
func TestRenderSnapshotScripts(t *testing.T) {
	v := DefaultSnapshots(testHostDir)
	snap, err := RenderSnapshot(v)
	require.NoError(t, err)
	assert.Contains(t, snap, "ES_PASSWORD_FILE=${ES_PASSWORD_FILE:-'/srv/aurigraph/elasticsearch/backup/snapshot-manager.password'}")
	assert.Contains(t, snap, "ES_USER='snapshot_manager'")
	assert.Contains(t, snap, "record_run 'elasticsearch' 'snapshot' 93600 \"$started\" \"$rc\"")
	assert.Contains(t, snap, "trap on_exit EXIT")
	assert.Contains(t, snap, "record_run() {", "the shared function is included")
	assert.Contains(t, snap, "KEEP=${KEEP:-14}")
	assert.Contains(t, snap, `"indices": "logs-aurigraph-*"`)
	assert.Contains(t, snap, "wait_for_completion=true")

	restore, err := RenderRestore(v)
	require.NoError(t, err)
	assert.Contains(t, restore, "ES_PASSWORD_FILE=${ES_PASSWORD_FILE:-'/srv/aurigraph/elasticsearch/secrets/elasticsearch/elastic-password'}")
	assert.Contains(t, restore, `RESTORE_CONFIRM:-} == yes`)
	assert.Contains(t, restore, "'restored-'")
	assert.NotContains(t, restore, "record_run", "a restore is not a backup run")
}

func TestRenderSnapshotsRejectsUnsafeValues(t *testing.T) {
	for name, mutate := range map[string]func(*SnapshotValues){
		"repository with a quote": func(v *SnapshotValues) { v.Repository = "a'b" },
		"repository with a slash": func(v *SnapshotValues) { v.Repository = "../x" },
		"indices with a space":    func(v *SnapshotValues) { v.Indices = "logs-* ,x" },
		"relative password file":  func(v *SnapshotValues) { v.PasswordFile = "pw" },
		"relative location":       func(v *SnapshotValues) { v.Location = "snapshots" },
		"no retention":            func(v *SnapshotValues) { v.Keep = 0 },
		"invalid job":             func(v *SnapshotValues) { v.Job.Every = "daily; rm -rf /" },
	} {
		t.Run(name, func(t *testing.T) {
			v := DefaultSnapshots(testHostDir)
			mutate(&v)
			for _, render := range []func(SnapshotValues) (string, error){RenderSnapshot, RenderRestore, RenderSnapshotSetup} {
				_, err := render(v)
				assert.Error(t, err)
			}
		})
	}
}

// The setup's stdin is secret and holds both passwords, one per line.
func TestSnapshotSetupScriptHoldsNoSecret(t *testing.T) {
	setup, err := RenderSnapshotSetup(DefaultSnapshots(testHostDir))
	require.NoError(t, err)
	assert.Contains(t, setup, "IFS= read -r ELASTIC_PASSWORD\nIFS= read -r SNAPSHOT_PASSWORD")
	assert.Contains(t, setup, `"cluster": ["create_snapshot", "cluster:admin/snapshot/delete"]`)
	assert.False(t, strings.Contains(setup, `"manage"`), "no manage privilege for the snapshot user")
}
