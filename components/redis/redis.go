// Package redis deploys Redis (an LRU cache with persistence) and its
// Prometheus exporter on one host, with hourly RDB snapshots (backup.go).
package redis

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/internal/derive"
)

// Names, ports and in-container paths.
const (
	ContainerName = "redis"
	ExporterName  = "redis-exporter"
	Port          = 6379
	ExporterPort  = 9121
	// UID/GID of the redis user in the alpine image: the data directory's owner.
	UID = 999
	GID = 1000

	// ACLFileName is the users file beside redis.conf.
	ACLFileName = "users.acl"

	confMount = "/usr/local/etc/redis"
	dataMount = "/data"
)

// URL is how services on the network reach Redis.
func URL() string { return fmt.Sprintf("redis://%s:%d", ContainerName, Port) }

// ExporterAddress is the exporter's /metrics endpoint Prometheus scrapes.
func ExporterAddress() string { return fmt.Sprintf("%s:%d", ExporterName, ExporterPort) }

// ExporterImageVariant is the redis_exporter image tag suffix the health
// check needs: the default images are FROM scratch (the binary alone: no
// shell, no HTTP client, and no flag that probes the exporter), the
// "-alpine" ones carry the same binary on Alpine with busybox's sh and wget.
const ExporterImageVariant = "-alpine"

// ExporterImageProbes reports whether ref is the exporter image variant the
// health check can run in (a tag ending in ExporterImageVariant, with or
// without a digest).
func ExporterImageProbes(ref string) bool {
	ref, _, _ = strings.Cut(ref, "@")
	slash, colon := strings.LastIndex(ref, "/"), strings.LastIndex(ref, ":")
	return colon > slash && strings.HasSuffix(ref[colon+1:], ExporterImageVariant)
}

// ExporterHealthTest is the exporter's health check: it scrapes url (its own
// /metrics on loopback) and is healthy only when the exporter serves metrics
// and reached Redis with its password on the last scrape (redis_up 1).
// Docker's health check Timeout bounds wget (no -T: Debian's static busybox
// 1.35, which the test runs, crashes with it).
func ExporterHealthTest(url string) []string {
	return []string{"CMD-SHELL", fmt.Sprintf(`wget -q -O - %s | grep -q '^redis_up 1$'`, url)}
}

// Args configure one Redis deployment.
type Args struct {
	Engine *host.Engine
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones            *network.Zones
	Image            pulumi.StringInput
	ExporterImage    pulumi.StringInput
	Resources        container.Resources
	ExporterResource container.Resources
	// Password is the admin user's (secret); every other user's is derived
	// from it (DerivePasswords).
	Password   pulumi.StringInput
	ServiceDir string // holds conf/, data/, bin/ and backups/ on the host
	// MaxMemoryMB is maxmemory, at or below the container limit (see MaxMemoryFor).
	MaxMemoryMB int
}

// Redis is the deployed cache and its exporter.
type Redis struct {
	pulumi.ResourceState

	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	HostName      pulumi.StringOutput `pulumi:"host"`
	Address       pulumi.StringOutput `pulumi:"address"`
	ExporterAddr  pulumi.StringOutput `pulumi:"exporterAddress"`

	// Passwords are the ACL users' (secrets), for the services that log in
	// as them.
	Passwords Passwords
	// Backups are the RDB snapshots, for the off-host copies.
	Backups backupjob.Source
}

// Dirs are the host directories the deployment needs under serviceDir.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "conf"), UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "data"), UID: UID, GID: GID, Mode: "0700"},
		// The backup and restore scripts, and the snapshots: root's.
		{Path: path.Join(serviceDir, "bin"), UID: 0, GID: 0, Mode: "0750"},
		{Path: path.Join(serviceDir, "backups"), UID: 0, GID: 0, Mode: "0700"},
	}
}

