// Package postgres deploys PostgreSQL, its Prometheus exporter and its
// backups (hourly dumps with rotation, a pre-deployment dump before every
// application release, a monthly recovery drill) on one host.
package postgres

import (
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/internal/derive"
)

// Names and in-container paths the other services and scripts rely on.
const (
	ContainerName = "postgres"
	ExporterName  = "postgres-exporter"
	Port          = 5432
	ExporterPort  = 9187
	Database      = "aurigraph"
	// User is the superuser initdb creates (POSTGRES_USER): the roles
	// bootstrap and the backup scripts only; services use roles.go's roles.
	User = "aurigraph"
	// UID/GID of the postgres user in the alpine image: the data directory's owner.
	UID = 70
	GID = 70

	confMount = "/etc/postgresql"
	dataMount = "/var/lib/postgresql/data"
	// archiveMount is the WAL archive and base backups volume
	// (ServiceDir/archive): archive_command writes wal/ there.
	archiveMount = "/var/lib/postgresql/archive"
)

// Point-in-time recovery. archive_timeout switches a WAL segment at least
// this often, so with the off-host copy every CopyEvery a lost host loses at
// most about their sum (the RPO). A base backup is taken daily; the newest
// BaseBackupsKept stay on the host with the WAL from the oldest on (a
// restore to any time since then needs nothing else), older ones are in the
// off-host copies.
const (
	DefaultArchiveTimeout = 60 * time.Second
	BaseBackupEvery       = "daily"
	BaseBackupsKept       = 2
)

// Backup and recovery drill schedules (systemd OnCalendar) and how old the
// last success of each may be before its alert fires (components/prometheus,
// through backupjob's metrics): one period plus room for a run that takes long.
const (
	BackupEvery      = "hourly"
	BackupMaxAge     = 90 * time.Minute
	BaseBackupMaxAge = 26 * time.Hour
	// The drill: the first Sunday of each month at 04:00. First Sundays
	// are 28 or 35 days apart; a day more lets a long drill finish.
	DrillEvery  = "Sun *-*-01..07 04:00:00"
	DrillMaxAge = 36 * 24 * time.Hour
)

// Drill is when the recovery drill runs, how old its last success may be
// before RestoreDrillOverdue fires, and where it runs: OffHost drills run
// from the off-host copy on another host (NewOffsiteDrill), so the data host
// keeps no drill timer; otherwise drill.sh restores the newest local dump on
// the data host.
type Drill struct {
	Every   string
	MaxAge  time.Duration
	OffHost bool
}

// DefaultDrill is the drill's default schedule, on the data host.
func DefaultDrill() Drill { return Drill{Every: DrillEvery, MaxAge: DrillMaxAge} }

// Store is the backupjob store of every PostgreSQL job; the kinds are its
// dumps, base backups and drills.
const (
	Store     = "postgres"
	KindDump  = "dump"
	KindBase  = "base"
	KindDrill = backupjob.DrillKind
)

// Jobs are the scheduled runs on the data host, their scripts in binDir:
// the dumps, the base backups and, unless it runs off the host, the drill.
func Jobs(binDir string, d Drill) []backupjob.Job {
	jobs := []backupjob.Job{
		{Store: Store, Kind: KindDump, Description: "PostgreSQL backup and rotation", Command: "/bin/bash " + path.Join(binDir, "backup.sh") + " scheduled",
			Every: BackupEvery, Persistent: true, MaxAge: BackupMaxAge, Docker: true},
		{Store: Store, Kind: KindBase, Description: "PostgreSQL base backup for point-in-time recovery", Command: "/bin/bash " + path.Join(binDir, "basebackup.sh"),
			Every: BaseBackupEvery, Persistent: true, MaxAge: BaseBackupMaxAge, Docker: true},
	}
	if !d.OffHost {
		jobs = append(jobs, DrillJob("PostgreSQL recovery drill (restore the newest dump and verify it)", path.Join(binDir, "drill.sh"), d))
	}
	return jobs
}

// DrillJob is the drill's scheduled run of script, on whichever host.
func DrillJob(description, script string, d Drill) backupjob.Job {
	return backupjob.Job{Store: Store, Kind: KindDrill, Description: description, Command: "/bin/bash " + script,
		Every: d.Every, Persistent: true, MaxAge: d.MaxAge, Docker: true}
}

