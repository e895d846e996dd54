package stacks

import (
	"strings"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/offsite"
)

// offsiteTarget is backupTarget as restic's SFTP back end takes it.
func offsiteTarget(t BackupTarget) offsite.SFTP {
	// The pin is the key itself: a comment stays out of known_hosts.
	return offsite.SFTP{Host: t.Host, Port: t.Port, User: t.User, Path: t.Path, HostKey: strings.Join(strings.Fields(t.HostKey)[:2], " ")}
}

// deployOffsite copies every store's backups to backupTarget, each store
// into its own repository, with retention.backups; nothing without a target.
func deployOffsite(d *deployment, sources []backupjob.Source) error {
	t := d.cfg.BackupTarget
	if !t.Configured() {
		return nil
	}
	b := d.cfg.Retention.Backups
	for _, src := range sources {
		if _, err := offsite.New(d.ctx, "offsite-"+src.Store, offsite.Args{
			Source:    src,
			Target:    offsiteTarget(t),
			Password:  d.cfg.Secrets.BackupRepositoryPassword,
			SSHKey:    d.cfg.Secrets.BackupTargetSSHKey,
			Retention: offsite.Retention{Hourly: b.Hourly, Daily: b.Daily, Weekly: b.Weekly, Monthly: b.Monthly},
			Dir:       ServiceDir(d.cfg, "backups"),
		}); err != nil {
			return err
		}
	}
	return nil
}
