// Package vault deploys HashiCorp Vault in server mode with TLS from the
// stack's CA, and its hourly storage snapshots (backup.go). Initialisation, unsealing and the post-init script (audit
// device, KV v2, PKI, database credentials, transit, AppRole) are operator
// steps after the first deployment: see docs/vault.md.
package vault

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
)

// Names, ports and in-container paths.
const (
	ContainerName = "vault"
	Port          = 8200
	ClusterPort   = 8201
	// UID/GID of the vault user in the hashicorp/vault (alpine) image.
	UID = 100
	GID = 1000

	configMount = "/vault/config"
	dataMount   = "/vault/file"
	logsMount   = "/vault/logs"
	// auditLogFile is the file audit device's file in logs/ (post-init
	// enables the device).
	auditLogFile = "audit.log"
	tlsMount     = "/vault/tls"
	certFile     = "vault.crt"
	keyFile      = "vault.key"
	caFile       = "ca.crt"

	// SelfAddr is how the container's health check reaches Vault.
	SelfAddr = "127.0.0.1"

	// MetricsPath is what Prometheus scrapes (https, the stack's CA).
	MetricsPath = "/v1/sys/metrics"
	// HealthPath answers 200 when sealed or uninitialised too: the health
	// check says "the server runs", the seal state is an alert on metrics.
	HealthPath = "/v1/sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200"
)

// TLSHosts are every host Vault's API port is reached by: its overlay name
// (URL, VAULT_ADDR, Prometheus) and SelfAddr (the health check). Its
// certificate holds exactly these.
func TLSHosts() []string { return []string{ContainerName, SelfAddr} }

// Endpoint is Vault's API on the overlay network, host:port.
func Endpoint() string { return net.JoinHostPort(ContainerName, strconv.Itoa(Port)) }

// URL is how clients on the overlay network reach Vault's API.
func URL() string { return "https://" + Endpoint() }

// selfURL is how the health check reaches Vault inside its container.
func selfURL() string { return "https://" + net.JoinHostPort(SelfAddr, strconv.Itoa(Port)) }

// Args configure one Vault deployment.
type Args struct {
	Engine *host.Engine
	// Zones: each container joins its role's zones (network.Zones.For) and waits for them.
	Zones     *network.Zones
	Image     pulumi.StringInput
	Resources container.Resources
	// ServiceDir holds config/, data/, logs/, tls/ and bin/ on the host.
	ServiceDir string
	CertPem    pulumi.StringInput // server certificate, for TLSHosts
	KeyPem     pulumi.StringInput // its private key (secret)
	CACertPem  pulumi.StringInput // the stack's CA, for the CLI inside the container
	// Post-init script values.
	Stack      string
	PKIDomains []string
	Database   Database
}

// Vault is the deployed server.
type Vault struct {
	pulumi.ResourceState

	ContainerName pulumi.StringOutput `pulumi:"containerName"`
	HostName      pulumi.StringOutput `pulumi:"host"`
	Address       pulumi.StringOutput `pulumi:"address"`
	MetricsPath   pulumi.StringOutput `pulumi:"metricsPath"`
	PostInitPath  pulumi.StringOutput `pulumi:"postInitScript"`

	// Backups are the storage snapshots, for the off-host copies.
	Backups backupjob.Source
}