// ExporterAddress is the exporter's /metrics endpoint Prometheus scrapes.
func ExporterAddress() string { return fmt.Sprintf("%s:%d", ExporterName, ExporterPort) }

// Args configure one PostgreSQL deployment. Every value is plain data
// computed by the wiring, except the images and the password.
type Args struct {
	Engine *host.Engine
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones            *network.Zones
	Image            pulumi.StringInput // postgres (alpine)
	ExporterImage    pulumi.StringInput
	Resources        container.Resources
	ExporterResource container.Resources
	// Password is the superuser's (secret); the roles' are derived from it.
	Password pulumi.StringInput
	// ServiceDir holds conf/, data/, bin/ and backups/ on the host.
	ServiceDir string
	// MaxConnections is a fixed ceiling from the stack config, not derived
	// from the replica count: scaling the application must not rewrite
	// postgresql.conf (max_connections only applies on a restart).
	MaxConnections int
	Retention      Retention
	// ArchiveTimeout is archive_timeout: how long a commit may wait in
	// pg_wal before its segment is archived (0: DefaultArchiveTimeout).
	ArchiveTimeout time.Duration
	// ReleaseImages are the application images (distinct, sorted): a change
	// triggers the pre-deployment backup.
	ReleaseImages []string
	// Drill is the recovery drill's schedule and place (zero: DefaultDrill).
	Drill Drill
}

// Retention is how many scheduled dumps to keep per period, and how many
// pre-deployment dumps.
type Retention struct {
	Hourly, Daily, Weekly, Monthly, PreDeploy int
}

// BackupPaths are what the off-host copies take: the archive (base backups
// and WAL) and the dumps.
func BackupPaths(serviceDir string) []string {
	return []string{path.Join(serviceDir, "archive"), path.Join(serviceDir, "backups")}
}

// Postgres is the deployed database with its exporter and backups.
type Postgres struct {
	pulumi.ResourceState

	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	HostName      pulumi.StringOutput `pulumi:"host"`
	Address       pulumi.StringOutput `pulumi:"address"`
	ExporterAddr  pulumi.StringOutput `pulumi:"exporterAddress"`
	BackupDir     pulumi.StringOutput `pulumi:"backupDir"`

	// Container is the database container.
	Container pulumi.Resource
	// Roles is the bootstrap of the accounts (RenderRoles): whatever logs
	// in as one of them (the pooler, the exporter, Vault) waits for it.
	Roles pulumi.Resource
	// Passwords are the login roles' passwords (secrets) for the services
	// that log in as them.
	Passwords RolePasswords
	// PreDeployBackup runs before every application release: application
	// containers depend on it.
	PreDeployBackup pulumi.Resource
	// Backups are the archive and the dumps, for the off-host copies.
	Backups backupjob.Source
}

// Dirs are the host directories the deployment needs under serviceDir.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "conf"), UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "data"), UID: UID, GID: GID, Mode: "0700"},
		{Path: path.Join(serviceDir, "bin"), UID: 0, GID: 0, Mode: "0750"},
		{Path: path.Join(serviceDir, "backups"), UID: 0, GID: 0, Mode: "0700"},
		// The server's archive_command writes wal/; base/ is the host's.
		{Path: path.Join(serviceDir, "archive"), UID: UID, GID: GID, Mode: "0700"},
		{Path: path.Join(serviceDir, "archive", "wal"), UID: UID, GID: GID, Mode: "0700"},
		{Path: path.Join(serviceDir, "archive", "base"), UID: 0, GID: 0, Mode: "0700"},
	}
}

// Scripts are the backup, restore and drill scripts' values for a deployment.
func Scripts(serviceDir string, r Retention) ScriptValues {
	return ScriptValues{
		Container: ContainerName, Database: Database, User: User,
		BackupDir: path.Join(serviceDir, "backups"), Prefix: Database, Compress: 6, WaitSecond: 120,
		KeepHourly: r.Hourly, KeepDaily: r.Daily, KeepWeekly: r.Weekly, KeepMonthly: r.Monthly,
		KeepPreDeploy: r.PreDeploy, DrillDatabase: Database + "_drill",
		ArchiveDir: path.Join(serviceDir, "archive"), ServerArchiveDir: archiveMount,
		DataDir: path.Join(serviceDir, "data"), KeepBase: BaseBackupsKept, Owner: fmt.Sprintf("%d:%d", UID, GID),
		DrillMaxAge: DrillMaxAge,
	}
}

