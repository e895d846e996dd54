// Package stacks reads a stack's configuration once, validates it, and wires
// every component of the platform from it. Components never read config.
package stacks

import (
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
)

// Service kinds deployed besides the application tiers.
const (
	Postgres      = "postgres"
	Redis         = "redis"
	Prometheus    = "prometheus"
	Alertmanager  = "alertmanager"
	Grafana       = "grafana"
	Jaeger        = "jaeger"
	Nginx         = "nginx"
	Vault         = "vault"
	Elasticsearch = "elasticsearch"
	Kibana        = "kibana"
	Logstash      = "logstash"
	App           = "aurigraph-v11"
)

// Services lists the non-application service kinds in deployment order.
var Services = []string{Postgres, Redis, Vault, Elasticsearch, Logstash, Kibana, Jaeger, Alertmanager, Prometheus, Grafana, Nginx}

// Host roles: a service runs on the host(s) holding its role.
const (
	RoleManager    = "manager"    // Docker Swarm manager (cluster control plane)
	RoleEdge       = "edge"       // public gateway
	RoleApp        = "app"        // application replicas
	RoleData       = "data"       // PostgreSQL, Redis, Vault
	RoleMonitoring = "monitoring" // Prometheus, Alertmanager, Grafana, Jaeger
	RoleLogging    = "logging"    // Elasticsearch, Logstash, Kibana
)

// ServiceRole maps each service to the role that places it.
var ServiceRole = map[string]string{
	Nginx: RoleEdge, Postgres: RoleData, Redis: RoleData, Vault: RoleData,
	Prometheus: RoleMonitoring, Alertmanager: RoleMonitoring, Grafana: RoleMonitoring, Jaeger: RoleMonitoring,
	Elasticsearch: RoleLogging, Logstash: RoleLogging, Kibana: RoleLogging,
}

// Tier names of the application.
const (
	TierValidator = "validator"
	TierBusiness  = "business"
	TierSlim      = "slim"
)

// Tiers in rolling-update order: slim first, validators last.
var TierOrder = []string{TierSlim, TierBusiness, TierValidator}