// Dirs are the host directories the deployment needs under serviceDir.
// The vault user owns what it writes (data, audit log) and reads (TLS):
// the entrypoint then has nothing to chown.
func Dirs(serviceDir string) []host.Dir {
	return []host.Dir{
		{Path: serviceDir, UID: 0, GID: 0, Mode: "0755"},
		{Path: path.Join(serviceDir, "config"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(serviceDir, "data"), UID: UID, GID: GID, Mode: "0700"},
		{Path: path.Join(serviceDir, "logs"), UID: UID, GID: GID, Mode: "0750"},
		{Path: path.Join(serviceDir, "tls"), UID: UID, GID: GID, Mode: "0750"},
		// The post-init script holds no secret; operators read it to pipe it in.
		{Path: path.Join(serviceDir, "bin"), UID: 0, GID: 0, Mode: "0755"},
		// Snapshots: root's alone.
		{Path: backupDir(serviceDir), UID: 0, GID: 0, Mode: "0700"},
	}
}

// NewVault deploys Vault with its configuration, TLS files and post-init script.
func NewVault(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Vault, error) {
	if args.Engine == nil || args.CertPem == nil || args.KeyPem == nil || args.CACertPem == nil {
		return nil, fmt.Errorf("vault %s: a Docker engine (host.NewEngine) and TLS material are required", name)
	}
	v := &Vault{}
	if err := ctx.RegisterComponentResource("aurigraph:vault:Vault", name, v, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(v)
	h := args.Engine
	hup := fmt.Sprintf("docker kill --signal=HUP %s", ContainerName)

	conf, err := RenderConfig(Config())
	if err != nil {
		return nil, err
	}
	postInitPath := path.Join(args.ServiceDir, "bin", "post-init.sh")
	script, err := RenderPostInit(PostInit(postInitPath, args.Stack, args.PKIDomains, args.Database))
	if err != nil {
		return nil, err
	}
	confFiles, err := configfile.New(ctx, name+"-conf", configfile.Args{
		Host:      h.Host,
		Files:     []configfile.File{{Path: path.Join(args.ServiceDir, "config", "vault.hcl"), Content: conf}},
		Container: ContainerName,
		Reload:    hup,
	}, parent)
	if err != nil {
		return nil, err
	}
	bv := Backup(args.ServiceDir)
	backup, err := RenderBackup(bv)
	if err != nil {
		return nil, err
	}
	restore, err := RenderRestore(bv)
	if err != nil {
		return nil, err
	}
	binDir := path.Join(args.ServiceDir, "bin")
	scripts, err := configfile.New(ctx, name+"-scripts", configfile.Args{
		Host: h.Host, Files: []configfile.File{
			{Path: postInitPath, Content: script},
			// Root runs them: they pause, stop and start the container.
			{Path: path.Join(binDir, "backup.sh"), Content: backup, Mode: "0750"},
			{Path: path.Join(binDir, "restore.sh"), Content: restore, Mode: "0750"},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	// A rotated certificate is rewritten in place and Vault re-reads it on
	// SIGHUP: the container is never recreated for it.
	tlsDir := path.Join(args.ServiceDir, "tls")
	owner := fmt.Sprintf("%d:%d", UID, GID)
	tls, err := configfile.NewSecrets(ctx, name+"-tls", configfile.SecretsArgs{
		Host: h.Host,
		Files: []configfile.Secret{
			{Path: path.Join(tlsDir, certFile), Content: args.CertPem, Owner: owner, Mode: "0644"},
			{Path: path.Join(tlsDir, keyFile), Content: args.KeyPem, Owner: owner, Mode: "0600"},
			{Path: path.Join(tlsDir, caFile), Content: args.CACertPem, Owner: owner, Mode: "0644"},
		},
		Container: ContainerName,
		Reload:    hup,
		// A certificate and key that do not match never replace the live ones.
		KeyPair: &configfile.KeyPair{Cert: path.Join(tlsDir, certFile), Key: path.Join(tlsDir, keyFile)},
	}, parent)
	if err != nil {
		return nil, err
	}
	tlsFiles := tls.Copies

	deps := append(append([]pulumi.Resource{}, confFiles.Copies...), tlsFiles...)
	c, err := container.New(ctx, ContainerName, ServerSpec(args), parent, pulumi.Provider(h.Provider), pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	timers, err := backupjob.NewTimers(ctx, name+"-backup-timers", backupjob.TimersArgs{
		Connection:  h.Connection,
		TimerValues: backupjob.TimerValues{Jobs: Jobs(binDir)},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{c}, scripts.Copies...)))
	if err != nil {
		return nil, err
	}
	// Host preparation creates backups/ (Dirs); the timer fills it.
	v.Backups = backupjob.Source{Store: Store, Engine: h, Paths: BackupPaths(args.ServiceDir),
		Ready: []pulumi.Resource{h.Prepared, timers}}
	v.ContainerName = c.Name
	v.HostName = pulumi.String(h.Name).ToStringOutput()
	v.Address = pulumi.String(URL()).ToStringOutput()
	v.MetricsPath = pulumi.String(MetricsPath).ToStringOutput()
	v.PostInitPath = pulumi.String(postInitPath).ToStringOutput()
	return v, ctx.RegisterResourceOutputs(v, pulumi.Map{
		"containerName": v.ContainerName, "host": v.HostName, "address": v.Address,
		"metricsPath": v.MetricsPath, "postInitScript": v.PostInitPath,
	})
}

// ServerSpec is the Vault container, in server mode with vault.hcl.
//
// Memory locking (disable_mlock = false) keeps secrets out of swap. The
// container runs as the vault user from the start with no-new-privileges,
// so the entrypoint's trick (setcap cap_ipc_lock on the binary, then
// su-exec) cannot work: file capabilities are ignored under
// no-new-privileges. IPC_LOCK is added back as HashiCorp documents, and
// the memlock ulimit is unlimited, which is what lets the unprivileged
// vault process mlockall() its memory (within the container memory limit).
// SKIP_SETCAP/SKIP_CHOWN tell the entrypoint not to try either.
func ServerSpec(a Args) container.Spec {
	return container.Spec{
		Service:  ContainerName,
		Name:     ContainerName,
		Image:    a.Image,
		Networks: a.Zones.For(ContainerName),
		Resource: a.Resources,
		User:     fmt.Sprintf("%d:%d", UID, GID),
		CapAdd:   []string{"IPC_LOCK"},
		Ulimits:  map[string]int{"memlock": -1},
		Env: map[string]string{
			"SKIP_SETCAP":  "true",
			"SKIP_CHOWN":   "true",
			"VAULT_ADDR":   URL(),
			"VAULT_CACERT": tlsMount + "/" + caFile,
		},
		// "server" without -dev: the entrypoint adds -config=/vault/config.
		Command: []string{"server"},
		// No Ports: the gateway does not expose Vault; operators reach it
		// through an SSH tunnel to the data host (docs/vault.md).
		Mounts: []container.Mount{
			{HostPath: path.Join(a.ServiceDir, "config"), Target: configMount, ReadOnly: true},
			{HostPath: path.Join(a.ServiceDir, "tls"), Target: tlsMount, ReadOnly: true},
			{HostPath: path.Join(a.ServiceDir, "data"), Target: dataMount},
			{HostPath: path.Join(a.ServiceDir, "logs"), Target: logsMount},
		},
		ReadOnlyRootFS: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,size=64m,mode=1777"},
		// Sealed and uninitialised answer 200 (see HealthPath): a sealed
		// Vault is "healthy" (running) until an operator unseals it. The
		// image's busybox wget cannot check a certificate; SelfAddr is in
		// Vault's (TLSHosts), so one that could would accept it.
		Health: container.Health{
			Test:        []string{"CMD", "wget", "-q", "-O", "/dev/null", "--no-check-certificate", selfURL() + HealthPath},
			Interval:    15 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 30 * time.Second,
			Retries:     3,
		},
	}
}

// LogFiles are Vault's log files on the host, which the host's rsyslog
// forwards: the file audit device's, in the mounted logs directory. The
// host's logrotate rotates it and sends SIGHUP, on which Vault reopens it.
func LogFiles(serviceDir string) []host.LogFile {
	return []host.LogFile{{
		Glob: path.Join(serviceDir, "logs", auditLogFile), Service: ContainerName,
		Reopen: fmt.Sprintf("docker kill --signal=HUP %s", ContainerName),
	}}
}
