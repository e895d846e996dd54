package gateway

import (
	"fmt"
	"path"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/hostcmd"
	"github.com/aurigraph/infra/components/network"
)

// Container layout: the host directory Dir is mounted read-only at MountDir.
const (
	ContainerName = "nginx"
	MountDir      = "/etc/nginx/aurigraph"
	ConfPath      = MountDir + "/conf/nginx.conf"
	CertPath      = MountDir + "/tls/edge.crt"
	KeyPath       = MountDir + "/tls/edge.key"
	CAPath        = MountDir + "/tls/ca.crt"
	HtpasswdPath  = MountDir + "/auth/htpasswd"
	// UID is the nginx user of the official image; the container runs as it.
	UID = 101
	// DockerDNS is Docker's embedded resolver on user-defined networks.
	DockerDNS = "127.0.0.11"
	// ConfMode is nginx.conf's mode on the host (owned by UID).
	ConfMode = "0640"
)

// ReloadCommand reloads nginx gracefully (in-flight requests finish on the
// old workers), then waits until the gateway answers. The configuration was
// tested before it was installed (ValidateCommand), so no test runs here.
var ReloadCommand = "docker exec " + ContainerName + " nginx -c " + ConfPath + " -s reload\n" + WaitCommand

// Health endpoint and bounds of the wait after a reload or a new container:
// 30 requests 2 s apart, each bounded by 5 s, so `pulumi up` goes on as soon
// as nginx answers and never waits more than about three minutes.
const (
	HealthURL       = "http://127.0.0.1/healthz"
	WaitAttempts    = 30
	WaitIntervalSec = 2
)

// WaitCommand asks nginx's health endpoint from inside its container until it
// answers, and fails (with nginx's last log lines) when it never does.
var WaitCommand = WaitScript(WaitAttempts, WaitIntervalSec)

// WaitScript is WaitCommand with its bounds: attempts requests, interval
// seconds apart.
func WaitScript(attempts, interval int) string {
	return fmt.Sprintf(`n=1
until docker exec %[1]s wget -q -O /dev/null -T 5 %[2]s; do
  if [ "$n" -ge %[3]d ]; then
    echo "gateway: %[1]s did not answer %[2]s after %[3]d tries" >&2
    docker logs --tail 20 %[1]s >&2 || true
    exit 1
  fi
  n=$((n + 1))
  sleep %[4]d
done
echo "gateway: %[1]s answers %[2]s"
`, ContainerName, HealthURL, attempts, interval)
}

// ValidateCommand tests a candidate configuration directory with nginx -t
// in the gateway's own image, before anything live changes. A throw-away
// container rather than `docker exec`: the running one cannot see the
// staging directory (and does not exist on the first deployment), and its
// image is the one the configuration must satisfy. It runs as the
// gateway's user, read-only, with the same tmpfs, and with no network: the
// production configuration resolves upstream names at request time
// (`resolve` servers and variables, see Values.Modern), so nginx -t looks
// nothing up and a replica that is not running yet never fails the test.
var ValidateCommand = fmt.Sprintf(`docker run --rm --network none --user %[1]d:%[1]d --read-only \
  --tmpfs /var/cache/nginx:uid=%[1]d,gid=%[1]d --tmpfs /tmp:uid=%[1]d,gid=%[1]d \
  -v "$CANDIDATE":%[2]s:ro --entrypoint nginx "$IMAGE" -t -c %[3]s`, UID, MountDir, ConfPath)

// GatewayArgs configures the edge.
type GatewayArgs struct {
	Engine *host.Engine
	Image  pulumi.StringInput
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Resources container.Resources
	// Dir is the gateway's directory on the host, e.g. /srv/aurigraph/nginx.
	Dir string
	// Config is the rendered configuration's values; paths, listen ports
	// and resolver are filled in by the component.
	Config Values
	// TLS material for the public names (issued by the stack's CA or
	// supplied by the operator), the CA that signs internal upstreams, and
	// the htpasswd lines of the monitoring UIs. All kept secret.
	Certificate pulumi.StringInput
	PrivateKey  pulumi.StringInput
	CACert      pulumi.StringInput
	Htpasswd    pulumi.StringInput
	// DependsOn are the upstream containers (the application replicas) that
	// should exist before nginx starts.
	DependsOn []pulumi.Resource
	// SlotImages is each slot's image (slot name -> image): a new image in a
	// slot re-runs the release guard once its replicas are replaced.
	SlotImages map[string]string
	// ReadinessAttempts and ReadinessInterval (seconds) bound the release
	// guard; zero takes GuardAttempts and GuardInterval.
	ReadinessAttempts, ReadinessInterval int
}

