package redis

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
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/shell"
)

// Backups: an RDB snapshot every hour (BGSAVE, then a copy of dump.rdb),
// the newest KeepSnapshots kept on the host (two days; the off-host copies
// keep retention.backups' hourly/daily/weekly/monthly ones). The AOF is not
// copied: it is the same data as of a later moment, and a consistent copy of
// a multi-part AOF being appended to needs Redis stopped or a rewrite; an
// RDB written by BGSAVE is one consistent point.
const (
	Store         = "redis"
	SnapshotEvery = "hourly"
	SnapshotAge   = 2 * time.Hour
	KeepSnapshots = 48
)

//go:embed templates/backup.sh.tmpl templates/restore.sh.tmpl
var backupFS embed.FS

var backupTemplates = template.Must(template.New("redis-backup").Funcs(template.FuncMap{
	"shq":       shell.Quote,
	"recordRun": func() string { return backupjob.RecordRun },
}).ParseFS(backupFS, "templates/backup.sh.tmpl", "templates/restore.sh.tmpl"))

// BackupValues parameterise backup.sh and restore.sh. Each is a default
// the environment can override (REDIS_CLI, DATA_DIR, STOP, START...), so the
// same scripts run against a local redis-server in tests.
type BackupValues struct {
	Container  string // the Redis container
	DataDir    string // its /data on the host: dump.rdb and appendonlydir
	BackupDir  string // where the snapshots go (root only)
	Keep       int    // snapshots kept on the host
	Owner      string // uid:gid of the data files (the image's redis user)
	AdminUser  string // the ACL user the scripts log in as
	SecretPath string // the admin password file inside the container
	WaitSecond int    // how long BGSAVE and a restart may take
	Job        backupjob.Job
}

// Backups are the values for a deployment under serviceDir.
func Backups(serviceDir string) BackupValues {
	return BackupValues{
		Container: ContainerName, DataDir: path.Join(serviceDir, "data"), BackupDir: path.Join(serviceDir, "backups"),
		Keep: KeepSnapshots, Owner: fmt.Sprintf("%d:%d", UID, GID), AdminUser: AdminUser,
		SecretPath: container.SecretPath(PasswordFile), WaitSecond: 600, Job: SnapshotJob(path.Join(serviceDir, "bin")),
	}
}

// SnapshotJob is the hourly snapshot's timer, its script in binDir.
func SnapshotJob(binDir string) backupjob.Job {
	return backupjob.Job{Store: Store, Kind: "snapshot", Description: "Redis RDB snapshot",
		Command: "/bin/bash " + path.Join(binDir, "backup.sh"), Every: SnapshotEvery, Persistent: true, MaxAge: SnapshotAge, Docker: true}
}

var (
	plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	plainWord = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
)

// Validate reports values that would make the scripts unsafe.
func (v BackupValues) Validate() error {
	var p []string
	for _, d := range []string{v.DataDir, v.BackupDir, v.SecretPath} {
		if !plainPath.MatchString(d) {
			p = append(p, fmt.Sprintf("%q is not an absolute plain path", d))
		}
	}
	if v.DataDir == v.BackupDir {
		p = append(p, "the snapshots must not go into the data directory")
	}
	for _, w := range []string{v.Container, v.Owner, v.AdminUser} {
		if !plainWord.MatchString(w) {
			p = append(p, fmt.Sprintf("%q is not a plain word", w))
		}
	}
	if v.Keep < 1 || v.WaitSecond < 1 {
		p = append(p, "at least one snapshot is kept and the wait is positive")
	}
	if err := v.Job.Validate(); err != nil {
		p = append(p, err.Error())
	}
	if len(p) > 0 {
		return fmt.Errorf("redis backups: %s", strings.Join(p, "; "))
	}
	return nil
}

// RenderBackup renders backup.sh: BGSAVE, copy, verify, rotate.
func RenderBackup(v BackupValues) (string, error) { return renderBackup("backup.sh.tmpl", v) }

// RenderRestore renders restore.sh: a snapshot back into the data directory.
func RenderRestore(v BackupValues) (string, error) { return renderBackup("restore.sh.tmpl", v) }

func renderBackup(name string, v BackupValues) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := backupTemplates.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}
