package grafana

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/shell"
)

// Grafana's database (users, preferences, annotations, alert state; the
// dashboards and datasources are code, provisioned from this repository):
// an online SQLite copy every hour.
const (
	Store        = "grafana"
	KindSnapshot = "snapshot"
	BackupEvery  = "hourly"
	// BackupMaxAge is one period plus room for a slow run.
	BackupMaxAge = 2 * time.Hour
	// BackupsKept: two days of hourly copies on the host, so a change
	// noticed the next working day is a local restore; older ones are in
	// the off-host copies (retention.backups).
	BackupsKept = 48
	// DatabaseFile is Grafana's SQLite database in its data directory.
	DatabaseFile = "grafana.db"
	// BusyTimeout is how long the copy waits for its read lock; a writer
	// that commits back to back can starve it that long (measured under
	// load: 8.5 s), so it is long, and a failed copy is retried
	// (BackupAttempts). Grafana's commits wait only while the copy reads.
	BusyTimeout    = 30 * time.Second
	BackupAttempts = 3
)

// BackupPackages are the Debian packages the scripts run on the host.
var BackupPackages = []string{"sqlite3"}

// Jobs are the scheduled runs on Grafana's host, their scripts in binDir.
func Jobs(binDir string) []backupjob.Job {
	return []backupjob.Job{{
		Store: Store, Kind: KindSnapshot, Description: "Grafana database copy and rotation",
		Command: "/bin/bash " + path.Join(binDir, "backup.sh"),
		Every:   BackupEvery, Persistent: true, MaxAge: BackupMaxAge,
	}}
}

func binDir(serviceDir string) string    { return path.Join(serviceDir, "bin") }
func backupDir(serviceDir string) string { return path.Join(serviceDir, "backups") }

// BackupPaths are what the off-host copies take.
func BackupPaths(serviceDir string) []string { return []string{backupDir(serviceDir)} }

// BackupValues parameterise backup.sh and restore.sh. Each is a default
// the environment can override (CONTAINER, DB, BACKUP_DIR, KEEP, SQLITE3),
// so tests run the same scripts against a scratch database.
type BackupValues struct {
	Container string // stopped and started by a restore
	Database  string // grafana.db on the host
	BackupDir string
	Prefix    string // copy file name prefix
	Keep      int    // newest copies kept
	// Owner is uid:gid of the restored database (the image's grafana user).
	Owner         string
	BusyTimeoutMs int
	// Attempts: a copy that fails (the lock not had in time) is retried.
	Attempts int
	Job      backupjob.Job
}

// Backup is the scripts' values for a deployment under serviceDir.
func Backup(serviceDir string) BackupValues {
	return BackupValues{
		Container: ContainerName, Database: path.Join(dataDir(serviceDir), DatabaseFile),
		BackupDir: backupDir(serviceDir), Prefix: Store, Keep: BackupsKept,
		Owner: fmt.Sprintf("%d:%d", UID, GID), BusyTimeoutMs: int(BusyTimeout / time.Millisecond),
		Attempts: BackupAttempts,
		Job:      Jobs(binDir(serviceDir))[0],
	}
}

var (
	plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	plainName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	owner     = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
)

// Validate reports values that would make the scripts unsafe. The paths
// also go inside sqlite3's own quoting (".backup 'FILE'"): plain
// characters only.
func (v BackupValues) Validate() error {
	var p []string
	if !plainName.MatchString(v.Container) || !plainName.MatchString(v.Prefix) {
		p = append(p, fmt.Sprintf("container %q and prefix %q must be plain lower-case names", v.Container, v.Prefix))
	}
	for _, d := range []string{v.Database, v.BackupDir} {
		if !plainPath.MatchString(d) || strings.Contains(d, "..") || d == "/" {
			p = append(p, fmt.Sprintf("%q must be an absolute plain path (letters, digits, _ . / -)", d))
		}
	}
	if path.Dir(v.Database) == v.BackupDir {
		p = append(p, "the copies must not sit beside the live database")
	}
	if v.Keep < 1 {
		p = append(p, "at least the newest copy is kept")
	}
	if !owner.MatchString(v.Owner) {
		p = append(p, fmt.Sprintf("owner %q must be uid:gid", v.Owner))
	}
	if v.BusyTimeoutMs < 1 || v.Attempts < 1 {
		p = append(p, "the busy timeout and the attempts must be positive")
	}
	if err := v.Job.Validate(); err != nil {
		p = append(p, err.Error())
	}
	if len(p) > 0 {
		return fmt.Errorf("grafana backup scripts: %s", strings.Join(p, "; "))
	}
	return nil
}

//go:embed templates/*.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("grafana-scripts").Funcs(template.FuncMap{
	"shq":       shell.Quote,
	"recordRun": func() string { return backupjob.RecordRun },
	// docker inspect's own Go template, passed through untouched.
	"stateFormat": func() string { return shell.Quote("{{.State.Status}}") },
}).ParseFS(scriptFS, "templates/*.tmpl"))

// RenderBackup renders backup.sh: an online copy of the database (SQLite's
// backup API), checked with integrity_check, then the newest Keep kept.
func RenderBackup(v BackupValues) (string, error) { return renderScript("backup.sh.tmpl", v) }

// RenderRestore renders restore.sh: a checked copy put back in place of
// the database, the current one moved aside.
func RenderRestore(v BackupValues) (string, error) { return renderScript("restore.sh.tmpl", v) }

func renderScript(name string, v BackupValues) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := scripts.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}