// ReleaseTriggers are the pre-deployment backup's triggers: the distinct
// application images, sorted, so a new release (and only that) re-runs it.
func ReleaseTriggers(images []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, img := range images {
		if img != "" && !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	sort.Strings(out)
	return out
}

// NewPostgres deploys the database, its exporter, its configuration and its backups.
func NewPostgres(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Postgres, error) {
	if args.Engine == nil {
		return nil, fmt.Errorf("postgres %s: a Docker engine (host.NewEngine) is required", name)
	}
	if args.Password == nil {
		return nil, fmt.Errorf("postgres %s: the password is required", name)
	}
	p := &Postgres{}
	if err := ctx.RegisterComponentResource("aurigraph:postgres:Postgres", name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)
	h := args.Engine
	confDir := path.Join(args.ServiceDir, "conf")
	binDir := path.Join(args.ServiceDir, "bin")

	cv := Sizing(args.Resources.MemoryMB, args.Resources.CPUs, args.MaxConnections)
	if args.ArchiveTimeout > 0 {
		cv.ArchiveTimeoutSeconds = int(args.ArchiveTimeout.Seconds())
	}
	conf, err := RenderConfig(cv)
	if err != nil {
		return nil, err
	}
	// A reload applies every setting not marked (restart) in the file;
	// those stay pending (pg_settings.pending_restart) until an operator
	// restarts the container in a maintenance window: the step says which.
	confFiles, err := configfile.New(ctx, name+"-conf", configfile.Args{
		Host:      h.Host,
		Files:     []configfile.File{{Path: path.Join(confDir, "postgresql.conf"), Content: conf}},
		Container: ContainerName,
		Reload: fmt.Sprintf("docker exec %[1]s psql -U %[2]s -d %[3]s -c 'SELECT pg_reload_conf()'\n"+
			"  pending=$(docker exec %[1]s psql -U %[2]s -d %[3]s -Atc 'SELECT string_agg(name, $$, $$) FROM pg_settings WHERE pending_restart')\n"+
			"  [ -z \"$pending\" ] || echo \"WARNING: restart %[1]s to apply: $pending\" >&2", ContainerName, User, Database),
	}, parent)
	if err != nil {
		return nil, err
	}

	dbSpec, exporterSpec := DatabaseSpec(args), ExporterSpec(args)
	dbSecrets, err := configfile.NewContainerSecrets(ctx, name+"-secrets", h.Host, dbSpec, parent)
	if err != nil {
		return nil, err
	}
	exporterSecrets, err := configfile.NewContainerSecrets(ctx, name+"-exporter-secrets", h.Host, exporterSpec, parent)
	if err != nil {
		return nil, err
	}
	db, err := container.New(ctx, ContainerName, dbSpec, parent,
		pulumi.Provider(h.Provider), pulumi.DependsOn(append(confFiles.Copies, dbSecrets.Copies...)))
	if err != nil {
		return nil, err
	}
	roles, err := newRoles(ctx, name, args, db, parent)
	if err != nil {
		return nil, err
	}
	exporter, err := container.New(ctx, ExporterName, exporterSpec, parent,
		pulumi.Provider(h.Provider), pulumi.DependsOn(append([]pulumi.Resource{roles}, exporterSecrets.Copies...)))
	if err != nil {
		return nil, err
	}

	backup, timers, err := newBackups(ctx, name, args, binDir, db, parent)
	if err != nil {
		return nil, err
	}
	p.Backups = backupjob.Source{Store: Store, Engine: h, Paths: BackupPaths(args.ServiceDir), Ready: []pulumi.Resource{timers}}
	p.Container = db
	p.Roles = roles
	p.Passwords = DerivePasswords(args.Password)
	p.PreDeployBackup = backup
	p.ContainerName = db.Name
	p.HostName = pulumi.String(h.Name).ToStringOutput()
	p.Address = pulumi.Sprintf("%s:%d", ContainerName, Port)
	p.ExporterAddr = pulumi.Sprintf("%s:%d", exporter.Name, ExporterPort)
	p.BackupDir = pulumi.String(path.Join(args.ServiceDir, "backups")).ToStringOutput()
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{
		"containerName":   p.ContainerName,
		"host":            p.HostName,
		"address":         p.Address,
		"exporterAddress": p.ExporterAddr,
		"backupDir":       p.BackupDir,
	})
}