// NewRedis deploys Redis, its configuration and its exporter.
func NewRedis(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Redis, error) {
	if args.Engine == nil || args.Password == nil {
		return nil, fmt.Errorf("redis %s: a Docker engine (host.NewEngine) and the password are required", name)
	}
	if args.MaxMemoryMB <= 0 || args.MaxMemoryMB > args.Resources.MemoryMB {
		return nil, fmt.Errorf("redis %s: maxmemory %d MB must be positive and within the %d MB container limit", name, args.MaxMemoryMB, args.Resources.MemoryMB)
	}
	r := &Redis{}
	if err := ctx.RegisterComponentResource("aurigraph:redis:Redis", name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	content, err := RenderConfig(Defaults(args.MaxMemoryMB))
	if err != nil {
		return nil, err
	}
	// Redis has no config reload: CONFIG SET applies the changed values
	// that can change live; the file holds them for the next start.
	files, err := configfile.New(ctx, name+"-conf", configfile.Args{
		Host:      args.Engine.Host,
		Files:     []configfile.File{{Path: path.Join(args.ServiceDir, "conf", "redis.conf"), Content: content}},
		Container: ContainerName,
		Reload:    adminCommand(fmt.Sprintf("CONFIG SET maxmemory %dmb", args.MaxMemoryMB)),
	}, parent)
	if err != nil {
		return nil, err
	}
	// The ACL file holds password hashes: a secret file, the redis user's
	// alone; ACL LOAD applies a change without a restart.
	users := args.Password.ToStringOutput().ApplyT(func(pw string) (string, error) {
		return RenderACL(Users(pw))
	}).(pulumi.StringOutput)
	aclFile, err := configfile.NewSecrets(ctx, name+"-users", configfile.SecretsArgs{
		Host: args.Engine.Host,
		Files: []configfile.Secret{{Path: path.Join(args.ServiceDir, "conf", ACLFileName), Content: pulumi.ToSecret(users).(pulumi.StringOutput),
			Owner: fmt.Sprintf("%d:%d", UID, GID), Mode: "0600"}},
		Container: ContainerName,
		Reload:    adminCommand("ACL LOAD"),
	}, parent)
	if err != nil {
		return nil, err
	}
	server, exporter := ServerSpec(args), ExporterSpec(args)
	serverSecrets, err := configfile.NewContainerSecrets(ctx, name+"-secrets", args.Engine.Host, server, parent)
	if err != nil {
		return nil, err
	}
	exporterSecrets, err := configfile.NewContainerSecrets(ctx, name+"-exporter-secrets", args.Engine.Host, exporter, parent)
	if err != nil {
		return nil, err
	}
	c, err := container.New(ctx, ContainerName, server, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append(append(files.Copies, aclFile.Copies...), serverSecrets.Copies...)))
	if err != nil {
		return nil, err
	}
	e, err := container.New(ctx, ExporterName, exporter, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append([]pulumi.Resource{c}, exporterSecrets.Copies...)))
	if err != nil {
		return nil, err
	}
	timers, err := newBackups(ctx, name, args, path.Join(args.ServiceDir, "bin"), c, parent)
	if err != nil {
		return nil, err
	}
	// The host's preparation creates backups/ (Dirs); the timer fills it.
	r.Backups = backupjob.Source{Store: Store, Engine: args.Engine, Paths: BackupPaths(args.ServiceDir),
		Ready: []pulumi.Resource{args.Engine.Host.Prepared, timers}}
	r.ContainerName = c.Name
	r.Passwords = DerivePasswords(args.Password)
	r.HostName = pulumi.String(args.Engine.Name).ToStringOutput()
	r.Address = pulumi.Sprintf("%s:%d", ContainerName, Port)
	r.ExporterAddr = pulumi.Sprintf("%s:%d", e.Name, ExporterPort)
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{
		"containerName": r.ContainerName, "host": r.HostName, "address": r.Address, "exporterAddress": r.ExporterAddr,
	})
}

// derivedOrNil is user's derived password, nil when there is no admin
// password (a spec built for a test).
func derivedOrNil(admin pulumi.StringInput, user string) pulumi.StringInput {
	if admin == nil {
		return nil
	}
	return derive.Secret(admin, purpose(user))
}

