package vault

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

// Snapshots of the file storage backend: hourly, kept on the host for
// BackupsKept runs, copied off the host from BackupPaths.
const (
	Store        = "vault"
	KindSnapshot = "snapshot"
	BackupEvery  = "hourly"
	// BackupMaxAge is one period plus room for a slow or retried run.
	BackupMaxAge = 2 * time.Hour
	// BackupsKept: two days of hourly snapshots on the host, so a bad
	// change noticed the next working day is still a local restore; older
	// ones are in the off-host copies (retention.backups). A single-node
	// file backend is a few megabytes: 48 cost little.
	BackupsKept = 48
	// PauseLimit bounds how long Vault may stay paused for one copy: the
	// tar is killed (and the run fails) rather than Vault frozen longer.
	PauseLimit = 60 * time.Second
)

// Jobs are the scheduled runs on Vault's host, their scripts in binDir.
func Jobs(binDir string) []backupjob.Job {
	return []backupjob.Job{{
		Store: Store, Kind: KindSnapshot, Description: "Vault storage snapshot and rotation",
		Command: "/bin/bash " + path.Join(binDir, "backup.sh"),
		Every:   BackupEvery, Persistent: true, MaxAge: BackupMaxAge, Docker: true,
	}}
}

// backupDir is where the snapshots are, root's alone.
func backupDir(serviceDir string) string { return path.Join(serviceDir, "backups") }

// BackupPaths are what the off-host copies take: the snapshots, never the
// unseal keys or tokens, which are not on the host at all (docs/vault.md).
func BackupPaths(serviceDir string) []string { return []string{backupDir(serviceDir)} }

// BackupValues parameterise backup.sh and restore.sh. Each is a default
// the environment can override (CONTAINER, DATA_DIR, BACKUP_DIR, KEEP), so
// tests run the same scripts against a scratch directory.
type BackupValues struct {
	Container string // the container paused for the copy, stopped for a restore
	DataDir   string // the file backend on the host (mounted at /vault/file)
	BackupDir string
	Prefix    string // snapshot file name prefix
	Keep      int    // newest snapshots kept
	// Owner is uid:gid of the restored tree (the image's vault user).
	Owner             string
	PauseLimitSeconds int
	// Attempts: a copy that catches a write in flight is retried this
	// many times, a couple of seconds apart.
	Attempts int
	Job      backupjob.Job
}

// Backup is the scripts' values for a deployment under serviceDir.
func Backup(serviceDir string) BackupValues {
	return BackupValues{
		Container: ContainerName, DataDir: path.Join(serviceDir, "data"), BackupDir: backupDir(serviceDir),
		Prefix: Store, Keep: BackupsKept, Owner: fmt.Sprintf("%d:%d", UID, GID),
		PauseLimitSeconds: int(PauseLimit / time.Second), Attempts: 5,
		Job: Jobs(path.Join(serviceDir, "bin"))[0],
	}
}

var (
	plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	plainName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	owner     = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
)

// Validate reports values that would make the scripts unsafe.
func (v BackupValues) Validate() error {
	var p []string
	if !plainName.MatchString(v.Container) || !plainName.MatchString(v.Prefix) {
		p = append(p, fmt.Sprintf("container %q and prefix %q must be plain lower-case names", v.Container, v.Prefix))
	}
	for _, d := range []string{v.DataDir, v.BackupDir} {
		if !plainPath.MatchString(d) || strings.Contains(d, "..") || d == "/" {
			p = append(p, fmt.Sprintf("%q must be an absolute plain path (letters, digits, _ . / -)", d))
		}
	}
	if v.DataDir == v.BackupDir || strings.HasPrefix(v.BackupDir+"/", v.DataDir+"/") {
		p = append(p, "the backups must not be inside the data they back up")
	}
	if v.Keep < 1 {
		p = append(p, "at least the newest snapshot is kept")
	}
	if !owner.MatchString(v.Owner) {
		p = append(p, fmt.Sprintf("owner %q must be uid:gid", v.Owner))
	}
	if v.PauseLimitSeconds < 1 || v.Attempts < 1 {
		p = append(p, "the pause limit and the attempts must be at least 1")
	}
	if err := v.Job.Validate(); err != nil {
		p = append(p, err.Error())
	}
	if len(p) > 0 {
		return fmt.Errorf("vault backup scripts: %s", strings.Join(p, "; "))
	}
	return nil
}

//go:embed templates/backup.sh.tmpl templates/restore.sh.tmpl templates/common.sh.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("vault-scripts").Funcs(template.FuncMap{
	"shq":       shell.Quote,
	"recordRun": func() string { return backupjob.RecordRun },
	// docker inspect's own Go template, passed through untouched.
	"stateFormat": func() string { return shell.Quote("{{.State.Status}}") },
}).ParseFS(scriptFS, "templates/backup.sh.tmpl", "templates/restore.sh.tmpl", "templates/common.sh.tmpl"))

// RenderBackup renders backup.sh: pause Vault, copy its file backend into a
// tarball, unpause (always), then keep the newest Keep.
func RenderBackup(v BackupValues) (string, error) { return renderScript("backup.sh.tmpl", v) }

// RenderRestore renders restore.sh: put a snapshot back in place of the
// data directory, the current one moved aside.
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
