package postgres

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"

	"github.com/aurigraph/infra/components/container"

	"github.com/aurigraph/infra/components/network"
)

func TestSizingFollowsTheLimits(t *testing.T) {
	v := Sizing(8192, 4, 770)
	assert.Equal(t, 8192/4, v.SharedBuffersMB)
	assert.Equal(t, 8192*3/4, v.EffectiveCacheMB)
	assert.Equal(t, 512, v.MaintenanceWorkMemMB)
	assert.Equal(t, 4, v.WorkMemMB, "never below PostgreSQL's default")
	assert.LessOrEqual(t, v.SharedBuffersMB+v.WorkMemMB*v.MaxConnections, 8192+4*770, "pools fit beside shared buffers")
	assert.Equal(t, 4, v.MaxParallelWorkers)
	assert.Equal(t, 2, v.MaxParallelPerGather)

	small := Sizing(4096, 2, 120)
	assert.Equal(t, 1024, small.SharedBuffersMB)
	assert.Equal(t, (4096-1024)/240, small.WorkMemMB)
	assert.Equal(t, 1, Sizing(1024, 0.5, 10).MaxParallelPerGather)
}

func TestRenderConfig(t *testing.T) {
	v := Sizing(8192, 4, 770)
	out, err := RenderConfig(v)
	require.NoError(t, err)
	for _, want := range []string{
		"max_connections = 770",
		"superuser_reserved_connections = 3",
		"shared_buffers = 2048MB",
		"effective_cache_size = 6144MB",
		fmt.Sprintf("work_mem = %dMB", v.WorkMemMB),
		"password_encryption = scram-sha-256",
		"log_destination = 'stderr'",
		"logging_collector = off",
		"log_min_duration_statement = 50",
		"port = 5432",
		"listen_addresses = '*'",
	} {
		assert.Contains(t, out, want)
	}
	again, err := RenderConfig(v)
	require.NoError(t, err)
	assert.Equal(t, out, again, "deterministic")
	assert.NotContains(t, out, "<no value>")

	_, err = RenderConfig(ConfigValues{})
	assert.Error(t, err)
}

func TestRenderScripts(t *testing.T) {
	v := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	for name, render := range map[string]func(ScriptValues) (string, error){
		"backup": RenderBackup, "restore": RenderRestore, "drill": RenderDrill,
	} {
		out, err := render(v)
		require.NoError(t, err, name)
		assert.True(t, strings.HasPrefix(out, "#!/usr/bin/env bash\n"), name)
		assert.Contains(t, out, "BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/postgres/backups'}", name)
		assert.Contains(t, out, `PSQL=${PSQL:-"docker exec -i $CONTAINER psql -U $DB_USER"}`, name)
		assert.Contains(t, out, "CONTAINER=${CONTAINER:-'postgres'}", name)
		assert.NotContains(t, out, "<no value>", name)
		again, _ := render(v)
		assert.Equal(t, out, again, "%s is deterministic", name)
	}
	backup, _ := RenderBackup(v)
	for _, want := range []string{"KEEP_HOURLY=${KEEP_HOURLY:-24}", "KEEP_DAILY=${KEEP_DAILY:-7}",
		"KEEP_WEEKLY=${KEEP_WEEKLY:-4}", "KEEP_MONTHLY=${KEEP_MONTHLY:-12}", "KEEP_PREDEPLOY=${KEEP_PREDEPLOY:-10}",
		"--format=custom", "COMPRESS=${COMPRESS:-6}"} {
		assert.Contains(t, backup, want)
	}
	drill, _ := RenderDrill(v)
	assert.Contains(t, drill, "DRILL_DB=${DRILL_DB:-'aurigraph_drill'}")
}

func TestScriptValuesRefuseUnsafeValues(t *testing.T) {
	ok := Scripts("/srv/x/postgres", Retention{Hourly: 1, PreDeploy: 1})
	require.NoError(t, ok.Validate())
	for name, mutate := range map[string]func(*ScriptValues){
		"drill over live": func(v *ScriptValues) { v.DrillDatabase = v.Database },
		"relative dir":    func(v *ScriptValues) { v.BackupDir = "backups" },
		"negative keep":   func(v *ScriptValues) { v.KeepDaily = -1 },
		"no predeploy":    func(v *ScriptValues) { v.KeepPreDeploy = 0 },
		"compression":     func(v *ScriptValues) { v.Compress = 0 },
	} {
		v := ok
		mutate(&v)
		_, err := RenderBackup(v)
		assert.Error(t, err, name)
	}
}

