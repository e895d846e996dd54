package postgres

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/shell"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("postgres").Funcs(template.FuncMap{
	"shq":   shell.Quote,
	"lit":   sqlLiteral,
	"ident": sqlIdent,
	// Every run's outcome, for the backup alerts (components/backupjob).
	"recordRun": func() string { return backupjob.RecordRun },
	"store":     func() string { return Store },
	"job": func(kind string) (backupjob.Job, error) {
		for _, j := range Jobs("/", DefaultDrill()) {
			if j.Kind == kind {
				return j, nil
			}
		}
		return backupjob.Job{}, fmt.Errorf("no PostgreSQL job %q", kind)
	},
}).ParseFS(templateFS, "templates/*.tmpl"))

// ConfigValues are the plain numbers postgresql.conf is rendered from.
type ConfigValues struct {
	Port              int
	MaxConnections    int
	SuperuserReserved int
	// Memory sizing, in megabytes, derived from the container memory limit.
	SharedBuffersMB      int
	EffectiveCacheMB     int
	MaintenanceWorkMemMB int
	WorkMemMB            int
	// Parallelism, derived from the container CPU limit.
	MaxWorkerProcesses   int
	MaxParallelWorkers   int
	MaxParallelPerGather int
	// SlowQueryMs logs statements slower than the SPEC's DB query target.
	SlowQueryMs int
	// ArchiveDir is the WAL archive as the server sees it (archive_command
	// writes ArchiveDir/wal); ArchiveTimeoutSeconds bounds how long a
	// committed transaction waits in pg_wal before it is archived.
	ArchiveDir            string
	ArchiveTimeoutSeconds int
}

// SuperuserReservedConnections is superuser_reserved_connections
// (PostgreSQL's default): slots only a superuser may take, so an operator
// gets in when every other slot is used.
const SuperuserReservedConnections = 3

// Sizing derives the memory and parallelism settings from the container
// limits. shared_buffers is the usual quarter of memory; the page cache the
// planner may count on is what is left after it (three quarters), and
// work_mem is split so every connection can run two sorts at once without
// leaving the container limit.
func Sizing(memoryMB int, cpus float64, maxConnections int) ConfigValues {
	shared := memoryMB / 4
	work := (memoryMB - shared) / (maxConnections * 2)
	if work < 4 {
		work = 4 // PostgreSQL's default: below it sorts spill to disk
	}
	maint := memoryMB / 16
	if maint > 1024 {
		maint = 1024
	}
	cores := int(math.Ceil(cpus))
	if cores < 1 {
		cores = 1
	}
	perGather := cores / 2
	if perGather < 1 {
		perGather = 1
	}
	workers := cores * 2
	if workers < 8 {
		workers = 8
	}
	return ConfigValues{
		Port:                  5432,
		MaxConnections:        maxConnections,
		SuperuserReserved:     SuperuserReservedConnections,
		SharedBuffersMB:       shared,
		EffectiveCacheMB:      memoryMB * 3 / 4,
		MaintenanceWorkMemMB:  maint,
		WorkMemMB:             work,
		MaxWorkerProcesses:    workers,
		MaxParallelWorkers:    cores,
		MaxParallelPerGather:  perGather,
		SlowQueryMs:           50,
		ArchiveDir:            archiveMount,
		ArchiveTimeoutSeconds: int(DefaultArchiveTimeout.Seconds()),
	}
}

// plainPath is a path safe inside archive_command's single-quoted shell line.
var plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)

// RenderConfig renders postgresql.conf.
func RenderConfig(v ConfigValues) (string, error) {
	if v.MaxConnections <= v.SuperuserReserved || v.SuperuserReserved < 0 || v.SharedBuffersMB <= 0 || v.Port <= 0 {
		return "", fmt.Errorf("postgresql.conf: max connections (above the superuser reserved ones), shared buffers and port are required")
	}
	if !plainPath.MatchString(v.ArchiveDir) || v.ArchiveTimeoutSeconds < 1 {
		return "", fmt.Errorf("postgresql.conf: an absolute archive directory (letters, digits, _ . / -) and an archive timeout of at least 1 s are required")
	}
	return render("postgresql.conf.tmpl", v)
}

// ScriptValues parameterise the backup, restore and drill scripts. Every
// value is a default the environment can override (PSQL, PG_DUMP,
// PG_RESTORE, BACKUP_DIR, ...), so the same scripts run against a local
// PostgreSQL in tests and against the container on the host.
type ScriptValues struct {
	Container  string // container the default commands exec into
	Database   string
	User       string
	BackupDir  string
	Prefix     string // dump file name prefix
	Compress   int    // pg_dump compression level (custom format, zlib)
	WaitSecond int    // how long to wait for the server to accept connections
	// Rotation of scheduled dumps: newest per hour/day/ISO week/month.
	KeepHourly  int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	// KeepPreDeploy pre-deployment dumps are kept apart from the rotation,
	// so an hourly run right after a release never deletes the dump taken
	// just before it.
	KeepPreDeploy int
	DrillDatabase string
	// Point-in-time recovery: ArchiveDir holds base/ (base backups) and
	// wal/ (the archived WAL) on the host, ServerArchiveDir is the same
	// directory inside the database container; KeepBase base backups (and
	// the WAL from the oldest on) stay on the host. DataDir is the live data
	// directory, which pitr.sh never restores into.
	ArchiveDir       string
	ServerArchiveDir string
	DataDir          string
	KeepBase         int
	// UID:GID the restored data directory belongs to (the image's postgres).
	Owner string
	// DrillMaxAge is the drill's alert allowance, which drill.sh records.
	DrillMaxAge time.Duration
}

