package stacks

import (
	"path"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/postgres"
)

// preDeployDumpsKept: pre-deployment dumps are kept apart from the hourly
// rotation, so the last releases can always be rolled back to.
const preDeployDumpsKept = 10

// deployPostgres runs the database, its exporter and backups; the
// application waits for its pre-deployment backup.
func deployPostgres(d *deployment) (*postgres.Postgres, error) {
	h := d.engine(Postgres)
	img, err := d.image(h, Postgres)
	if err != nil {
		return nil, err
	}
	exporterImg, err := d.image(h, ImagePostgresExporter)
	if err != nil {
		return nil, err
	}
	var images []string
	for _, r := range d.place.Replicas {
		images = append(images, r.Image)
	}
	b := d.cfg.Retention.Backups
	return postgres.NewPostgres(d.ctx, Postgres, postgres.Args{
		Engine:           h,
		Zones:            d.zones,
		Image:            img,
		ExporterImage:    exporterImg,
		Resources:        d.cfg.ResourcesFor(Postgres),
		ExporterResource: d.cfg.ResourcesFor(Exporter),
		Password:         d.cfg.Secrets.PostgresPassword,
		ServiceDir:       d.serviceDir(Postgres),
		MaxConnections:   d.cfg.Postgres.MaxConnections,
		Retention:        postgres.Retention{Hourly: b.Hourly, Daily: b.Daily, Weekly: b.Weekly, Monthly: b.Monthly, PreDeploy: preDeployDumpsKept},
		ArchiveTimeout:   time.Duration(d.cfg.Postgres.ArchiveTimeoutSeconds) * time.Second,
		ReleaseImages:    images,
		// With an off-host copy the drill runs from it on another host (deployDrill).
		Drill: d.cfg.BackupDrill.Drill(d.cfg.DrillOffHost()),
	})
}

// postgresOutputs are PostgreSQL's stack outputs.
func postgresOutputs(pg *postgres.Postgres) pulumi.Map {
	return pulumi.Map{
		"host":          pg.HostName,
		"containerName": pg.ContainerName,
		"address":       pg.Address,
		"backupDir":     pg.BackupDir,
		// For Vault's post-init (docs/vault.md): the only role password an
		// operator types; a secret output.
		"vaultRolePassword": pg.Passwords.Vault,
	}
}

func dirsPostgres(dataPath string) []host.Dir {
	return postgres.Dirs(path.Join(dataPath, Postgres))
}
