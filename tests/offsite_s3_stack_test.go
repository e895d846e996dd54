package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

const (
	s3KeyID  = "AKIAAURIGRAPHPROD7Q2"
	s3Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-distinct-9e4b"
)

// withObjectStore adds an S3 bucket and its keys to s.
func withObjectStore(s *stackfile.Stack) *stackfile.Stack {
	return s.Set("backupObjectStore", `{"endpoint":"https://s3.eu-central-1.amazonaws.com","bucket":"aurigraph-backups","prefix":"prod","region":"eu-central-1"}`).
		SetSecret(stacks.SecretBackupObjectStoreAccessKeyID, s3KeyID).
		SetSecret(stacks.SecretBackupObjectStoreSecretAccessKey, s3Secret)
}

// offsiteFiles are what the program puts in the postgres store's offsite
// state directory (the secret files: name -> content, with their host)
// and its offsite.sh and timers.
func offsiteFiles(t *testing.T, s *stackfile.Stack) (secrets map[string]string, hosts map[string]bool, script, timers string) {
	t.Helper()
	res := harness.Run(t, s)
	for _, needle := range []string{s3KeyID, s3Secret} {
		assert.Empty(t, harness.PlaintextContaining(res, needle), "the S3 keys stay secret")
	}
	secrets, hosts = map[string]string{}, map[string]bool{}
	for _, w := range harness.Writes(res) {
		if strings.Contains(w.Path, "/backups/offsite/postgres/") {
			hosts[w.Host] = true
			secrets[w.Path[strings.LastIndex(w.Path, "/")+1:]] = w.Content
		}
	}
	for p, content := range harness.InstalledFiles(res) {
		if strings.HasSuffix(p, "/backups/bin/offsite-postgres.sh") {
			script = content
		}
	}
	require.NotEmpty(t, script, "offsite.sh is installed")
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "offsite-postgres-timers") {
			timers = harness.Str(r.Inputs, "stdin")
		}
	}
	assert.NotContains(t, timers, s3Secret, "no key in a unit")
	return secrets, hosts, script, timers
}

func TestBackupObjectStoreAloneCopiesToTheBucket(t *testing.T) {
	password := "Distinct-Repository-Password-3a9f"
	s := withObjectStore(harness.Stack(t, "prod").SetSecret(stacks.SecretBackupRepositoryPassword, password))
	secrets, hosts, script, timers := offsiteFiles(t, s)

	// The keys reach the data host and the drill host (prod-obs-01, which
	// reads the copy: tests/drill_stack_test.go) only, as root-only files
	// beside the password.
	assert.Equal(t, map[string]bool{"198.51.100.20": true, "198.51.100.30": true}, hosts, "on prod-data-01 and the drill host only")
	assert.Equal(t, map[string]string{"repository-password": password, "s3-access-key-id": s3KeyID, "s3-secret-access-key": s3Secret}, secrets)

	assert.Contains(t, script, "repository='s3:https://s3.eu-central-1.amazonaws.com/aurigraph-backups/prod/postgres'", "<endpoint>/<bucket>/<prefix>/<store>")
	assert.Contains(t, script, "targets=( s3)", "the bucket is the only target, so the default")
	assert.NotContains(t, script, "sftp.command")
	assert.Contains(t, script, "--keep-hourly 24 --keep-daily 7 --keep-weekly 4 --keep-monthly 12", "retention.backups applies to the bucket")
	assert.Contains(t, timers, "offsite-postgres.sh s3 copy")
	assert.Contains(t, timers, "aurigraph-backup-postgres-s3-check.timer")
	assert.Contains(t, timers, "seed_run 'postgres' 's3-copy' 1200", "a copy to the bucket older than 20 minutes alerts")
	assert.NotContains(t, timers, "offsite-copy", "no SFTP jobs without backupTarget")

	// A first preview plans it too (secrets unknown there).
	harness.Preview(t, s)
}

