package stacks

import (
	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/offsite"
	"github.com/aurigraph/infra/components/postgres"
)

// deployDrill places the PostgreSQL recovery drill on backupDrill.host when
// the stores are copied off their hosts: the copies' script and secrets
// ReadOnly there (no timers: the data host copies; the drill reads the
// script's default target, SFTP when both), the live image, and the drill's
// script and timer. Without an off-host copy, postgres.NewPostgres keeps the local drill on
// the data host (deployPostgres): there is no copy to drill from.
func deployDrill(d *deployment, pg *postgres.Postgres) error {
	if !d.cfg.DrillOffHost() {
		return nil
	}
	h := d.engines[d.cfg.BackupDrill.Host]
	src := pg.Backups
	// The repositories the data host writes (offsiteArgs decides them from
	// the store's own host), read from the drill host.
	reader := offsiteArgs(d, src)
	reader.Source = backupjob.Source{Store: src.Store, Engine: h, Paths: src.Paths}
	reader.ReadOnly = true
	copies, err := offsite.New(d.ctx, "drill-offsite-"+src.Store, reader)
	if err != nil {
		return err
	}
	img, err := d.image(h, Postgres)
	if err != nil {
		return err
	}
	b := d.cfg.Retention.Backups
	_, err = postgres.NewOffsiteDrill(d.ctx, "postgres-drill", postgres.OffsiteDrillArgs{
		Engine:         h,
		Copies:         copies,
		Image:          img,
		ImageRef:       d.cfg.Images[Postgres],
		DataServiceDir: d.serviceDir(Postgres),
		Retention:      postgres.Retention{Hourly: b.Hourly, Daily: b.Daily, Weekly: b.Weekly, Monthly: b.Monthly, PreDeploy: preDeployDumpsKept},
		Dir:            ServiceDir(d.cfg, "backups"),
		Drill:          d.cfg.BackupDrill.Drill(true),
	})
	return err
}
