//go:build integration

package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/testhost"
)

// The release's backup step over the helper's ssh (pinned host key, key
// from the agent, the non-root deploy user) on a real systemd + sshd host:
// it runs backup.sh predeploy as root (sudo -n), and a dump that does not
// read back fails the step with the script's own message. The script here
// is a stand-in at the installed path; the real one is exercised by
// components/postgres's integration tests.
func TestIntegrationBackupStepRunsThePredeployDumpOnThePostgresHost(t *testing.T) {
	h := testhost.Start(t)
	testhost.WithAgent(t, h.ClientKey)
	const script = "/srv/aurigraph data/postgres/bin/backup.sh" // a space: the path reaches the shell quoted
	r := h.Exec(t, `mkdir -p "/srv/aurigraph data/postgres/bin" && cat > "`+script+`" <<'EOF'
[ "$(id -u)" -eq 0 ] || { echo "not root" >&2; exit 3; }
[ -e /tmp/unreadable ] && { echo "/srv/backups/x.dump is not a readable archive" >&2; exit 1; }
echo "$1" > /tmp/backup-mode
EOF`)
	require.Equal(t, 0, r.Code, r.Stderr)
	b := &sshBackup{script: script, set: host.Settings{Name: "it-db-01",
		Target:         host.Endpoint{Address: h.Address, Port: h.Port, User: h.User, HostKey: h.HostKey},
		DialErrorLimit: 1, PerDialTimeout: 5 * time.Second}}
	require.NotEqual(t, "root", h.User, "the deploy user is not root: the step must use sudo")

	require.NoError(t, b.Backup(context.Background()))
	r = h.Exec(t, "cat /tmp/backup-mode")
	assert.Equal(t, "predeploy\n", r.Stdout, "the pre-deployment mode, as root")

	h.Exec(t, "touch /tmp/unreadable")
	err := b.Backup(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a readable archive")
	assert.Contains(t, err.Error(), "it-db-01")
}
