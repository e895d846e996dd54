// Package pgbouncer deploys PgBouncer, a connection pooler in transaction
// mode between the application and PostgreSQL, and its Prometheus exporter,
// on the PostgreSQL host: the server connections PostgreSQL sees are bounded
// by the pool, not by the number of application replicas.
//
// Images: edoburu/pgbouncer (Alpine, PgBouncer built from the release
// tarball, runs as the postgres user 70, ships pg_isready for the health
// check, and reads the pgbouncer.ini it is given; its entrypoint is skipped).
// Not bitnami/pgbouncer: Bitnami stopped publishing versioned tags of its
// free images in 2025. The exporter is the Prometheus community's
// quay.io/prometheuscommunity/pgbouncer-exporter (busybox, wget for the
// health check).
package pgbouncer

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/internal/derive"
)

// Names, ports, users and in-container paths.
const (
	ContainerName = "pgbouncer"
	ExporterName  = "pgbouncer-exporter"
	Port          = 6432
	ExporterPort  = 9127
	// StatsUser is the exporter's login: stats_users lets it read the admin
	// console's SHOW commands and nothing else. It is PgBouncer's own user,
	// not a PostgreSQL role; its password is derived (StatsPassword).
	StatsUser = "pgbouncer_stats"
	// AdminDatabase is PgBouncer's virtual console database.
	AdminDatabase = "pgbouncer"
	// AuthFileName is the auth file beside pgbouncer.ini.
	AuthFileName = "userlist.txt"
	// UID/GID of the postgres user in the Alpine image.
	UID = 70
	GID = 70

	confMount = "/etc/pgbouncer"
)

// JDBCURL is how the application reaches the database: through the pooler.
// No prepareThreshold=0: the pinned PgBouncer (1.21 or later) keeps JDBC's
// named prepared statements working in transaction mode
// (max_prepared_statements), so pgjdbc keeps its server-side statements.
func JDBCURL() string {
	return fmt.Sprintf("jdbc:postgresql://%s:%d/%s", ContainerName, Port, postgres.Database)
}

// ExporterAddress is the exporter's /metrics endpoint Prometheus scrapes.
func ExporterAddress() string { return fmt.Sprintf("%s:%d", ExporterName, ExporterPort) }

// ExporterConnection is the exporter's connection string: the admin
// console as StatsUser, without the password (lib/pq reads PGPASSWORD).
func ExporterConnection() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", StatsUser, ContainerName, Port, AdminDatabase)
}

// ExporterHealthTest is the exporter's health check: healthy only when it
// serves metrics and reached PgBouncer on its last scrape (pgbouncer_up 1).
func ExporterHealthTest(url string) []string {
	return []string{"CMD-SHELL", fmt.Sprintf(`wget -q -O - %s | grep -q '^pgbouncer_up 1$'`, url)}
}

var versionTagRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// ImageSupportsPreparedStatements reports whether an edoburu/pgbouncer
// reference (tag v1.25.2-p0 or 1.22.1-p0, with or without a digest) is
// PgBouncer MinPreparedStatementsVersion or later; false when its tag
// names no version.
func ImageSupportsPreparedStatements(ref string) bool {
	ref, _, _ = strings.Cut(ref, "@")
	slash, colon := strings.LastIndex(ref, "/"), strings.LastIndex(ref, ":")
	if colon < slash {
		return false
	}
	m := versionTagRE.FindStringSubmatch(ref[colon+1:])
	if m == nil {
		return false
	}
	for i, min := range MinPreparedStatementsVersion {
		n, _ := strconv.Atoi(m[i+1])
		if n != min {
			return n > min
		}
	}
	return true
}

// PgBouncerArgs configure the pooler.
type PgBouncerArgs struct {
	// Engine is the PostgreSQL host's Docker engine.
	Engine *host.Engine
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones            *network.Zones
	Image            pulumi.StringInput
	ExporterImage    pulumi.StringInput
	Resources        container.Resources
	ExporterResource container.Resources
	// Postgres is the database the pool connects to: the pooler starts
	// once its roles are in place, and its auth file holds the passwords
	// of the roles that log in through it (Postgres.Passwords), never the
	// superuser's.
	Postgres   *postgres.Postgres
	ServiceDir string // holds conf/ on the host
	Pool       Pool
}

