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

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/shell"
)

// Store is the backupjob store of Redis's jobs; its one kind is the hourly
// RDB snapshot.
const (
	Store        = "redis"
	KindSnapshot = "snapshot"
	// BackupEvery is the snapshot schedule; BackupMaxAge is one period plus
	// room for a long BGSAVE and a late timer, before BackupTooOld fires.
	BackupEvery  = "hourly"
	BackupMaxAge = 2 * time.Hour
	// SnapshotsKept: the newest 12 hourly snapshots stay on the host (half a
	// day to notice a bad write and go back before it); older points are in
	// the off-host copies. A cache's value decays fast and each snapshot is
	// up to the whole dataset (maxmemory, 3 GB in prod, less once
	// compressed), so 12 bounds the directory at about 12 datasets.
	SnapshotsKept = 12
)

// Jobs are the scheduled runs on the data host, their scripts in binDir.
func Jobs(binDir string) []backupjob.Job {
	return []backupjob.Job{{
		Store: Store, Kind: KindSnapshot, Description: "Redis RDB snapshot and rotation",
		Command: "/bin/bash " + path.Join(binDir, "backup.sh"),
		Every:   BackupEvery, Persistent: true, MaxAge: BackupMaxAge, Docker: true,
	}}
}

// BackupPaths are what the off-host copies take: the snapshots.
func BackupPaths(serviceDir string) []string { return []string{path.Join(serviceDir, "backups")} }

//go:embed templates/*.sh.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("redis-scripts").Funcs(template.FuncMap{
	"shq":       shell.Quote,
	"recordRun": func() string { return backupjob.RecordRun },
	"store":     func() string { return Store },
	"job":       func() backupjob.Job { return Jobs("/")[0] },
}).ParseFS(scriptFS, "templates/*.sh.tmpl"))

// ScriptValues parameterise backup.sh and restore.sh. Each is a default the
// environment may override (CONTAINER, DATA_DIR, BACKUP_DIR, ...), so the
// same scripts run against a local redis-server in tests.
type ScriptValues struct {
	Container string // the Redis container the scripts exec into
	DataDir   string // its /data on the host (dump.rdb, appendonlydir)
	BackupDir string // the snapshots, root's
	// AsideDir receives the data a restore replaces (never deleted).
	AsideDir string
	// AdminUser logs in with the password in PasswordFile, a path inside
	// the container: the password never leaves it.
	AdminUser    string
	PasswordFile string
	// ServerCommand is the container's command line (redis-server and its
	// config file): restore.sh runs it once with AOF off to load the RDB.
	ServerCommand []string
	Owner         string // uid:gid of the data files (the image's redis user)
	Keep          int    // snapshots kept, newest first
	WaitSeconds   int    // how long a BGSAVE, a load or an AOF rewrite may take
}

var (
	plainWord = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)
	owner     = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
)

// Validate reports values that would make a script unsafe.
func (v ScriptValues) Validate() error {
	var p []string
	for name, d := range map[string]string{"data dir": v.DataDir, "backup dir": v.BackupDir, "aside dir": v.AsideDir, "password file": v.PasswordFile} {
		if !plainPath.MatchString(d) || strings.Contains(d, "..") {
			p = append(p, fmt.Sprintf("%s %q must be an absolute plain path", name, d))
		}
	}
	if v.DataDir != "" && (v.BackupDir == v.DataDir || v.AsideDir == v.DataDir || strings.HasPrefix(v.BackupDir, v.DataDir+"/") || strings.HasPrefix(v.AsideDir, v.DataDir+"/")) {
		p = append(p, "the backup and aside dirs must be outside the data dir (Redis owns it)")
	}
	if !word.MatchString(v.Container) || !word.MatchString(v.AdminUser) {
		p = append(p, fmt.Sprintf("container %q and admin user %q must be plain names", v.Container, v.AdminUser))
	}
	if len(v.ServerCommand) == 0 {
		p = append(p, "the server command is required")
	}
	for _, w := range v.ServerCommand {
		if !plainWord.MatchString(w) {
			p = append(p, fmt.Sprintf("server command word %q must be plain", w))
		}
	}
	if !owner.MatchString(v.Owner) {
		p = append(p, fmt.Sprintf("owner %q must be numeric uid:gid", v.Owner))
	}
	if v.Keep < 1 {
		p = append(p, "at least one snapshot is kept")
	}
	if v.WaitSeconds < 1 {
		p = append(p, "the wait must be at least 1 s")
	}
	if len(p) > 0 {
		return fmt.Errorf("redis scripts: %s", strings.Join(p, "; "))
	}
	return nil
}

var (
	plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	word      = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// Scripts are the scripts' values for a deployment under serviceDir.
func Scripts(serviceDir string) ScriptValues {
	return ScriptValues{
		Container: ContainerName, DataDir: path.Join(serviceDir, "data"), BackupDir: path.Join(serviceDir, "backups"),
		AsideDir: path.Join(serviceDir, "restore-aside"), AdminUser: AdminUser, PasswordFile: container.SecretPath(PasswordFile),
		ServerCommand: serverCommand, Owner: fmt.Sprintf("%d:%d", UID, GID), Keep: SnapshotsKept,
		// A 3 GB dataset saves and loads in well under a minute on a disk;
		// 15 minutes leaves room for a slow disk and a busy host.
		WaitSeconds: 900,
	}
}

// serverCommand is the container's command: one owner for ServerSpec and restore.sh.
var serverCommand = []string{"redis-server", confMount + "/redis.conf"}

// RenderBackup renders backup.sh: a BGSAVE, the copy of its dump.rdb into
// the backups, its check, the rotation, and the run's outcome metrics.
func RenderBackup(v ScriptValues) (string, error) { return renderScript("backup.sh.tmpl", v) }

// RenderRestore renders restore.sh: a snapshot back into the data directory,
// with a fresh AOF written from it.
func RenderRestore(v ScriptValues) (string, error) { return renderScript("restore.sh.tmpl", v) }

func renderScript(name string, v ScriptValues) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := scripts.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// newBackups installs the scripts in binDir and the hourly timer; it
// returns the timers step.
func newBackups(ctx *pulumi.Context, name string, a Args, binDir string, server pulumi.Resource, parent pulumi.ResourceOption) (pulumi.Resource, error) {
	sv := Scripts(a.ServiceDir)
	var files []configfile.File
	for _, s := range []struct {
		file   string
		render func(ScriptValues) (string, error)
	}{{"backup.sh", RenderBackup}, {"restore.sh", RenderRestore}} {
		content, err := s.render(sv)
		if err != nil {
			return nil, err
		}
		files = append(files, configfile.File{Path: path.Join(binDir, s.file), Content: content, Mode: "0750"})
	}
	installed, err := configfile.New(ctx, name+"-scripts", configfile.Args{Host: a.Engine.Host, Files: files}, parent)
	if err != nil {
		return nil, err
	}
	// The timer starts once the server (BGSAVE) and the scripts are there.
	return backupjob.NewTimers(ctx, name+"-backup-timers", backupjob.TimersArgs{
		Connection:  a.Engine.Connection,
		TimerValues: backupjob.TimerValues{Jobs: Jobs(binDir)},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{server}, installed.Copies...)))
}