// DrillMaxAgeSeconds is DrillMaxAge in whole seconds, for record_run.
func (v ScriptValues) DrillMaxAgeSeconds() int64 { return int64(v.DrillMaxAge / time.Second) }

// Validate reports values that would make a script unsafe.
func (v ScriptValues) Validate() error {
	var p []string
	if v.Container == "" || v.Database == "" || v.User == "" || v.Prefix == "" || v.DrillDatabase == "" {
		p = append(p, "container, database, user, prefix and drill database are required")
	}
	if !strings.HasPrefix(v.BackupDir, "/") {
		p = append(p, "backup dir must be absolute")
	}
	if v.DrillDatabase == v.Database {
		p = append(p, "the drill must not restore over the live database")
	}
	if v.KeepHourly < 0 || v.KeepDaily < 0 || v.KeepWeekly < 0 || v.KeepMonthly < 0 || v.KeepPreDeploy < 1 {
		p = append(p, "retention counts must be >= 0 and at least one pre-deployment dump is kept")
	}
	for _, d := range []string{v.ArchiveDir, v.ServerArchiveDir, v.DataDir} {
		if !plainPath.MatchString(d) {
			p = append(p, fmt.Sprintf("archive and data directories must be absolute plain paths: %q", d))
		}
	}
	if v.KeepBase < 1 {
		p = append(p, "at least one base backup is kept")
	}
	if v.DrillMaxAge < time.Minute {
		p = append(p, "the drill's alert allowance must be at least a minute")
	}
	if v.Owner == "" {
		p = append(p, "the restored data directory's owner is required")
	}
	if v.Compress < 1 || v.Compress > 9 {
		p = append(p, "compression level must be 1..9")
	}
	if len(p) > 0 {
		return fmt.Errorf("postgres scripts: %s", strings.Join(p, "; "))
	}
	return nil
}

// RenderBackup renders backup.sh: dump (scheduled|predeploy) then rotate, or rotate only.
func RenderBackup(v ScriptValues) (string, error) { return renderScript("backup.sh.tmpl", v) }

// RenderRestore renders restore.sh: restore a dump into a database.
func RenderRestore(v ScriptValues) (string, error) { return renderScript("restore.sh.tmpl", v) }

// RenderDrill renders drill.sh: restore the latest dump into a scratch database and verify it.
func RenderDrill(v ScriptValues) (string, error) { return renderScript("drill.sh.tmpl", v) }

// RenderBaseBackup renders basebackup.sh: a base backup of the running
// server into the archive, then the local pruning of base backups and WAL.
func RenderBaseBackup(v ScriptValues) (string, error) { return renderScript("basebackup.sh.tmpl", v) }

// RenderPITR renders pitr.sh: a base backup and the archived WAL replayed to
// a point in time, into a fresh data directory.
func RenderPITR(v ScriptValues) (string, error) { return renderScript("pitr.sh.tmpl", v) }

func renderScript(name string, v ScriptValues) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	return render(name, v)
}

func render(name string, v any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// The off-host drill's own metrics, labelled {store}, beside backupjob's.
const (
	TimeToUsableMetric = "aurigraph_restore_drill_time_to_usable_seconds"
	BackupAgeMetric    = "aurigraph_restore_drill_backup_age_seconds"
)

// OffsiteDrillValues parameterise postgres-drill.sh, the drill from the
// off-host copy. ScriptValues are the data host's (BackupDir is where the
// dumps are there, hence in the copy); Container is the scratch server's.
type OffsiteDrillValues struct {
	ScriptValues
	Offsite string // offsite-postgres.sh on the drill host
	WorkDir string // the fetched copy (removed after each drill) and the report
	Image   string // the live PostgreSQL image, pulled on the drill host
}

// TimeToUsableMetric is the template's view of the package constant.
func (OffsiteDrillValues) TimeToUsableMetric() string { return TimeToUsableMetric }

// BackupAgeMetric is the template's view of the package constant.
func (OffsiteDrillValues) BackupAgeMetric() string { return BackupAgeMetric }

var imageRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:@-]*$`)

// RenderOffsiteDrill renders postgres-drill.sh.
func RenderOffsiteDrill(v OffsiteDrillValues) (string, error) {
	if err := v.ScriptValues.Validate(); err != nil {
		return "", err
	}
	var p []string
	for _, d := range []string{v.Offsite, v.WorkDir} {
		if !plainPath.MatchString(d) || d == "/" {
			p = append(p, fmt.Sprintf("%q is not an absolute plain path below /", d))
		}
	}
	if !imageRef.MatchString(v.Image) {
		p = append(p, fmt.Sprintf("image %q is not an image reference", v.Image))
	}
	if v.Container == ContainerName {
		p = append(p, "the scratch server must not be named like the live one")
	}
	if len(p) > 0 {
		return "", fmt.Errorf("postgres drill: %s", strings.Join(p, "; "))
	}
	return render("offsite-drill.sh.tmpl", v)
}
