package tests

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// withBackupTarget is prod copying its backups to an SFTP account on a
// machine outside the stack, with both secrets set.
func withBackupTarget(t *testing.T, password string) (*stackfile.Stack, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	key := string(pem.EncodeToMemory(block))
	s := harness.Stack(t, "prod").
		Set("backupTarget", `{"host":"192.0.2.51","user":"backup","path":"/srv/restic/aurigraph-prod","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKuFFePdS/iC7ONnWt66CUnRhtBfMdDARUBBtFj6ZSMw backup-01"}`).
		SetSecret(stacks.SecretBackupRepositoryPassword, password).
		SetSecret(stacks.SecretBackupTargetSSHKey, key)
	return s, key
}

func TestBackupTargetCopiesOffTheDataHost(t *testing.T) {
	password := "Distinct-Repository-Password-7c1d"
	s, key := withBackupTarget(t, password)
	res := harness.Run(t, s)
	assert.Empty(t, harness.PlaintextContaining(res, password), "the repository password stays secret")
	assert.Empty(t, harness.PlaintextContaining(res, strings.Split(key, "\n")[1]), "the login key stays secret")

	// The secrets reach the data host as root-only files, and the drill
	// host (prod-obs-01, tests/drill_stack_test.go), nowhere else.
	secretFiles := map[string]string{}
	for _, w := range harness.Writes(res) {
		if strings.Contains(w.Path, "/backups/offsite/postgres/") {
			assert.Contains(t, []string{"198.51.100.20", "198.51.100.30"}, w.Host, "on prod-data-01 or the drill host: %s", w.Path)
			secretFiles[w.Path[strings.LastIndex(w.Path, "/")+1:]] = w.Content
		}
	}
	assert.Equal(t, map[string]string{"repository-password": password, "ssh-key": key}, secretFiles)

	var script string
	for p, content := range harness.InstalledFiles(res) {
		if strings.HasSuffix(p, "/backups/bin/offsite-postgres.sh") {
			script = content
		}
	}
	require.NotEmpty(t, script, "offsite.sh is installed")
	assert.Contains(t, script, "repository='sftp:backup@192.0.2.51:/srv/restic/aurigraph-prod/postgres'", "each store has its own repository")
	assert.Contains(t, script, "printf '%s %s\\n' '192.0.2.51' 'ssh-ed25519 AAAAC3", "known_hosts pins the key")
	assert.NotContains(t, script, "backup-01'", "the key's comment stays out of known_hosts")
	assert.Contains(t, script, "--keep-hourly 24 --keep-daily 7 --keep-weekly 4 --keep-monthly 12", "retention.backups applies to the copies")

	var timers string
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "offsite-postgres-timers") {
			timers = harness.Str(r.Inputs, "stdin")
		}
	}
	assert.Contains(t, timers, "offsite-postgres.sh sftp copy")
	assert.Contains(t, timers, "aurigraph-backup-postgres-offsite-check.timer")
	assert.Contains(t, timers, "seed_run 'postgres' 'offsite-copy' 1200", "a copy older than 20 minutes alerts")

	// A first preview plans it too (secrets unknown there).
	harness.Preview(t, s)
}

func TestBackupTargetIsRefusedWithKeyAndFix(t *testing.T) {
	prod := harness.Stack(t, "prod")
	// On the data host itself, relative path, no secrets.
	err := harness.RunErr(prod.Set("backupTarget", `{"host":"198.51.100.20","user":"backup","path":"restic","hostKey":"ssh-ed25519 AAAA"}`))
	require.Error(t, err)
	for _, want := range []string{
		"aurigraph:backupRepositoryPassword required secret is not set",
		"aurigraph:backupTargetSshKey required secret is not set",
		"aurigraph:backupTarget.host 198.51.100.20 is prod-data-01, the PostgreSQL host itself",
		"aurigraph:backupTarget.path \"restic\" is not an absolute plain path",
		"aurigraph:backupTarget.hostKey is not one SSH public key line",
	} {
		assert.Contains(t, err.Error(), want)
	}
	s, _ := withBackupTarget(t, "password")
	err = harness.RunErr(s.SetSecret(stacks.SecretBackupTargetSSHKey, "not a key"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aurigraph:backupRepositoryPassword is a weak or default credential")
	assert.Contains(t, err.Error(), "aurigraph:backupTargetSshKey is not an unencrypted SSH private key")
}