// PgBouncer is the deployed pooler and its exporter.
type PgBouncer struct {
	pulumi.ResourceState

	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	HostName      pulumi.StringOutput `pulumi:"host"`
	Address       pulumi.StringOutput `pulumi:"address"`
	ExporterAddr  pulumi.StringOutput `pulumi:"exporterAddress"`

	// Container is the pooler: the application's replicas wait for it.
	Container pulumi.Resource
}

// Dirs are the host directories the deployment needs under serviceDir:
// conf/ is read by the pooler's user, which owns the auth file in it.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "conf"), UID: 0, GID: GID, Mode: "0750"},
	}
}

// Passwords are the auth file's passwords.
type Passwords struct {
	App, Reporting string // the PostgreSQL roles' (postgres.RolePasswords)
	Stats          string // StatsUser's (StatsPassword)
}

// AuthUsers are the auth file's users: the PostgreSQL roles that log in
// through the pooler (the application's and reporting's; PgBouncer logs in
// to PostgreSQL as each with SCRAM, so it needs their passwords) and the
// exporter's console user.
func AuthUsers(p Passwords) []User {
	return []User{
		{Name: postgres.AppUser, Password: p.App},
		{Name: postgres.ReportingUser, Password: p.Reporting},
		{Name: StatsUser, Password: p.Stats},
	}
}

// StatsPassword is StatsUser's password, derived from the application's:
// the pooler holds that one anyway, so it learns nothing new, and the
// exporter's password reveals nothing about it (derive explains).
func StatsPassword(app pulumi.StringInput) pulumi.StringOutput {
	return derive.Secret(app, "pgbouncer/"+StatsUser)
}

// NewPgBouncer deploys the pooler, its configuration, its auth file and its exporter.
func NewPgBouncer(ctx *pulumi.Context, name string, args PgBouncerArgs, opts ...pulumi.ResourceOption) (*PgBouncer, error) {
	if args.Engine == nil || args.Postgres == nil {
		return nil, fmt.Errorf("pgbouncer %s: a Docker engine (host.NewEngine) and PostgreSQL are required", name)
	}
	b := &PgBouncer{}
	if err := ctx.RegisterComponentResource("aurigraph:pgbouncer:PgBouncer", name, b, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(b)
	content, err := RenderConfig(Defaults(args.Pool))
	if err != nil {
		return nil, err
	}
	confDir := path.Join(args.ServiceDir, "conf")
	// PgBouncer re-reads pgbouncer.ini and the auth file on SIGHUP (tini,
	// the container's init, forwards it); listen_addr/port need a restart.
	reload := fmt.Sprintf("docker kill --signal HUP %s", ContainerName)
	files, err := configfile.New(ctx, name+"-conf", configfile.Args{
		Host:      args.Engine.Host,
		Files:     []configfile.File{{Path: path.Join(confDir, "pgbouncer.ini"), Content: content}},
		Container: ContainerName,
		Reload:    reload,
	}, parent)
	if err != nil {
		return nil, err
	}
	pw := args.Postgres.Passwords
	auth := pulumi.All(pw.App, pw.Reporting, StatsPassword(pw.App)).ApplyT(func(v []any) (string, error) {
		return RenderAuthFile(AuthUsers(Passwords{App: v[0].(string), Reporting: v[1].(string), Stats: v[2].(string)}))
	}).(pulumi.StringOutput)
	authFile, err := configfile.NewSecrets(ctx, name+"-auth", configfile.SecretsArgs{
		Host: args.Engine.Host,
		Files: []configfile.Secret{{Path: path.Join(confDir, AuthFileName), Content: pulumi.ToSecret(auth).(pulumi.StringOutput),
			Owner: fmt.Sprintf("%d:%d", UID, GID), Mode: "0600"}},
		Container: ContainerName,
		Reload:    reload,
	}, parent)
	if err != nil {
		return nil, err
	}
	deps := append(append([]pulumi.Resource{args.Postgres.Roles}, files.Copies...), authFile.Copies...)
	c, err := container.New(ctx, ContainerName, PoolerSpec(args), parent, pulumi.Provider(args.Engine.Provider), pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	exporter := ExporterSpec(args)
	exporterSecrets, err := configfile.NewContainerSecrets(ctx, name+"-exporter-secrets", args.Engine.Host, exporter, parent)
	if err != nil {
		return nil, err
	}
	e, err := container.New(ctx, ExporterName, exporter, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append([]pulumi.Resource{c}, exporterSecrets.Copies...)))
	if err != nil {
		return nil, err
	}
	b.Container = c
	b.ContainerName = c.Name
	b.HostName = pulumi.String(args.Engine.Name).ToStringOutput()
	b.Address = pulumi.Sprintf("%s:%d", ContainerName, Port)
	b.ExporterAddr = pulumi.Sprintf("%s:%d", e.Name, ExporterPort)
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{
		"containerName": b.ContainerName, "host": b.HostName, "address": b.Address, "exporterAddress": b.ExporterAddr,
	})
}