func TestBothTargetsGetEveryCopy(t *testing.T) {
	password := "Distinct-Repository-Password-7c1d"
	s, key := withBackupTarget(t, password)
	s = withObjectStore(s)
	secrets, hosts, script, timers := offsiteFiles(t, s)
	assert.Equal(t, map[string]bool{"198.51.100.20": true, "198.51.100.30": true}, hosts, "on prod-data-01 and the drill host only")
	assert.Equal(t, map[string]string{"repository-password": password, "ssh-key": key,
		"s3-access-key-id": s3KeyID, "s3-secret-access-key": s3Secret}, secrets, "one password for both repositories")
	assert.Contains(t, script, "repository='sftp:backup@192.0.2.51:/srv/restic/aurigraph-prod/postgres'")
	assert.Contains(t, script, "repository='s3:https://s3.eu-central-1.amazonaws.com/aurigraph-backups/prod/postgres'")
	assert.Contains(t, script, "targets=( sftp s3)", "SFTP is the default for restore and snapshots")
	for _, kind := range []string{"offsite-copy", "offsite-forget", "offsite-check", "s3-copy", "s3-forget", "s3-check"} {
		assert.Contains(t, timers, "aurigraph-backup-postgres-"+kind+".timer", "each target on its own timers")
	}
	harness.Preview(t, s)
}

func TestBackupObjectStoreIsRefusedWithKeyAndFix(t *testing.T) {
	err := harness.RunErr(harness.Stack(t, "prod").
		Set("backupObjectStore", `{"endpoint":"http://s3.example.net","bucket":"Backups","prefix":"/prod"}`))
	require.Error(t, err)
	for _, want := range []string{
		"aurigraph:backupRepositoryPassword required secret is not set",
		"aurigraph:backupObjectStoreAccessKeyId required secret is not set",
		"aurigraph:backupObjectStoreSecretAccessKey required secret is not set",
		"aurigraph:backupObjectStore.endpoint \"http://s3.example.net\" uses plain http",
		"aurigraph:backupObjectStore.bucket \"Backups\" must be 3-63 lower-case letters",
		"aurigraph:backupObjectStore.prefix \"/prod\" must be words",
	} {
		assert.Contains(t, err.Error(), want)
	}
	// A key in plain text is refused.
	err = harness.RunErr(harness.Stack(t, "prod").SetSecret(stacks.SecretBackupRepositoryPassword, "Distinct-Repository-Password-3a9f").
		Set("backupObjectStore", `{"endpoint":"https://s3.example.net","bucket":"aurigraph-backups"}`).
		SetSecret(stacks.SecretBackupObjectStoreAccessKeyID, s3KeyID).
		Set(stacks.SecretBackupObjectStoreSecretAccessKey, s3Secret))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aurigraph:backupObjectStoreSecretAccessKey is stored in plain text")
}

// A target on another store's host (prod-obs-01 holds Elasticsearch) is no
// second failure domain for that store: refused alone, and with the bucket
// that store's copies go to the bucket only, PostgreSQL's to both.
func TestBackupTargetOnAStoresHostNeedsTheBucket(t *testing.T) {
	s, _ := withBackupTarget(t, "Distinct-Repository-Password-7c1d")
	s = s.Set("backupTarget", `{"host":"192.0.2.30","user":"backup","path":"/srv/restic/aurigraph-prod","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKuFFePdS/iC7ONnWt66CUnRhtBfMdDARUBBtFj6ZSMw"}`)
	err := harness.RunErr(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backupTarget.host 192.0.2.30 is prod-obs-01, which holds elasticsearch, grafana: their backups would have no copy off their host")
	assert.Contains(t, err.Error(), "add backupObjectStore for them")

	res := harness.Run(t, withObjectStore(s))
	scripts := harness.InstalledFiles(res)
	var es, pg string
	for p, content := range scripts {
		switch {
		case strings.HasSuffix(p, "/backups/bin/offsite-elasticsearch.sh"):
			es = content
		case strings.HasSuffix(p, "/backups/bin/offsite-postgres.sh"):
			pg = content
		}
	}
	require.NotEmpty(t, es)
	assert.NotContains(t, es, "sftp:backup@192.0.2.30", "no copy of Elasticsearch onto its own host")
	assert.Contains(t, es, "s3:https://")
	assert.Contains(t, pg, "sftp:backup@192.0.2.30", "PostgreSQL's host is another")
}
