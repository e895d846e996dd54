package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
	"strconv"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/stacks"
)

// sshBackup runs the pre-deployment dump the program installs
// (components/postgres backup.sh predeploy: pg_dump, then pg_restore --list
// of the archive, so a dump that does not read back fails) on PostgreSQL's
// host, as cmd/reboot reaches hosts: ssh with the pinned host key and the
// deploy key from an ssh-agent (scripts/with-deploy-key).
type sshBackup struct {
	set    host.Settings
	script string // backup.sh on the host
}

// newSSHBackup finds PostgreSQL's host and its backup script in the config.
func newSSHBackup(c *stacks.Config) (*sshBackup, error) {
	name := stacks.Place(c).Services[stacks.Postgres]
	for _, h := range c.Hosts {
		if h.Name == name {
			return &sshBackup{
				set:    host.ConnectionSettings(stacks.ConnectionArgs(c, h)),
				script: path.Join(stacks.ServiceDir(c, stacks.Postgres), "bin", "backup.sh"),
			}, nil
		}
	}
	return nil, fmt.Errorf("no host runs PostgreSQL in the placement of the stack")
}

func (b *sshBackup) Backup(ctx context.Context) error {
	// The dumps and scripts are root's: sudo when the SSH user is not root,
	// as the program's own pre-deployment backup does.
	command := fmt.Sprintf(`if [ "$(id -u)" -eq 0 ]; then bash %[1]s predeploy; else sudo -n bash %[1]s predeploy; fi`, shell.Quote(b.script))
	args := append(host.DockerSSHOpts(b.set), "-T", "-l", b.set.Target.User, "-p", strconv.Itoa(b.set.Target.Port), "--", b.set.Target.Address, command)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s on %s: %w: %s", b.script, b.set.Name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