// DatabaseSpec is the PostgreSQL container.
//
// Least privilege: the container runs as the image's postgres user (70:70)
// from the start, with every capability dropped and none added back. The
// entrypoint only needs CHOWN/FOWNER/DAC_OVERRIDE (to chown the data
// directory) and SETUID/SETGID (to switch to postgres with su-exec) when it
// starts as root; the host preparation already creates the data directory
// owned 70:70 mode 0700, and the entrypoint skips both steps for a non-root
// user, so no capability is needed at all.
func DatabaseSpec(a Args) container.Spec {
	shm := a.Resources.MemoryMB / 16 // parallel queries use /dev/shm (posix DSM)
	if shm < 128 {
		shm = 128
	}
	if shm > 1024 {
		shm = 1024
	}
	return container.Spec{
		Service:  ContainerName,
		Name:     ContainerName,
		Image:    a.Image,
		Networks: a.Zones.For(ContainerName),
		Resource: a.Resources,
		User:     fmt.Sprintf("%d:%d", UID, GID),
		Env: map[string]string{
			"POSTGRES_DB":   Database,
			"POSTGRES_USER": User,
			// initdb's host rule: passwords only, SCRAM (never trust/md5).
			"POSTGRES_INITDB_ARGS":      "--auth-host=scram-sha-256 --data-checksums",
			"POSTGRES_HOST_AUTH_METHOD": "scram-sha-256",
			"PGDATA":                    dataMount + "/pgdata",
		},
		// The entrypoint reads the file once, when initdb creates the cluster.
		SecretFiles: []container.SecretFile{{Name: "postgres-password", Content: a.Password, Env: "POSTGRES_PASSWORD_FILE"}},
		SecretsDir:  container.SecretsDir(a.ServiceDir, ContainerName),
		Command:     []string{"postgres", "-c", "config_file=" + confMount + "/postgresql.conf"},
		// No Ports: internal only, reached as postgres:5432 on the overlay.
		Mounts: []container.Mount{
			{HostPath: path.Join(a.ServiceDir, "data"), Target: dataMount},
			{HostPath: path.Join(a.ServiceDir, "conf"), Target: confMount, ReadOnly: true},
			{HostPath: path.Join(a.ServiceDir, "archive"), Target: archiveMount},
		},
		ReadOnlyRootFS: true,
		Tmpfs: map[string]string{
			"/var/run/postgresql": fmt.Sprintf("rw,noexec,nosuid,size=16m,uid=%d,gid=%d,mode=0775", UID, GID),
			"/tmp":                "rw,noexec,nosuid,size=256m,mode=1777",
		},
		ShmSizeMB: shm,
		Health: container.Health{
			Test:        []string{"CMD", "pg_isready", "-U", User, "-d", Database},
			Interval:    10 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 60 * time.Second,
			Retries:     5,
		},
		// Dependents (the exporter, the pre-deployment backup, hence the
		// application) start once the database answers.
		WaitHealthy: true,
	}
}

// ExporterSpec is the postgres_exporter sidecar, logged in as ExporterUser
// (pg_monitor only): the password is a secret file (DATA_SOURCE_PASS_FILE),
// the rest of the DSN plain variables.
func ExporterSpec(a Args) container.Spec {
	return container.Spec{
		Service:  ContainerName,
		Name:     ExporterName,
		Image:    a.ExporterImage,
		Networks: a.Zones.For(ExporterName),
		Resource: a.ExporterResource,
		Env: map[string]string{
			"DATA_SOURCE_URI":  fmt.Sprintf("%s:%d/%s?sslmode=disable", ContainerName, Port, Database),
			"DATA_SOURCE_USER": ExporterUser,
		},
		User:           "65534:65534", // the image's nobody, which owns the password file
		SecretFiles:    []container.SecretFile{{Name: "exporter-password", Content: exporterPassword(a.Password), Env: "DATA_SOURCE_PASS_FILE"}},
		SecretsDir:     container.SecretsDir(a.ServiceDir, ExporterName),
		Command:        []string{fmt.Sprintf("--web.listen-address=:%d", ExporterPort)},
		ReadOnlyRootFS: true,
		// The image is busybox-based: wget is there.
		Health: container.Health{
			Test:     []string{"CMD", "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/metrics", ExporterPort)},
			Interval: 30 * time.Second,
			Timeout:  10 * time.Second,
		},
	}
}

