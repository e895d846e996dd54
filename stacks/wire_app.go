package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/redis"
)

// deployApp deploys every application replica of the placement, in rolling
// order, each on its host's Docker provider. Release weights are not read
// here: they live in the gateway config only, so a switch touches no container.
//
// The containers wait for pg's pre-deployment backup, so every release
// starts from a fresh dump, and log in as its application role. pool is the
// connection pooler the replicas reach the database through, which they
// wait for too. cache is Redis, where they log in as its application user.
// tracing is Jaeger: the replicas report to its endpoints.
func deployApp(d *deployment, pg *postgres.Postgres, pool *pgbouncer.PgBouncer, cache *redis.Redis, tracing *jaeger.Jaeger) (*app.Application, error) {
	var replicas []app.Replica
	for _, r := range d.place.Replicas {
		replicas = append(replicas, app.Replica{
			Name: r.Name, Tier: r.Tier, Slot: r.Slot, Group: r.Group, Index: r.Index,
			Engine: d.engines[r.Host], Image: r.Image,
		})
	}
	s := d.cfg.App
	return app.NewApplication(d.ctx, App, app.ApplicationArgs{
		Replicas:  replicas,
		Zones:     d.zones,
		Resources: d.cfg.ResourcesFor(App),
		Settings: app.Settings{
			TargetTPS: s.TargetTPS, BatchSize: s.BatchSize, ParallelThreads: s.ParallelThreads,
			DatasourceMaxSize: s.DatasourceMaxSize, DatasourceMinSize: s.DatasourceMinSize,
		},
		Endpoints: app.Endpoints{
			PostgresJDBC: pgbouncer.JDBCURL(), PostgresUser: postgres.AppUser, RedisHosts: redis.URL(), RedisUser: redis.AppUser,
			OTLP: tracing.OTLPEndpoint, JaegerGRPC: tracing.CollectorGRPCEndpoint,
		},
		DataDir:          d.serviceDir(App),
		PostgresPassword: pg.Passwords.App,
		RedisPassword:    cache.Passwords.App,
		DependsOn:        []pulumi.Resource{pg.PreDeployBackup, pool.Container},
	})
}

// dirsApp is the application's directory on each app host, owned by the
// image's user. Each replica's data/ and logs/ below it are created by the
// replica's own idempotent step (the replicas of a host are not known here),
// so scaling adds a step and changes no host preparation.
func dirsApp(dataPath string) []host.Dir {
	return []host.Dir{{Path: path.Join(dataPath, App), UID: app.UID, GID: app.UID, Mode: "0750"}}
}