func TestJobsRunTheScriptsOnTheirSchedules(t *testing.T) {
	jobs := Jobs("/srv/aurigraph/postgres/bin", DefaultDrill())
	got := map[string]string{}
	for _, j := range jobs {
		require.NoError(t, j.Validate())
		got[j.Kind] = j.Every + " " + j.Command
		assert.True(t, j.Docker, "%s runs in the container", j.Kind)
		assert.Greater(t, j.MaxAge, time.Duration(0))
	}
	assert.Equal(t, map[string]string{
		"dump":  "hourly /bin/bash /srv/aurigraph/postgres/bin/backup.sh scheduled",
		"base":  "daily /bin/bash /srv/aurigraph/postgres/bin/basebackup.sh",
		"drill": "Sun *-*-01..07 04:00:00 /bin/bash /srv/aurigraph/postgres/bin/drill.sh",
	}, got)
	script, err := backupjob.RenderTimers(backupjob.TimerValues{Jobs: jobs})
	require.NoError(t, err)
	assert.Contains(t, script, "seed_run 'postgres' 'dump' 5400", "the hourly dump alerts after 1h30m")
	assert.Contains(t, script, "seed_run 'postgres' 'drill' 3110400", "first Sundays are up to 35 days apart, plus a day")

	// A drill from the off-host copy leaves no drill timer on the data host.
	off := DefaultDrill()
	off.OffHost = true
	for _, j := range Jobs("/srv/aurigraph/postgres/bin", off) {
		assert.NotEqual(t, KindDrill, j.Kind)
	}
}

func TestRenderConfigArchives(t *testing.T) {
	v := Sizing(8192, 4, 770)
	out, err := RenderConfig(v)
	require.NoError(t, err)
	assert.Contains(t, out, "archive_mode = on")
	assert.Contains(t, out, "archive_timeout = 60\n")
	assert.Contains(t, out, "archive_command = 'f=/var/lib/postgresql/archive/wal/%f; ")
	v.ArchiveDir = "/x'; rm -rf /"
	_, err = RenderConfig(v)
	assert.Error(t, err, "the archive directory goes into a quoted shell line")
	v = Sizing(8192, 4, 770)
	v.ArchiveTimeoutSeconds = 0
	_, err = RenderConfig(v)
	assert.Error(t, err)
}

func TestRenderPITRScripts(t *testing.T) {
	v := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	base, err := RenderBaseBackup(v)
	require.NoError(t, err)
	assert.Contains(t, base, "ARCHIVE_DIR=${ARCHIVE_DIR:-'/srv/aurigraph/postgres/archive'}")
	assert.Contains(t, base, `PG_BASEBACKUP=${PG_BASEBACKUP:-"docker exec $CONTAINER pg_basebackup -U $DB_USER"}`)
	assert.Contains(t, base, "KEEP_BASE=${KEEP_BASE:-2}")
	pitr, err := RenderPITR(v)
	require.NoError(t, err)
	assert.Contains(t, pitr, "LIVE_DATA_DIR=${LIVE_DATA_DIR:-'/srv/aurigraph/postgres/data'}")
	assert.Contains(t, pitr, "SERVER_ARCHIVE_DIR=${SERVER_ARCHIVE_DIR:-'/var/lib/postgresql/archive'}")
	assert.Contains(t, pitr, "RESTORE_OWNER=${RESTORE_OWNER:-'70:70'}")
	assert.Contains(t, pitr, "docker inspect --format '{{.Config.Image}}'")
	assert.NotContains(t, pitr, "<no value>")
	for name, mutate := range map[string]func(*ScriptValues){
		"relative archive": func(v *ScriptValues) { v.ArchiveDir = "archive" },
		"quoted data dir":  func(v *ScriptValues) { v.DataDir = "/srv/'x" },
		"no base kept":     func(v *ScriptValues) { v.KeepBase = 0 },
		"no owner":         func(v *ScriptValues) { v.Owner = "" },
	} {
		bad := v
		mutate(&bad)
		_, err := RenderPITR(bad)
		assert.Error(t, err, name)
	}
}

func TestReleaseTriggers(t *testing.T) {
	assert.Equal(t, []string{"a:1", "b:2"}, ReleaseTriggers([]string{"b:2", "a:1", "b:2", ""}))
	assert.Empty(t, ReleaseTriggers(nil))
}