// PoolerSpec is the PgBouncer container: the image's postgres user, no
// capability, read-only root, the config directory mounted read-only, and
// a nofile limit that holds every client and server connection.
func PoolerSpec(a PgBouncerArgs) container.Spec {
	return container.Spec{
		Service:  ContainerName,
		Name:     ContainerName,
		Image:    a.Image,
		Networks: a.Zones.For(ContainerName),
		Resource: a.Resources,
		User:     fmt.Sprintf("%d:%d", UID, GID),
		// The image's entrypoint writes a config from environment variables
		// when none exists; this one always exists, so it is skipped.
		Entrypoint: []string{"/usr/bin/pgbouncer"},
		Command:    []string{confMount + "/pgbouncer.ini"},
		// No Ports: internal only, reached as pgbouncer:6432 on the overlay.
		Mounts:         []container.Mount{{HostPath: path.Join(a.ServiceDir, "conf"), Target: confMount, ReadOnly: true}},
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=16m,mode=1777"},
		Ulimits:        map[string]int{"nofile": a.Pool.NoFile()},
		// pg_isready gets an answer (an authentication request) once
		// PgBouncer accepts connections; it sends no password.
		Health: container.Health{
			Test:        []string{"CMD", "pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(Port), "-U", postgres.AppUser, "-d", postgres.Database},
			Interval:    10 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 20 * time.Second,
			Retries:     3,
		},
		// The application's replicas start once the pooler accepts them.
		WaitHealthy: true,
	}
}

// statsPasswordOf is StatsPassword, nil without a database (a spec built
// for a test).
func statsPasswordOf(pg *postgres.Postgres) pulumi.StringInput {
	if pg == nil {
		return nil
	}
	return StatsPassword(pg.Passwords.App)
}

// passFile is the exporter's password file content, a secret; nil
// without a password (Validate refuses the spec then).
func passFile(password pulumi.StringInput) pulumi.StringInput {
	if password == nil {
		return nil
	}
	return pulumi.ToSecret(password.ToStringOutput().ApplyT(RenderExporterPassFile)).(pulumi.StringOutput)
}

// ExporterSpec is the pgbouncer_exporter sidecar: the connection string is
// plain, StatsUser's password a secret file (PGPASSFILE, read by lib/pq).
func ExporterSpec(a PgBouncerArgs) container.Spec {
	return container.Spec{
		Service:  ContainerName,
		Name:     ExporterName,
		Image:    a.ExporterImage,
		Networks: a.Zones.For(ExporterName),
		Resource: a.ExporterResource,
		User:     "65534:65534", // the image's nobody
		Env: map[string]string{
			"PGBOUNCER_EXPORTER_CONNECTION_STRING": ExporterConnection(),
		},
		SecretFiles: []container.SecretFile{{Name: ExporterPassFile, Env: "PGPASSFILE",
			Content: passFile(statsPasswordOf(a.Postgres))}},
		SecretsDir:     container.SecretsDir(a.ServiceDir, ExporterName),
		Command:        []string{fmt.Sprintf("--web.listen-address=:%d", ExporterPort)},
		ReadOnlyRootFS: true,
		Health: container.Health{
			Test:        ExporterHealthTest(fmt.Sprintf("http://127.0.0.1:%d/metrics", ExporterPort)),
			Interval:    30 * time.Second,
			Timeout:     10 * time.Second,
			StartPeriod: 30 * time.Second,
			Retries:     3,
		},
	}
}
