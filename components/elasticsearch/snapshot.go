package elasticsearch

import (
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/container"
)

// Snapshots of the log data streams: a shared-file-system repository on the
// host (SnapshotsHostDir, mounted at SnapshotsDir, Elasticsearch's path.repo)
// that a daily job fills (snapshot.sh) as the least-privilege SnapshotUser,
// and restore.sh reads back. The off-host copies take the directory whole
// (Elasticsearch.Backups).
const (
	// SnapshotsDir is path.repo inside the container.
	SnapshotsDir = homeDir + "/snapshots"
	// Repository is the fs repository the setup registers at SnapshotsDir.
	Repository = "aurigraph-logs"
	// SnapshotPrefix + UTC time (YYYYmmddtHHMMSSz, lower case as
	// Elasticsearch wants snapshot names) names each scheduled snapshot, so
	// names sort by time; retention touches only these.
	SnapshotPrefix = "logs-"
	// SnapshotRole and SnapshotUser take and prune snapshots, nothing else.
	SnapshotRole = "aurigraph_snapshot_manager"
	SnapshotUser = "snapshot_manager"
	// RestorePrefix is put before every restored data stream and index, so a
	// restore never touches the live ones (restore.sh, unless confirmed).
	RestorePrefix = "restored-"
	// SnapshotsKept: 14 daily snapshots. Snapshots are incremental (they
	// share segment files), so the 13 older ones cost only what changed
	// since; two weeks covers a deletion or a broken ILM change noticed
	// after a weekend and a holiday. Older states are in the off-host
	// copies' history.
	SnapshotsKept = 14
	// SnapshotEvery runs at 02:30 local time, before the morning's load.
	SnapshotEvery = "*-*-* 02:30:00"
	// SnapshotMaxAge: one day plus two hours for a long run.
	SnapshotMaxAge = 26 * time.Hour
	// Store and KindSnapshot label the job's metrics.
	Store        = "elasticsearch"
	KindSnapshot = "snapshot"
	// SnapshotPasswordFile holds SnapshotUser's password on the host
	// (root-only, under the service's bin directory's sibling backup/).
	snapshotPasswordFile = "snapshot-manager.password"
)

// SnapshotsHostDir is the repository on the host.
func SnapshotsHostDir(hostDir string) string { return path.Join(hostDir, "snapshots") }

// BinDir holds the snapshot and restore scripts on the host.
func BinDir(hostDir string) string { return path.Join(hostDir, "bin") }

// SnapshotPasswordPath is SnapshotUser's password file on the host.
func SnapshotPasswordPath(hostDir string) string {
	return path.Join(hostDir, "backup", snapshotPasswordFile)
}

// ElasticPasswordPath is the elastic user's secret file on the host (the
// container's, see PasswordFile): restore.sh uses it, as restoring needs the
// manage privilege the snapshot user has not.
func ElasticPasswordPath(hostDir string) string {
	return path.Join(container.SecretsDir(hostDir, Name), PasswordFile)
}

// Jobs are the scheduled runs on the Elasticsearch host.
func Jobs(hostDir string) []backupjob.Job {
	return []backupjob.Job{{
		Store: Store, Kind: KindSnapshot, Description: "Elasticsearch snapshot of the log data streams",
		Command: "/bin/bash " + path.Join(BinDir(hostDir), "snapshot.sh"),
		Every:   SnapshotEvery, Persistent: true, MaxAge: SnapshotMaxAge, Docker: true,
	}}
}

// SnapshotValues configure the snapshot, restore and snapshot setup scripts.
type SnapshotValues struct {
	Container  string // docker exec target
	URL        string // Elasticsearch as the container reaches itself (SelfURL)
	CAPath     string // CA certificate inside the container
	Repository string
	Location   string // path.repo inside the container (SnapshotsDir)
	Indices    string // what each snapshot holds (IndexPattern)
	Prefix     string // SnapshotPrefix
	Keep       int    // SnapshotsKept
	// User and PasswordFile: who snapshot.sh logs in as and the host file
	// with the password.
	User         string
	PasswordFile string
	// ElasticPasswordFile: restore.sh logs in as elastic.
	ElasticPasswordFile string
	RestorePrefix       string
	Role                string
	// Job is the scheduled job, whose metrics snapshot.sh writes.
	Job backupjob.Job
	// MaxSeconds bounds one request (a snapshot or restore waits for
	// completion).
	MaxSeconds int
}

// DefaultSnapshots are the platform's snapshot settings for a service directory.
func DefaultSnapshots(hostDir string) SnapshotValues {
	return SnapshotValues{
		Container: Name, URL: SelfURL(), CAPath: CAPath, Repository: Repository, Location: SnapshotsDir,
		Indices: IndexPattern, Prefix: SnapshotPrefix, Keep: SnapshotsKept,
		User: SnapshotUser, PasswordFile: SnapshotPasswordPath(hostDir), ElasticPasswordFile: ElasticPasswordPath(hostDir),
		RestorePrefix: RestorePrefix, Role: SnapshotRole, Job: Jobs(hostDir)[0], MaxSeconds: 3 * 3600,
	}
}

var (
	snapNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	patternRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.*-]*$`)
)

func (v SnapshotValues) validate() error {
	for what, s := range map[string]string{"container": v.Container, "repository": v.Repository, "prefix": v.Prefix,
		"user": v.User, "role": v.Role, "restore prefix": v.RestorePrefix} {
		if !snapNameRE.MatchString(s) {
			return fmt.Errorf("snapshots: %s %q must be lowercase letters, digits, '_', '.', '-'", what, s)
		}
	}
	if !patternRE.MatchString(v.Indices) {
		return fmt.Errorf("snapshots: indices %q must be a name or wildcard pattern", v.Indices)
	}
	for what, p := range map[string]string{"location": v.Location, "CA path": v.CAPath, "password file": v.PasswordFile,
		"elastic password file": v.ElasticPasswordFile} {
		if !path.IsAbs(p) {
			return fmt.Errorf("snapshots: %s %q must be an absolute path", what, p)
		}
	}
	if v.URL == "" || v.Keep < 1 || v.MaxSeconds < 1 {
		return fmt.Errorf("snapshots: URL, a retention of at least 1 and a request time limit are required")
	}
	return v.Job.Validate()
}

// RenderSnapshot is snapshot.sh: one snapshot of the log data streams,
// checked SUCCESS, then retention; every run is recorded for the alerts.
func RenderSnapshot(v SnapshotValues) (string, error) { return renderSnapshots("snapshot.sh.tmpl", v) }

// RenderRestore is restore.sh: lists snapshots and restores one under
// RestorePrefix (or in place, confirmed).
func RenderRestore(v SnapshotValues) (string, error) { return renderSnapshots("restore.sh.tmpl", v) }

// RenderSnapshotSetup is the idempotent step that registers the repository
// and creates the snapshot role and user. It reads the elastic and the
// snapshot user's passwords from stdin (SnapshotSetupStdin).
func RenderSnapshotSetup(v SnapshotValues) (string, error) {
	return renderSnapshots("snapshot-setup.sh.tmpl", v)
}

// SnapshotSetupStdin is what the snapshot setup reads: one password per line.
func SnapshotSetupStdin(elastic, snapshot pulumi.StringInput) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.Sprintf("%s\n%s\n", elastic, snapshot)).(pulumi.StringOutput)
}

func renderSnapshots(name string, v SnapshotValues) (string, error) {
	if err := v.validate(); err != nil {
		return "", err
	}
	return render(name, v)
}