// adminCommand runs one redis-cli command in the container as AdminUser
// (REDISCLI_AUTH keeps the password off the command line). redis-cli exits
// 0 even on an error reply, so the reply is checked: OK passes; a container
// from before the ACL file (its default user holds the same password, it
// knows no admin user) is told apart and left to its replacement, which
// this deployment creates; any other reply fails the step.
func adminCommand(args string) string {
	return fmt.Sprintf(`docker exec %s sh -c 'out=$(`+cliAuth+` redis-cli --no-auth-warning --user %s %s 2>&1)
case "$out" in
  OK) ;;
  NOAUTH*|*WRONGPASS*) echo "redis: no admin user yet (a container from before the ACL file): its replacement reads the new files" >&2 ;;
  *) echo "redis: %s: $out" >&2; exit 1 ;;
esac'`, ContainerName, AdminUser, args, args)
}

// derived is a secret file's content made from the password, still a
// secret; nil without a password (Validate then refuses the spec).
func derived(password pulumi.StringInput, render func(string) (string, error)) pulumi.StringInput {
	if password == nil {
		return nil
	}
	return pulumi.ToSecret(password.ToStringOutput().ApplyT(render)).(pulumi.StringOutput)
}

// cliAuth gives redis-cli the password from the secret file, through
// REDISCLI_AUTH: never on a command line.
var cliAuth = fmt.Sprintf(`REDISCLI_AUTH="$(cat %s)"`, container.SecretPath(PasswordFile))

// ServerSpec is the Redis container. It runs as the image's redis user
// with no capability (the entrypoint's chown and su-exec are only for a
// root start). Its users and their hashed passwords come from the ACL file;
// the admin password is a secret file, for its own health check and the
// reloads (adminCommand), which log in as AdminUser: on no command line and
// in no variable.
func ServerSpec(a Args) container.Spec {
	return container.Spec{
		Service:     ContainerName,
		Name:        ContainerName,
		Image:       a.Image,
		Networks:    a.Zones.For(ContainerName),
		Resource:    a.Resources,
		User:        fmt.Sprintf("%d:%d", UID, GID),
		SecretFiles: []container.SecretFile{{Name: PasswordFile, Content: a.Password}},
		SecretsDir:  container.SecretsDir(a.ServiceDir, ContainerName),
		Command:     serverCommand,
		// No Ports: internal only, reached as redis:6379 on the overlay.
		Mounts: []container.Mount{
			{HostPath: path.Join(a.ServiceDir, "data"), Target: dataMount},
			{HostPath: path.Join(a.ServiceDir, "conf"), Target: confMount, ReadOnly: true},
		},
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=64m,mode=1777"},
		Health: container.Health{
			Test:        []string{"CMD-SHELL", cliAuth + ` redis-cli --no-auth-warning --user ` + AdminUser + ` -h 127.0.0.1 ping | grep -q PONG`},
			Interval:    10 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 30 * time.Second,
			Retries:     5,
		},
		WaitHealthy: true,
	}
}

// ExporterSpec is the redis_exporter sidecar, on the image's Alpine variant
// (ExporterImageVariant, checked in stacks/validate.go) so that its health
// check can scrape it. It logs in as ExporterUser (REDIS_USER), which may
// run only what a scrape needs.
func ExporterSpec(a Args) container.Spec {
	return container.Spec{
		Service:  ContainerName,
		Name:     ExporterName,
		Image:    a.ExporterImage,
		Networks: a.Zones.For(ExporterName),
		Resource: a.ExporterResource,
		User:     "59000:59000", // the image's own non-root user
		Env: map[string]string{
			"REDIS_ADDR":                        URL(),
			"REDIS_USER":                        ExporterUser,
			"REDIS_EXPORTER_WEB_LISTEN_ADDRESS": fmt.Sprintf(":%d", ExporterPort),
		},
		SecretFiles: []container.SecretFile{{Name: ExporterPasswordFile, Env: "REDIS_PASSWORD_FILE",
			Content: derived(derivedOrNil(a.Password, ExporterUser), RenderExporterPasswords)}},
		SecretsDir:     container.SecretsDir(a.ServiceDir, ExporterName),
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