// Config is the whole stack configuration, read once.
type Config struct {
	Project string `json:"-"`
	Stack   string `json:"-"`
	// The doc, range, allowed, example, check and default tags below (and
	// in the types they hold) are the configuration reference: `make docs`
	// writes docs/configuration.md and the descriptions in Pulumi.yaml from
	// them (internal/configdoc). Defaults are not typed here: they are read
	// from applyDefaults; a default tag only describes one that depends on
	// another value.
	Environment string `json:"environment" doc:"Environment kind. prod turns every policy mandatory and requires an alert receiver." allowed:"staging|prod" example:"prod" check:"Validate"`

	Hosts     []Host            `json:"hosts" doc:"Inventory: every machine the program prepares over SSH and places services on (at most 1000; the app hosts share the replicas, each within its capacity). Exactly one host holds the edge role (or placement.nginx names one), at least one manager and one app." check:"validateHosts"`
	SSH       SSH               `json:"ssh" doc:"SSH settings shared by every host." check:"validateSSH"`
	Preflight Preflight         `json:"preflight" doc:"Thresholds a host must meet before anything is installed on it." check:"validateMisc"`
	Network   Network           `json:"network" doc:"The cross-host overlay networks of the trust zones the containers talk on." check:"validateMisc"`
	Tiers     Tiers             `json:"tiers" doc:"The application's node tiers, updated in the order slim, business, validator." check:"validateTiers"`
	Release   Release           `json:"release" doc:"Blue-green release slots; their weights (summing to 100) drive the gateway's traffic split." check:"validateRelease"`
	Images    Images            `json:"images" doc:"Pinned image per service: a version tag or name:tag@sha256 digest as make pin writes it, never latest." example:"postgres:15.10-alpine" check:"validateImages"`
	Resources ResourceOverrides `json:"resources" doc:"Per-service overrides of the CPU and memory limits and reservations in stacks/defaults.go; a service left out keeps its default." check:"validateResources"`
	Retention Retention         `json:"retention" doc:"How long metrics, logs and PostgreSQL backups are kept." check:"validateMisc"`
	Edge      Edge              `json:"edge" doc:"The public gateway (nginx): host names it serves and its limits." check:"validateEdge"`
	PKI       PKI               `json:"pki" doc:"The program's own certificate authority and the certificates it issues." check:"validateMisc"`
	App       AppSettings       `json:"app" doc:"Application tuning, handed to every replica's environment." check:"validateMisc"`
	Postgres  PostgresSettings  `json:"postgres" doc:"PostgreSQL sizing." check:"validateMisc"`
	Pooler    PoolerSettings    `json:"pooler" doc:"PgBouncer, the connection pooler (transaction mode) on the PostgreSQL host: every replica's JDBC pool connects to it, and it to PostgreSQL with a bounded server pool." check:"validatePooler"`
	Placement map[string]string `json:"placement" doc:"Optional overrides of role-based placement: service name to the host that runs it." example:"vault: prod-data-01" check:"validatePlacement"`
	Updates   Updates           `json:"updates" doc:"Unattended security updates on every host (Debian security archive only; Docker is never upgraded unattended)." check:"validateMisc"`

	Time     TimeSync `json:"time" doc:"Time synchronisation of every host (chrony)." check:"validateTime"`
	Alerting Alerting `json:"alerting" doc:"Where Alertmanager sends alerts and how often. Critical alerts go to every configured receiver, warnings to e-mail and webhook only. prod refuses an empty set of receivers; a configured receiver needs its secret." check:"validateAlerting"`
	// SelfHealing configures the container watchdog on every host.
	SelfHealing SelfHealing `json:"selfHealing" doc:"Container watchdog on every host: restarts this program's containers that Docker reports unhealthy, never others." check:"validateSelfHealing"`
	// BackupTarget, when its host is set, receives the encrypted off-host copies.
	BackupTarget BackupTarget `json:"backupTarget" doc:"Off-host copies of the PostgreSQL backups (WAL archive, base backups, dumps): restic on the data host encrypts them with the backupRepositoryPassword secret and sends them over SFTP, logging in with the backupTargetSshKey secret, every 5 minutes and after each base backup; retention.backups applies to them, a weekly check verifies them. Configured by setting its host." example:"{host: 192.0.2.51, user: backup, path: /srv/restic/aurigraph-prod, hostKey: ssh-ed25519 AAAA…}" check:"validateBackupTarget"`
	// BackupObjectStore, when its endpoint is set, receives the encrypted
	// off-host copies too (alone or besides backupTarget).
	BackupObjectStore BackupObjectStore `json:"backupObjectStore" doc:"Off-host copies of the PostgreSQL backups to an S3-compatible bucket, alone or besides backupTarget (then every copy goes to both, each its own repository with the same backupRepositoryPassword, each its own timers and alerts): restic on the data host encrypts them with the backupRepositoryPassword secret and sends them to s3:<endpoint>/<bucket>/<prefix>/<store>, signing with the backupObjectStoreAccessKeyId and backupObjectStoreSecretAccessKey secrets, every 5 minutes; retention.backups applies to them, a weekly check verifies them. Configured by setting its endpoint." example:"{endpoint: https://s3.eu-central-1.amazonaws.com, bucket: aurigraph-backups, prefix: prod, region: eu-central-1}" check:"validateBackupObjectStore"`

	// BackupDrill schedules the recovery drill and places it.
	BackupDrill BackupDrill `json:"backupDrill" doc:"The PostgreSQL recovery drill. With an off-host copy (backupTarget or backupObjectStore; the SFTP one when both) it runs on another host of the stack: it fetches the newest copy, restores its newest dump into a scratch container of the live image with no network, verifies every table's rows and checksum and the schema against the dump's manifest, and records the time to a usable database and the age of the dump (docs/runbooks/drill.md). Without either there is no copy to fetch: it restores the newest local dump on the PostgreSQL host." check:"validateBackupDrill"`

	Secrets Secrets `json:"-"`
}

// OffHostCopies reports whether the stores are copied off their hosts
// (backupTarget and/or backupObjectStore): the drill then runs from the copy.
func (c *Config) OffHostCopies() bool {
	return c.BackupTarget.Configured() || c.BackupObjectStore.Configured()
}