// newRoles applies roles.sql once the database is healthy, and again
// whenever it changes (a new password, a new grant): psql in the container,
// as the superuser over the local socket, the script on its stdin (a secret:
// it holds the SCRAM verifiers), never on a command line. The same step
// brings a cluster that ran before these roles existed up to date.
func newRoles(ctx *pulumi.Context, name string, a Args, db pulumi.Resource, parent pulumi.ResourceOption) (pulumi.Resource, error) {
	sql := a.Password.ToStringOutput().ApplyT(func(pw string) (string, error) {
		return RenderRoles(Roles(pw))
	}).(pulumi.StringOutput)
	return hostcmd.New(ctx, name+"-roles", hostcmd.Args{
		Connection:  a.Engine.Connection,
		Run:         pulumi.String(RolesCommand()),
		Stdin:       sql,
		SecretStdin: true,
	}, parent, pulumi.DependsOn([]pulumi.Resource{db}))
}

// RolesCommand runs roles.sql from stdin in the container; ON_ERROR_STOP
// makes any failed statement fail the step (the transaction rolls back).
func RolesCommand() string {
	return fmt.Sprintf("docker exec -i %s psql -X -q -v ON_ERROR_STOP=1 -U %s -d %s -f -", ContainerName, User, Database)
}

// exporterPassword is ExporterUser's password, nil without a superuser
// password (a spec built for a test).
func exporterPassword(superuser pulumi.StringInput) pulumi.StringInput {
	if superuser == nil {
		return nil
	}
	return derive.Secret(superuser, purpose(ExporterUser))
}

// newBackups installs the scripts and their timers and creates the
// pre-deployment backup; it returns that backup and the timers.
func newBackups(ctx *pulumi.Context, name string, a Args, binDir string, db pulumi.Resource, parent pulumi.ResourceOption) (pulumi.Resource, pulumi.Resource, error) {
	drill := a.Drill
	if drill.Every == "" {
		drill = DefaultDrill()
	}
	sv := Scripts(a.ServiceDir, a.Retention)
	sv.DrillMaxAge = drill.MaxAge
	var files []configfile.File
	for _, s := range []struct {
		file   string
		render func(ScriptValues) (string, error)
	}{{"backup.sh", RenderBackup}, {"restore.sh", RenderRestore}, {"drill.sh", RenderDrill},
		{"basebackup.sh", RenderBaseBackup}, {"pitr.sh", RenderPITR}} {
		content, err := s.render(sv)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, configfile.File{Path: path.Join(binDir, s.file), Content: content, Mode: "0750"})
	}
	scripts, err := configfile.New(ctx, name+"-scripts", configfile.Args{Host: a.Engine.Host, Files: files}, parent)
	if err != nil {
		return nil, nil, err
	}
	// The timers start once the database (base backups) and the scripts are there.
	timers, err := backupjob.NewTimers(ctx, name+"-backup-timers", backupjob.TimersArgs{
		Connection:  a.Engine.Connection,
		TimerValues: backupjob.TimerValues{Jobs: Jobs(binDir, drill)},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{db}, scripts.Copies...)))
	if err != nil {
		return nil, nil, err
	}
	// The dumps and scripts are root's (mode 0700/0750): sudo when the SSH user is not root.
	backupCmd := fmt.Sprintf(`if [ "$(id -u)" -eq 0 ]; then bash %[1]s predeploy; else sudo -n bash %[1]s predeploy; fi`, path.Join(binDir, "backup.sh"))
	backup, err := hostcmd.New(ctx, name+"-predeploy-backup", hostcmd.Args{
		Connection: a.Engine.Connection,
		Run:        pulumi.String(backupCmd),
		Triggers:   pulumi.ToStringArray(ReleaseTriggers(a.ReleaseImages)),
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{db}, scripts.Copies...)))
	return backup, timers, err
}