func TestSpecs(t *testing.T) {
	a := Args{Zones: network.NamedZones("aurigraph-network"), ServiceDir: "/srv/aurigraph/postgres", Password: pulumi.String("superuser"),
		Resources:        container.Resources{CPUs: 4, CPUsReservation: 2, MemoryMB: 8192, MemoryReservationMB: 4096},
		ExporterResource: container.Resources{CPUs: 0.5, CPUsReservation: 0.1, MemoryMB: 256, MemoryReservationMB: 64}}
	db := DatabaseSpec(a)
	assert.Empty(t, db.Ports)
	assert.Empty(t, db.CapAdd)
	assert.Equal(t, "70:70", db.User)
	assert.Equal(t, []string{"postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"}, db.Command)
	assert.Contains(t, db.Mounts, container.Mount{HostPath: "/srv/aurigraph/postgres/conf", Target: "/etc/postgresql", ReadOnly: true})
	assert.Contains(t, db.Mounts, container.Mount{HostPath: "/srv/aurigraph/postgres/data", Target: "/var/lib/postgresql/data"})
	assert.Contains(t, db.Mounts, container.Mount{HostPath: "/srv/aurigraph/postgres/archive", Target: "/var/lib/postgresql/archive"})
	assert.Equal(t, "pg_isready", db.Health.Test[1])
	assert.Empty(t, db.SecretEnv)
	assert.NotContains(t, db.Env, "POSTGRES_PASSWORD")
	if assert.Len(t, db.SecretFiles, 1) {
		assert.Equal(t, "POSTGRES_PASSWORD_FILE", db.SecretFiles[0].Env)
	}
	assert.Equal(t, "/srv/aurigraph/postgres/secrets/postgres", db.SecretsDir)

	exp := ExporterSpec(a)
	assert.Empty(t, exp.Ports)
	assert.Empty(t, exp.SecretEnv)
	if assert.Len(t, exp.SecretFiles, 1) {
		assert.Equal(t, "DATA_SOURCE_PASS_FILE", exp.SecretFiles[0].Env)
	}
	assert.Equal(t, "/srv/aurigraph/postgres/secrets/postgres-exporter", exp.SecretsDir)
	assert.Equal(t, ExporterUser, exp.Env["DATA_SOURCE_USER"], "pg_monitor only, never the superuser")
	assert.Equal(t, "postgres:5432/aurigraph?sslmode=disable", exp.Env["DATA_SOURCE_URI"])

	dirs := Dirs("/srv/aurigraph/postgres")
	var data bool
	for _, d := range dirs {
		if d.Path == "/srv/aurigraph/postgres/data" {
			data = true
			assert.Equal(t, 70, d.UID)
			assert.Equal(t, 70, d.GID)
			assert.Equal(t, "0700", d.Mode)
		}
	}
	assert.True(t, data)
}

func TestRenderRoles(t *testing.T) {
	v := Roles("a-superuser-password")
	sql, err := RenderRoles(v)
	require.NoError(t, err)
	again, err := RenderRoles(Roles("a-superuser-password"))
	require.NoError(t, err)
	assert.Equal(t, sql, again, "same password, same script: no diff on the next run")
	rotated, err := RenderRoles(Roles("another-password"))
	require.NoError(t, err)
	assert.NotEqual(t, sql, rotated, "a new superuser password re-sets every role's")
	assert.NotContains(t, sql, "a-superuser-password")
	for _, role := range v.AllRoles() {
		assert.Contains(t, sql, `"`+role+`"`)
	}
	assert.Regexp(t, `(?m)^ALTER ROLE "aurigraph_app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE .*PASSWORD 'SCRAM-SHA-256\$4096:`, sql)
	assert.Regexp(t, `(?m)^ALTER ROLE "aurigraph_vault" WITH LOGIN NOSUPERUSER NOCREATEDB CREATEROLE .*NOINHERIT`, sql)

	bad := v
	bad.App = "app; DROP TABLE x"
	_, err = RenderRoles(bad)
	assert.ErrorContains(t, err, "not a plain lower-case name")
	bad = v
	bad.VaultVerifier = "plain-password"
	_, err = RenderRoles(bad)
	assert.ErrorContains(t, err, "SCRAM-SHA-256 verifier")
}

func TestScramVerifierIsDeterministicPerPassword(t *testing.T) {
	a := ScramVerifier("pw-one")
	assert.Equal(t, a, ScramVerifier("pw-one"))
	assert.NotEqual(t, a, ScramVerifier("pw-two"))
	assert.Regexp(t, `^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`, a)
}