// DrillOffHost reports whether the drill runs from the off-host copy on
// backupDrill.host: with a copy, on a stack with a host besides PostgreSQL's.
func (c *Config) DrillOffHost() bool { return c.OffHostCopies() && c.BackupDrill.Host != "" }

// BackupDrill is when and where the recovery drill runs.
type BackupDrill struct {
	Host        string `json:"host" doc:"Host of the stack (its name) the drill runs on with an off-host copy; never the PostgreSQL host, which a real recovery would not have." default:"with an off-host copy, the first monitoring host that is not the PostgreSQL host, else the first other host; none on a one-host stack (the drill stays on the data host)" example:"prod-obs-01" check:"validateBackupDrill"`
	Schedule    string `json:"schedule" doc:"When the drill runs: a systemd OnCalendar expression (host time)." example:"Sun *-*-01..07 04:00:00" check:"validateBackupDrill"`
	MaxAgeHours int    `json:"maxAgeHours" doc:"How old the last successful drill may be before RestoreDrillOverdue fires, in hours: the schedule's longest gap plus time for one drill." range:"24-8784" check:"validateBackupDrill"`
}

// Host is one machine of the inventory.
type Host struct {
	Name     string   `json:"name" doc:"Unique host name: lower-case letters, digits and dashes." example:"prod-app-01" check:"validateHosts"`
	Address  string   `json:"address" doc:"Public address the program connects to over SSH: a plain IPv4 or IPv6 literal." example:"198.51.100.41" check:"validateHosts"`
	Private  string   `json:"privateAddress" doc:"Cluster address other hosts reach this one on." default:"the host's address" example:"192.0.2.41" check:"validateHosts"`
	SSHUser  string   `json:"sshUser" doc:"User the program logs in as (a POSIX user name)." example:"deploy" check:"validateHosts"`
	SSHPort  int      `json:"sshPort" doc:"SSH port." range:"1-65535" check:"validateHosts"`
	HostKey  string   `json:"hostKey" doc:"Pinned SSH host public key, one line: the output of ssh-keyscan -t ed25519 <address> without the host name." example:"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…" check:"validateHosts"`
	Kind     string   `json:"kind" doc:"Kind of machine." allowed:"bare-metal|cloud" example:"bare-metal" check:"validateHosts"`
	Roles    []string `json:"roles" doc:"What the host runs: manager (Swarm control plane), edge (gateway), app (replicas), data (PostgreSQL, Redis, Vault), monitoring (Prometheus, Alertmanager, Grafana, Jaeger), logging (Elasticsearch, Logstash, Kibana)." allowed:"manager|edge|app|data|monitoring|logging" example:"[manager, edge]" check:"validateHosts"`
	Capacity Capacity `json:"capacity" doc:"What the operator states the host has: the policy pack checks that reservations fit, preflight checks the real figures." check:"validateHosts"`
}

// ClusterAddress is where other hosts reach this one.
func (h Host) ClusterAddress() string {
	if h.Private != "" {
		return h.Private
	}
	return h.Address
}

