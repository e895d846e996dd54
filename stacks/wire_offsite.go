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

// offsiteBucket is backupObjectStore as restic's S3 back end takes it.
func offsiteBucket(o BackupObjectStore) offsite.S3 {
	return offsite.S3{Endpoint: strings.TrimSuffix(o.Endpoint, "/"), Bucket: o.Bucket, Prefix: o.Prefix, Region: o.Region}
}

// deployOffsite copies every store's backups to backupTarget and/or
// backupObjectStore, each store into its own repository on each, with
// retention.backups; nothing without either.
func deployOffsite(d *deployment, sources []backupjob.Source) error {
	t, o := d.cfg.BackupTarget, d.cfg.BackupObjectStore
	if !t.Configured() && !o.Configured() {
		return nil
	}
	for _, src := range sources {
		if _, err := offsite.New(d.ctx, "offsite-"+src.Store, offsiteArgs(d, src)); err != nil {
			return err
		}
	}
	return nil
}

// offsiteArgs are a store's copies from its host src to backupTarget and/or
// backupObjectStore, with retention.backups. The drill host reads the same
// repositories (deployDrill: the same args, its own Source, ReadOnly).
func offsiteArgs(d *deployment, src backupjob.Source) offsite.Args {
	t, o := d.cfg.BackupTarget, d.cfg.BackupObjectStore
	b := d.cfg.Retention.Backups
	s := d.cfg.Secrets
	a := offsite.Args{
		Source:    src,
		Password:  s.BackupRepositoryPassword,
		Retention: offsite.Retention{Hourly: b.Hourly, Daily: b.Daily, Weekly: b.Weekly, Monthly: b.Monthly},
		Dir:       ServiceDir(d.cfg, "backups"),
	}
	// A target on the store's own host is no second failure domain
	// (validation requires the object store then).
	if t.Configured() && hostAt(d.cfg, t.Host) != src.Engine.Name {
		a.Target, a.SSHKey = offsiteTarget(t), s.BackupTargetSSHKey
	}
	if o.Configured() {
		a.S3 = offsiteBucket(o)
		a.S3AccessKeyID, a.S3SecretAccessKey = s.BackupObjectStoreAccessKeyID, s.BackupObjectStoreSecretAccessKey
	}
	return a
}

// BackedUpStores are the services whose backups are copied off their host.
var BackedUpStores = []string{Postgres, Redis, Vault, Elasticsearch, Grafana}

// hostAt names the stack's host at addr (its address, cluster address or
// name); "" when addr is outside the stack.
func hostAt(c *Config, addr string) string {
	for _, h := range c.Hosts {
		if addr == h.Address || addr == h.ClusterAddress() || addr == h.Name {
			return h.Name
		}
	}
	return ""
}

// storesOn are the backed-up stores placed on the host named host.
func storesOn(c *Config, host string) []string {
	var out []string
	for _, s := range BackedUpStores {
		if placedHost(c, s) == host {
			out = append(out, s)
		}
	}
	return out
}
