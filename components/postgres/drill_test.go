package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func drillValues() OffsiteDrillValues {
	sv := Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10})
	return OffsiteDrillValues{ScriptValues: ScratchScripts(sv), Offsite: "/srv/aurigraph/backups/bin/offsite-postgres.sh",
		WorkDir: "/srv/aurigraph/backups/drill/postgres", Image: "postgres:15.10-alpine@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
}

func TestRenderOffsiteDrill(t *testing.T) {
	out, err := RenderOffsiteDrill(drillValues())
	require.NoError(t, err)
	for _, want := range []string{
		"OFFSITE=${OFFSITE:-'/srv/aurigraph/backups/bin/offsite-postgres.sh'}",
		"BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/postgres/backups'}",
		"CONTAINER=${CONTAINER:-'" + ScratchContainer + "'}",
		"IMAGE=${IMAGE:-'postgres:15.10-alpine@sha256:",
		"--network none",
		`bash "$OFFSITE" restore "$FETCH_DIR" "$snapshot"`,
		`verify_manifest "$DRILL_DB"`,
		"record_run postgres drill 3110400 ",
		"# TYPE " + TimeToUsableMetric + " gauge",
		"# TYPE " + BackupAgeMetric + " gauge",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "DROP DATABASE", "the drill never drops a database, whatever server it reaches")

	for name, mutate := range map[string]func(*OffsiteDrillValues){
		"live container":  func(v *OffsiteDrillValues) { v.Container = ContainerName },
		"root work dir":   func(v *OffsiteDrillValues) { v.WorkDir = "/" },
		"relative script": func(v *OffsiteDrillValues) { v.Offsite = "offsite.sh" },
		"image injection": func(v *OffsiteDrillValues) { v.Image = "postgres; reboot" },
		"no allowance":    func(v *OffsiteDrillValues) { v.DrillMaxAge = 0 },
	} {
		v := drillValues()
		mutate(&v)
		_, err := RenderOffsiteDrill(v)
		assert.Error(t, err, name)
	}
}

// The dump and its manifest come from one snapshot, and rotation takes the
// manifest with its dump.
func TestRenderBackupManifest(t *testing.T) {
	out, err := RenderBackup(Scripts("/srv/aurigraph/postgres", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, PreDeploy: 10}))
	require.NoError(t, err)
	for _, want := range []string{
		"BEGIN ISOLATION LEVEL REPEATABLE READ;", "SELECT pg_export_snapshot();",
		`--snapshot="$snapshot"`, "flyway_schema_history", `"$final.manifest"`,
		`doomed+=("${BACKUP_DIR:?}/$f" "${BACKUP_DIR:?}/$f.manifest")`,
	} {
		assert.Contains(t, out, want)
	}
}