// HasRole reports whether the host holds role.
func (h Host) HasRole(role string) bool {
	for _, r := range h.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Capacity is what the operator states a host has; the policy pack checks
// that reservations fit, preflight checks the real figures.
type Capacity struct {
	CPUs     int `json:"cpus" doc:"CPU cores." range:"1-1024" example:"64" check:"validateHosts"`
	MemoryGB int `json:"memoryGb" doc:"Memory in GB." range:"1-16384" example:"256" check:"validateHosts"`
	DiskGB   int `json:"diskGb" doc:"Data disk in GB; on the host running Elasticsearch at least what it keeps logs in (validateLogDisk)." range:"1-1048576" example:"1000" check:"validateHosts"`
}

// SSH holds connection settings shared by every host.
type SSH struct {
	Jump *JumpHost `json:"jumpHost" doc:"Optional bastion every SSH connection goes through." check:"validateSSH"`
	// AllowFrom are extra sources (addresses or CIDRs) the host firewalls
	// accept SSH from; with a jump host or this list, nothing else may.
	AllowFrom             []string `json:"allowFrom" doc:"Required: addresses or CIDRs the host firewalls accept SSH from besides the jump host and the cluster peers (the operator's VPN, CI runners); the prod policy refuses 0.0.0.0/0 and ::/0." example:"[198.51.100.0/28]" check:"validateSSH"`
	DialErrorLimit        int      `json:"dialErrorLimit" doc:"Failed SSH dials a remote step retries before it fails." range:"1-100" check:"validateSSH"`
	PerDialTimeoutSeconds int      `json:"perDialTimeoutSeconds" doc:"Timeout of one SSH dial, in seconds." range:"1-600" check:"validateSSH"`
	StepTimeoutMinutes    int      `json:"stepTimeoutMinutes" doc:"Timeout of one remote step, in minutes." range:"1-1440" check:"validateSSH"`
}

// JumpHost is an optional bastion in front of the hosts.
type JumpHost struct {
	Address string `json:"address" doc:"The jump host's IPv4 or IPv6 address or DNS name." example:"203.0.113.5" check:"validateSSH"`
	User    string `json:"user" doc:"User the program logs in to the jump host as." example:"deploy" check:"validateSSH"`
	Port    int    `json:"port" doc:"The jump host's SSH port." range:"1-65535" check:"validateSSH"`
	HostKey string `json:"hostKey" doc:"The jump host's pinned SSH public key, one line." example:"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…" check:"validateSSH"`
}

// Updates: unattended security updates on every host (components/host,
// step security-updates). Reboots go through cmd/reboot unless
// AutomaticReboot lets unattended-upgrades reboot hosts by itself.
type Updates struct {
	AutomaticReboot bool `json:"automaticReboot" doc:"Let unattended-upgrades reboot hosts by itself; false: reboot with make reboot STACK=…, one host at a time, gateway drained."`
	// RebootTime "HH:MM" is the first host's automatic reboot; each next
	// host of the inventory reboots RebootStagger later (RebootTimeFor).
	RebootTime string `json:"rebootTime" doc:"With automaticReboot, the first host's reboot time (HH:MM, 24 hours); each next host of the inventory reboots 30 minutes later." example:"04:00" check:"validateMisc"`
}

// Preflight thresholds: a host below any of them is refused.
type Preflight struct {
	MinCPUs     int    `json:"minCpus" doc:"Fewest CPU cores a host may have." range:"1-1024" example:"32" check:"validateMisc"`
	MinMemoryGB int    `json:"minMemoryGb" doc:"Least memory a host may have, in GB." range:"1-16384" example:"64" check:"validateMisc"`
	MinDiskGB   int    `json:"minDiskGb" doc:"Least free disk under dataPath, in GB." range:"1-1048576" example:"200" check:"validateMisc"`
	DataPath    string `json:"dataPath" doc:"Where every service keeps its data: an absolute, clean path outside system directories." check:"validateMisc"`
}

// Network names the trust zones' overlay networks and their address range.
type Network struct {
	Name   string `json:"name" doc:"Docker network name of the app trust zone; every other zone's network is <name>-<zone> (docs/network-zones.md)." check:"validateMisc"`
	Subnet string `json:"subnet" doc:"Private IPv4 subnet of /8 to /24; each trust zone gets a fixed eighth of it, which must hold its containers and hosts." check:"validateMisc"`
}

// Tier is one application node tier.
type Tier struct {
	Replicas int    `json:"replicas" doc:"Replicas of the tier." range:"1-500" example:"5" check:"validateTiers"`
	Groups   []int  `json:"groups" doc:"Rolling-update group sizes, updated one group at a time; they sum to replicas." default:"one group of all replicas" example:"[8, 7]" check:"validateTiers"`
	Image    string `json:"image" doc:"Optional: overrides the blue slot's image for this tier." default:"release.blue.image" example:"aurigraph/v11:11.4.2" check:"validateTiers"`
	// ImageGroups lets a rolling release pause between a tier's groups:
	// one group more on the new image per phase.
	ImageGroups int `json:"imageGroups" doc:"How many of the tier's rolling groups, from the first, run tiers.<tier>.image; the others keep release.blue.image. 0 (the default): every group." range:"0-500" example:"1" check:"validateTiers"`
}

// Tiers are the three node tiers.
type Tiers struct {
	Validator Tier `json:"validator" doc:"Validator nodes (updated last)." check:"validateTiers"`
	Business  Tier `json:"business" doc:"Business nodes." check:"validateTiers"`
	Slim      Tier `json:"slim" doc:"Slim nodes (updated first)." check:"validateTiers"`
}

// ByName returns the tier called name.
func (t Tiers) ByName(name string) Tier {
	switch name {
	case TierValidator:
		return t.Validator
	case TierBusiness:
		return t.Business
	default:
		return t.Slim
	}
}

// Slot is a blue-green release slot.
type Slot struct {
	Image  string `json:"image" doc:"Application image of the slot, pinned by tag or digest; required for blue, empty for an unused green." example:"aurigraph/v11:11.4.2" check:"validateRelease"`
	Weight int    `json:"weight" doc:"Share of the traffic in percent; blue.weight + green.weight = 100 (canary steps 95/5, 80/20, 50/50, 0/100)." range:"0-100" example:"100" check:"validateRelease"`
	// Scale lets both slots of a release fit hosts sized for one slot and a
	// spare: the release controller grows the new slot while the old one
	// shrinks, as the traffic moves (docs/runbooks/release.md).
	Scale *int `json:"scale" doc:"Percent of every tier's replicas the slot runs: the first ceil(replicas x scale / 100) of each tier in rolling order, so a change adds or removes only the slot's last replicas and moves none. Both slots' replicas must fit the app hosts; a slot with weight above 0 needs a scale above 0." range:"0-100" default:"100" example:"60" check:"validateRelease"`
}

// FullScale is a slot's scale when none is set: every replica of every tier.
const FullScale = 100

// ScalePercent is the slot's scale, FullScale when unset.
func (s Slot) ScalePercent() int {
	if s.Scale == nil {
		return FullScale
	}
	return *s.Scale
}

// ScaledReplicas is how many of a tier's replicas a slot at scale percent
// runs: rounded up, so a slot that runs at all runs every tier.
func ScaledReplicas(replicas, scale int) int {
	if scale <= 0 || replicas <= 0 {
		return 0
	}
	return (replicas*min(scale, FullScale) + FullScale - 1) / FullScale
}

// Release holds the two slots; weights decide the gateway's traffic split.
type Release struct {
	Blue  Slot `json:"blue" doc:"The current release." check:"validateRelease"`
	Green Slot `json:"green" doc:"The next release while it takes traffic." check:"validateRelease"`
}

// Images pins every service image by tag or digest.
type Images map[string]string

// ResourceOverrides replaces the default resources of a service.
type ResourceOverrides map[string]container.Resources

// Retention settings.
type Retention struct {
	PrometheusDays    int     `json:"prometheusDays" doc:"Days Prometheus keeps metrics." range:"1-3650" check:"validateMisc"`
	ElasticsearchDays int     `json:"elasticsearchDays" doc:"Days Elasticsearch keeps logs." range:"1-3650" check:"validateMisc"`
	Backups           Backups `json:"backups" doc:"PostgreSQL backup rotation: how many of each kind are kept. The defaults apply only when all four are left out." check:"validateMisc"`
}

// Backups is the PostgreSQL backup rotation.
type Backups struct {
	Hourly  int `json:"hourly" doc:"Hourly backups kept." range:"0-1000" check:"validateMisc"`
	Daily   int `json:"daily" doc:"Daily backups kept." range:"1-1000" check:"validateMisc"`
	Weekly  int `json:"weekly" doc:"Weekly backups kept." range:"0-1000" check:"validateMisc"`
	Monthly int `json:"monthly" doc:"Monthly backups kept." range:"0-1000" check:"validateMisc"`
}

// Edge is the public gateway's names and limits.
type Edge struct {
	APIHostname        string            `json:"apiHostname" doc:"Public DNS name of the API." example:"api.aurigraph.example.com" check:"validateEdge"`
	GRPCHostname       string            `json:"grpcHostname" doc:"Public DNS name of the gRPC endpoint; empty: none." example:"grpc.aurigraph.example.com" check:"validateEdge"`
	MonitoringHosts    map[string]string `json:"monitoringHostnames" doc:"DNS name the gateway serves each monitoring UI on (behind the monitoringHtpasswd users); every UI needs its own name." example:"grafana: grafana.ops.aurigraph.example.com" check:"validateEdge"`
	RateLimitPerSecond int               `json:"rateLimitPerSecond" doc:"Requests per second a client may send to the API." range:"1-1000000" check:"validateEdge"`
	RateLimitBurst     int               `json:"rateLimitBurst" doc:"Requests a client may send above the rate in a burst." range:"1-1000000" check:"validateEdge"`
	// AllowedMonitoringCIDRs may reach the monitoring names (besides auth).
	AllowedMonitoringCIDRs []string `json:"allowedMonitoringCidrs" doc:"Networks that may reach the monitoring names (besides their password); empty: any." example:"[198.51.100.0/24]" check:"validateEdge"`
}

// PKI settings for the program's own certificate authority.
type PKI struct {
	Rotation            int  `json:"rotation" doc:"Raise by one to replace every leaf certificate." range:"0-1048576" check:"validateMisc"`
	ValidityHours       int  `json:"validityHours" doc:"Lifetime of a leaf certificate in hours; above earlyRenewalHours." range:"1-87600" check:"validateMisc"`
	EarlyRenewalHours   int  `json:"earlyRenewalHours" doc:"A leaf certificate is renewed this many hours before it expires." range:"1-87600" check:"validateMisc"`
	CAValidityHours     int  `json:"caValidityHours" doc:"Lifetime of the certificate authority in hours." range:"1-87600" check:"validateMisc"`
	OperatorCertificate bool `json:"operatorCertificate" doc:"Serve the public names with the operator's certificate (the edgeCertificate and edgePrivateKey secrets) instead of one from the program's CA." check:"validateSecrets"`
}

// AppSettings tunes the application environment per stack.
type AppSettings struct {
	TargetTPS         int `json:"targetTps" doc:"Transactions per second the application aims at." range:"1-100000000" check:"validateMisc"`
	BatchSize         int `json:"batchSize" doc:"Transactions per batch." range:"1-10000000" check:"validateMisc"`
	ParallelThreads   int `json:"parallelThreads" doc:"Worker threads of each replica." range:"1-4096" check:"validateMisc"`
	DatasourceMaxSize int `json:"datasourceMaxSize" doc:"Largest JDBC connection pool of each replica (connections to the pooler), within the SPEC's 20-30; pooler.maxClientConn must hold every replica of both slots at this size." range:"20-30" check:"validatePooler"`
	DatasourceMinSize int `json:"datasourceMinSize" doc:"Smallest pool of each replica, within the SPEC's 5-10." range:"5-10" check:"validateMisc"`
}

// BackupTarget is an SFTP account on a machine in another failure domain
// than the PostgreSQL host.
type BackupTarget struct {
	Host    string `json:"host" doc:"Address of the SFTP server: another host of the stack (not the PostgreSQL one) or a machine outside it." example:"192.0.2.51" check:"validateBackupTarget"`
	Port    int    `json:"port" doc:"Its SSH port." range:"1-65535" check:"validateBackupTarget"`
	User    string `json:"user" doc:"Account restic logs in as (a POSIX user name); its authorized_keys holds the backupTargetSshKey's public key." example:"backup" check:"validateBackupTarget"`
	Path    string `json:"path" doc:"Repository directory on that host (absolute; created by the first copy)." example:"/srv/restic/aurigraph-prod" check:"validateBackupTarget"`
	HostKey string `json:"hostKey" doc:"Pinned SSH host public key of the target, one line: the output of ssh-keyscan -t ed25519 <host> without the host name." example:"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…" check:"validateBackupTarget"`
}

// Configured reports whether off-host copies are on.
func (t BackupTarget) Configured() bool { return t.Host != "" }

// BackupObjectStore is a bucket of an S3-compatible object storage in
// another failure domain than the PostgreSQL host.
type BackupObjectStore struct {
	Endpoint string `json:"endpoint" doc:"URL of the S3 API: https://host[:port], nothing after the host (plain http only to a loopback address: it would carry the access key id and replayable signed requests across the network)." example:"https://s3.eu-central-1.amazonaws.com" check:"validateBackupObjectStore"`
	Bucket   string `json:"bucket" doc:"Bucket the repositories are in (S3 naming rules: 3-63 lower-case letters, digits, '.', '-'); restic creates it on the first copy if the keys may." example:"aurigraph-backups" check:"validateBackupObjectStore"`
	Prefix   string `json:"prefix" doc:"Optional key prefix inside the bucket (words joined by '/', no slash at either end); each store's repository is <prefix>/<store>." example:"prod" check:"validateBackupObjectStore"`
	Region   string `json:"region" doc:"Optional region of the bucket; empty lets restic ask the endpoint." example:"eu-central-1" check:"validateBackupObjectStore"`
}

// Configured reports whether copies to the bucket are on.
func (o BackupObjectStore) Configured() bool { return o.Endpoint != "" }

// PostgresSettings sizes the database.
type PostgresSettings struct {
	// MaxConnections is a fixed ceiling (a change restarts PostgreSQL to
	// apply): validation refuses one below the pooler's server pool plus
	// the connections reserved for others (postgresReserved).
	MaxConnections int `json:"maxConnections" doc:"Fixed ceiling of connections; at least pooler.defaultPoolSize + pooler.reservePoolSize + 20 reserved (superuser, exporter, backups, Vault, operators). A change restarts PostgreSQL to apply." range:"1-100000" check:"validatePooler"`
	// ArchiveTimeoutSeconds bounds the data a lost host loses, with the
	// off-host copy's 5 minutes.
	ArchiveTimeoutSeconds int `json:"archiveTimeoutSeconds" doc:"archive_timeout: the longest a committed transaction waits before its WAL segment is archived (each switch archives a 16 MB segment, so lower costs space). With the off-host copy every 5 minutes it bounds the data lost with the host." range:"10-3600" check:"validateMisc"`
}

// PoolerSettings size PgBouncer (components/pgbouncer): the clients it
// accepts and the server connections it opens.
type PoolerSettings struct {
	MaxClientConn   int `json:"maxClientConn" doc:"Client connections PgBouncer accepts (max_client_conn): at least every replica of both slots x app.datasourceMaxSize." range:"1-100000" check:"validatePooler"`
	DefaultPoolSize int `json:"defaultPoolSize" doc:"Server connections to PostgreSQL of the application's pool (default_pool_size); with reservePoolSize at most postgres.maxConnections minus 20 reserved." range:"1-100000" check:"validatePooler"`
	ReservePoolSize int `json:"reservePoolSize" doc:"Extra server connections for clients that waited 3 s (reserve_pool_size)." range:"0-100000" check:"validatePooler"`
}

// SelfHealing: the watchdog on every host (components/host, step watchdog)
// restarts a container of this program that Docker reported unhealthy for
// UnhealthyChecks[service] consecutive checks (UnhealthyChecks["default"]
// for the services not named), every IntervalSeconds, waiting
// BackoffSeconds x 2^(k-1) after the k-th restart of the last hour, and
// giving up at MaxRestartsPerHour (the WatchdogGaveUp alert).
type SelfHealing struct {
	IntervalSeconds    int            `json:"intervalSeconds" doc:"How often the watchdog checks, in seconds." range:"5-300" check:"validateSelfHealing"`
	UnhealthyChecks    map[string]int `json:"unhealthyChecks" doc:"Consecutive unhealthy checks before a restart, per service; the key default applies to the services not named." range:"1-100" example:"postgres: 6" check:"validateSelfHealing"`
	BackoffSeconds     int            `json:"backoffSeconds" doc:"Wait after a container's first restart in the last hour, doubled after each further one, in seconds." range:"1-3600" check:"validateSelfHealing"`
	MaxRestartsPerHour int            `json:"maxRestartsPerHour" doc:"Restarts of one container in an hour before the watchdog gives up and WatchdogGaveUp fires." range:"1-60" check:"validateSelfHealing"`
}

// Host is the watchdog's configuration as components/host takes it.
func (s SelfHealing) Host() host.SelfHealing {
	return host.SelfHealing{IntervalSeconds: s.IntervalSeconds, UnhealthyChecks: s.UnhealthyChecks,
		BackoffSeconds: s.BackoffSeconds, MaxRestartsPerHour: s.MaxRestartsPerHour}
}

// TimeSync is the hosts' time synchronisation (chrony).
type TimeSync struct {
	// Servers are chrony's only sources: DNS names or IP literals.
	Servers []string `json:"servers" doc:"Chrony's only sources (1-16): DNS names or IP literals; hosts need UDP port 123 out to them." example:"[ntp1.example.net, ntp2.example.net]" check:"validateTime"`
	// MaxOffsetMs bounds a host clock's offset: preflight refuses a host
	// beyond it, host preparation waits until the clock is within it, and
	// the ClockOffsetHigh alert fires above it.
	MaxOffsetMs int `json:"maxOffsetMs" doc:"Largest clock offset in ms: preflight refuses a host beyond it, preparation waits until the clock is within it, the ClockOffsetHigh alert fires above it." range:"1-10000" check:"validateTime"`
}

// Alerting is where Alertmanager sends alerts and how often. A receiver is
// configured by its key being present; its credential is a secret
// (AlertingSecrets), never part of this object.
type Alerting struct {
	// Webhook posts every alert to the URL in the alertWebhookUrl secret.
	Webhook *WebhookReceiver `json:"webhook" doc:"Post every alert to the URL in the alertWebhookUrl secret; configured by being present." example:"{}" check:"validateAlerting"`
	// Email sends through an SMTP relay (STARTTLS); with a username, the
	// password is the smtpPassword secret.
	Email *EmailReceiver `json:"email" doc:"Send alerts by e-mail through an SMTP relay (STARTTLS)." check:"validateAlerting"`
	// PagerDuty pages critical alerts with the pagerdutyRoutingKey secret.
	PagerDuty *PagerDutyReceiver `json:"pagerduty" doc:"Page critical alerts with the pagerdutyRoutingKey secret; configured by being present." example:"{}" check:"validateAlerting"`
	// Opsgenie pages critical alerts with the opsgenieApiKey secret.
	Opsgenie *OpsgenieReceiver `json:"opsgenie" doc:"Page critical alerts with the opsgenieApiKey secret." example:"{}" check:"validateAlerting"`

	GroupWait              string `json:"groupWait" doc:"Wait before the first notification of a new group of alerts (Alertmanager duration)." check:"validateAlerting"`
	GroupInterval          string `json:"groupInterval" doc:"Wait before notifying about new alerts of a group already notified." check:"validateAlerting"`
	RepeatInterval         string `json:"repeatInterval" doc:"Wait before repeating a notification of a warning still firing." check:"validateAlerting"`
	CriticalRepeatInterval string `json:"criticalRepeatInterval" doc:"Wait before repeating a notification of a critical alert still firing." check:"validateAlerting"`
}

// WebhookReceiver has no plain settings: its URL often carries a token.
type WebhookReceiver struct{}

// EmailReceiver is an SMTP relay and the addresses.
type EmailReceiver struct {
	To        []string `json:"to" doc:"Addresses alerts are sent to." example:"[oncall@example.com]" check:"validateAlerting"`
	From      string   `json:"from" doc:"Sender address." example:"alertmanager@example.com" check:"validateAlerting"`
	Smarthost string   `json:"smarthost" doc:"SMTP relay as host:port (STARTTLS)." example:"smtp.example.com:587" check:"validateAlerting"`
	Username  string   `json:"username" doc:"User at the relay; its password is the smtpPassword secret. Empty: the relay needs no authentication." example:"alertmanager" check:"validateAlerting"`
}

// PagerDutyReceiver has no plain settings.
type PagerDutyReceiver struct{}

// OpsgenieReceiver may name the API of another region.
type OpsgenieReceiver struct {
	APIURL string `json:"apiUrl" doc:"Opsgenie API of another region, https; empty: Alertmanager's default (US)." example:"https://api.eu.opsgenie.com/" check:"validateAlerting"`
}

// HasReceiver reports whether any alert leaves Alertmanager.
func (a Alerting) HasReceiver() bool {
	return a.Webhook != nil || a.Email != nil || a.PagerDuty != nil || a.Opsgenie != nil
}
