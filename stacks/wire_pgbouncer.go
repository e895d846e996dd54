package stacks

import (
	"fmt"
	"path"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
)

// Pooler is PgBouncer, the connection pooler. It runs beside PostgreSQL, on
// its host, so it has no role or placement of its own (not in Services).
const Pooler = pgbouncer.ContainerName

// postgresReserved are PostgreSQL's connections that do not come through
// the pooler, by holder: validation keeps them out of the pooler's server
// pool (validatePooler).
var postgresReserved = []struct {
	holder string
	n      int
}{
	{"superuser_reserved_connections", postgres.SuperuserReservedConnections},
	{"postgres-exporter", 2},                       // a scrape's connection and a slow previous one
	{"backup, restore and drill scripts", 3},       // pg_dump, pg_restore and psql of one run
	{"Vault's database secrets engine", 5},         // its own connection pool
	{"operators' psql sessions and migrations", 7}, // the rest of the former headroom of 20
}

// postgresReservedTotal is the sum of postgresReserved.
func postgresReservedTotal() int {
	n := 0
	for _, r := range postgresReserved {
		n += r.n
	}
	return n
}

// postgresReservedList names each reservation, for validation messages.
func postgresReservedList() string {
	parts := make([]string, len(postgresReserved))
	for i, r := range postgresReserved {
		parts[i] = fmt.Sprintf("%d %s", r.n, r.holder)
	}
	return strings.Join(parts, ", ")
}

// deployPooler runs PgBouncer and its exporter on PostgreSQL's host, in
// front of pg; the application connects to it (pgbouncer.JDBCURL).
func deployPooler(d *deployment, pg *postgres.Postgres) (*pgbouncer.PgBouncer, error) {
	h := d.engine(Postgres)
	img, err := d.image(h, ImagePgBouncer)
	if err != nil {
		return nil, err
	}
	exporterImg, err := d.image(h, ImagePgBouncerExporter)
	if err != nil {
		return nil, err
	}
	p := d.cfg.Pooler
	return pgbouncer.NewPgBouncer(d.ctx, Pooler, pgbouncer.PgBouncerArgs{
		Engine:           h,
		Zones:            d.zones,
		Image:            img,
		ExporterImage:    exporterImg,
		Resources:        d.cfg.ResourcesFor(Pooler),
		ExporterResource: d.cfg.ResourcesFor(Exporter),
		Postgres:         pg,
		ServiceDir:       d.serviceDir(Pooler),
		Pool:             pgbouncer.Pool{MaxClientConn: p.MaxClientConn, DefaultPoolSize: p.DefaultPoolSize, ReservePoolSize: p.ReservePoolSize},
	})
}

// poolerOutputs are the pooler's stack outputs.
func poolerOutputs(b *pgbouncer.PgBouncer) pulumi.Map {
	return pulumi.Map{"host": b.HostName, "containerName": b.ContainerName, "address": b.Address}
}

func dirsPooler(dataPath string) []host.Dir {
	return pgbouncer.Dirs(path.Join(dataPath, Pooler))
}