// Gateway is the nginx edge.
type Gateway struct {
	pulumi.ResourceState

	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	ConfigHash    pulumi.StringOutput `pulumi:"configHash"`
}

// ProductionValues fills what is fixed inside the container: public ports on
// every address, file paths, Docker's DNS and the nginx 1.27 features.
func ProductionValues(v Values) Values {
	v.ListenAddress, v.HTTPPort, v.HTTPSPort = "", 80, 443
	v.CertPath, v.KeyPath, v.CAPath, v.HtpasswdPath = CertPath, KeyPath, CAPath, HtpasswdPath
	v.AccessLog, v.ErrorLog = "/dev/stdout", "/dev/stderr"
	v.PidPath, v.TempDir = "/tmp/nginx.pid", "/var/cache/nginx"
	v.Resolver, v.Modern, v.User = DockerDNS, true, ""
	return v
}

// NewGateway writes the configuration and TLS files and runs nginx. A change
// of weights, replicas, limits or certificates rewrites files and reloads
// nginx; the container itself never depends on their content.
func NewGateway(ctx *pulumi.Context, name string, args GatewayArgs, opts ...pulumi.ResourceOption) (*Gateway, error) {
	if args.Engine == nil || args.Dir == "" || args.Certificate == nil || args.PrivateKey == nil || args.CACert == nil || args.Htpasswd == nil {
		return nil, fmt.Errorf("gateway %s: engine, dir, certificate, key, CA and htpasswd are required", name)
	}
	g := &Gateway{}
	if err := ctx.RegisterComponentResource("aurigraph:gateway:Gateway", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	conf, err := Render(ProductionValues(args.Config))
	if err != nil {
		return nil, err
	}
	// nginx reads certificates at (re)load: a rotated certificate reloads it,
	// never recreates it. A certificate and key that do not match never
	// replace the live ones.
	owner := fmt.Sprintf("%d:%d", UID, UID)
	cert, key := path.Join(args.Dir, "tls/edge.crt"), path.Join(args.Dir, "tls/edge.key")
	tls, err := configfile.NewSecrets(ctx, name+"-tls", configfile.SecretsArgs{
		Host: args.Engine.Host,
		Files: []configfile.Secret{
			{Path: cert, Content: args.Certificate, Owner: owner, Mode: "0600"},
			{Path: key, Content: args.PrivateKey, Owner: owner, Mode: "0600"},
			{Path: path.Join(args.Dir, "tls/ca.crt"), Content: args.CACert, Owner: owner, Mode: "0644"},
		},
		Container: ContainerName,
		Reload:    ReloadCommand,
		KeyPair:   &configfile.KeyPair{Cert: cert, Key: key},
	}, parent)
	if err != nil {
		return nil, err
	}
	// The htpasswd file is read per request: it needs no reload.
	htpasswd, err := configfile.NewSecret(ctx, name+"-htpasswd", configfile.SecretArgs{
		Host: args.Engine.Host, Path: path.Join(args.Dir, "auth/htpasswd"), Content: args.Htpasswd, Owner: owner, Mode: "0600",
	}, parent)
	if err != nil {
		return nil, err
	}
	// nginx -t loads the certificates the configuration names: the test of a
	// new configuration runs once they are written.
	files, err := configfile.New(ctx, name+"-conf", configfile.Args{
		Host: args.Engine.Host,
		Files: []configfile.File{{
			Path: path.Join(args.Dir, "conf", "nginx.conf"), Content: conf,
			Owner: owner, Mode: ConfMode,
		}},
		Container: ContainerName,
		Reload:    ReloadCommand,
		Validate:  &configfile.Validate{Dir: args.Dir, Command: ValidateCommand, Image: args.Image},
	}, parent, pulumi.DependsOn(append(append([]pulumi.Resource{}, args.DependsOn...), append(tls.Copies, htpasswd)...)))
	if err != nil {
		return nil, err
	}
	written := append(append([]pulumi.Resource{}, tls.Copies...), htpasswd)
	c, err := container.New(ctx, name, container.Spec{
		Service:  "nginx",
		Name:     ContainerName,
		Image:    args.Image,
		Networks: args.Zones.For(ContainerName),
		Resource: args.Resources,
		// The edge is public by design: the only published ports of the platform.
		Ports: []container.Port{
			{Internal: 80, External: 80, IP: "0.0.0.0"},
			{Internal: 443, External: 443, IP: "0.0.0.0"},
		},
		// Unprivileged (uid 101) with no capability: Docker lets containers
		// bind ports below 1024 (net.ipv4.ip_unprivileged_port_start=0).
		User:           owner,
		ReadOnlyRootFS: true,
		Tmpfs: map[string]string{
			"/var/cache/nginx": fmt.Sprintf("rw,noexec,nosuid,size=256m,uid=%d,gid=%d", UID, UID),
			"/tmp":             fmt.Sprintf("rw,noexec,nosuid,size=16m,uid=%d,gid=%d", UID, UID),
		},
		Command: []string{"nginx", "-c", ConfPath, "-g", "daemon off;"},
		Mounts:  []container.Mount{{HostPath: args.Dir, Target: MountDir, ReadOnly: true}},
		Health: container.Health{
			Test: []string{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"},
		},
	}, parent, pulumi.Provider(args.Engine.Provider),
		pulumi.DependsOn(append(append(append([]pulumi.Resource{}, files.Copies...), written...), args.DependsOn...)))
	if err != nil {
		return nil, err
	}
	if err := newReleaseGuard(ctx, name, args, files, c, parent); err != nil {
		return nil, err
	}
	if err := newReadinessGate(ctx, name, args, []pulumi.Resource{files.Reloaded, c}, parent); err != nil {
		return nil, err
	}
	g.ContainerName = c.Name
	g.ConfigHash = pulumi.String(files.Hash).ToStringOutput()
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{
		"containerName": g.ContainerName,
		"configHash":    g.ConfigHash,
	})
}

// ProductionGuard is the release guard of a gateway whose directory on the
// host is dir; staged is where the configfile step stages nginx.conf.
func ProductionGuard(v Values, dir, staged string, attempts, interval int) GuardValues {
	if attempts <= 0 {
		attempts = GuardAttempts
	}
	if interval <= 0 {
		interval = GuardInterval
	}
	conf := path.Join(dir, "conf", "nginx.conf")
	return GuardValues{
		Slots:    v.Slots,
		ConfPath: conf, GoodPath: conf + GoodSuffix, StagedPath: staged,
		Owner: fmt.Sprintf("%d:%d", UID, UID), Mode: guardConfigMode,
		DockerExec: "docker exec " + ContainerName,
		Nginx:      "docker exec " + ContainerName + " nginx -c " + ConfPath,
		Attempts:   attempts, Interval: interval, Timeout: GuardTimeout,
		ReadyPath: ReadyPath,
	}
}

// newReleaseGuard adds the two steps after the configuration is installed
// and nginx runs: <name>-release-guard (readiness of every replica with
// traffic, rollback to the known-good file on failure), triggered only by
// what moves traffic, and <name>-conf-known-good, triggered by the file's
// content, which records changes that move none. Neither touches a container.
func newReleaseGuard(ctx *pulumi.Context, name string, args GatewayArgs, files *configfile.Set, nginx *docker.Container, parent pulumi.ResourceOption) error {
	staged := files.Staged[path.Join(args.Dir, "conf", "nginx.conf")]
	if staged == "" {
		return fmt.Errorf("gateway %s: nginx.conf has no staged copy", name)
	}
	gv := ProductionGuard(args.Config, args.Dir, staged, args.ReadinessAttempts, args.ReadinessInterval)
	guardScript, err := RenderGuard(gv)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", name, err)
	}
	recordScript, err := RenderRecordGood(gv)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", name, err)
	}
	triggers := pulumi.ToStringArray(GuardTriggers(args.Config.Slots, args.SlotImages))
	// A new nginx image is a new container: its readiness probes run again.
	triggers = append(triggers, pulumi.Sprintf("image %s=%s", ContainerName, args.Image))
	// A new image (a new container) is waited for until it answers before
	// anything goes on; a reload waits in ReloadCommand. The image, not the
	// container's id: triggers must be known in a preview.
	ready, err := hostcmd.New(ctx, name+"-ready", hostcmd.Args{
		Connection: args.Engine.Connection,
		Run:        pulumi.String(WaitCommand),
		Triggers:   pulumi.StringArray{args.Image},
	}, parent, pulumi.DependsOn([]pulumi.Resource{nginx, files.Reloaded}))
	if err != nil {
		return err
	}
	// After the new file is installed and reloaded, with nginx answering and
	// every replica (re)created: a new image is checked once it runs.
	after := append([]pulumi.Resource{files.Reloaded, nginx, ready}, args.DependsOn...)
	guard, err := hostcmd.New(ctx, name+"-release-guard", hostcmd.Args{
		Connection: args.Engine.Connection,
		Run:        pulumi.String(guardScript),
		Triggers:   triggers,
	}, parent, pulumi.DependsOn(after))
	if err != nil {
		return err
	}
	_, err = hostcmd.New(ctx, name+"-conf-known-good", hostcmd.Args{
		Connection: args.Engine.Connection,
		Run:        pulumi.String(recordScript),
		Triggers:   pulumi.StringArray{pulumi.String(files.Hash)},
	}, parent, pulumi.DependsOn([]pulumi.Resource{guard}))
	return err
}
