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
	Project     string `json:"-"`
	Stack       string `json:"-"`
	Environment string `json:"environment"`

	Hosts     []Host            `json:"hosts"`
	SSH       SSH               `json:"ssh"`
	Preflight Preflight         `json:"preflight"`
	Network   Network           `json:"network"`
	Tiers     Tiers             `json:"tiers"`
	Release   Release           `json:"release"`
	Images    Images            `json:"images"`
	Resources ResourceOverrides `json:"resources"`
	Retention Retention         `json:"retention"`
	Edge      Edge              `json:"edge"`
	PKI       PKI               `json:"pki"`
	App       AppSettings       `json:"app"`
	Postgres  PostgresSettings  `json:"postgres"`
	Placement map[string]string `json:"placement"` // optional service → host name override
	Updates   Updates           `json:"updates"`

	Time     TimeSync `json:"time"`
	Alerting Alerting `json:"alerting"`
	// SelfHealing configures the container watchdog on every host.
	SelfHealing SelfHealing `json:"selfHealing"`

	Secrets Secrets `json:"-"`
}

// Host is one machine of the inventory.
type Host struct {
	Name     string   `json:"name"`
	Address  string   `json:"address"`        // public / SSH address
	Private  string   `json:"privateAddress"` // cluster address; defaults to Address
	SSHUser  string   `json:"sshUser"`
	SSHPort  int      `json:"sshPort"`
	HostKey  string   `json:"hostKey"` // pinned SSH host public key ("ssh-ed25519 AAAA…")
	Kind     string   `json:"kind"`    // bare-metal | cloud
	Roles    []string `json:"roles"`
	Capacity Capacity `json:"capacity"`
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
	CPUs     int `json:"cpus"`
	MemoryGB int `json:"memoryGb"`
	DiskGB   int `json:"diskGb"`
}

// SSH holds connection settings shared by every host.
type SSH struct {
	Jump *JumpHost `json:"jumpHost"`
	// AllowFrom are extra sources (addresses or CIDRs) the host firewalls
	// accept SSH from; with a jump host or this list, nothing else may.
	AllowFrom             []string `json:"allowFrom"`
	DialErrorLimit        int      `json:"dialErrorLimit"`
	PerDialTimeoutSeconds int      `json:"perDialTimeoutSeconds"`
	StepTimeoutMinutes    int      `json:"stepTimeoutMinutes"`
}

// JumpHost is an optional bastion in front of the hosts.
type JumpHost struct {
	Address string `json:"address"`
	User    string `json:"user"`
	Port    int    `json:"port"`
	HostKey string `json:"hostKey"`
}

// Updates: unattended security updates on every host (components/host,
// step security-updates). Reboots go through cmd/reboot unless
// AutomaticReboot lets unattended-upgrades reboot hosts by itself.
type Updates struct {
	AutomaticReboot bool `json:"automaticReboot"`
	// RebootTime "HH:MM" is the first host's automatic reboot; each next
	// host of the inventory reboots RebootStagger later (RebootTimeFor).
	RebootTime string `json:"rebootTime"`
}

// Preflight thresholds: a host below any of them is refused.
type Preflight struct {
	MinCPUs     int    `json:"minCpus"`
	MinMemoryGB int    `json:"minMemoryGb"`
	MinDiskGB   int    `json:"minDiskGb"`
	DataPath    string `json:"dataPath"`
}

// Network is the cross-host overlay network.
type Network struct {
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
}

// Tier is one application node tier.
type Tier struct {
	Replicas int    `json:"replicas"`
	Groups   []int  `json:"groups"` // rolling groups; sums to Replicas
	Image    string `json:"image"`  // optional: overrides the blue slot's image for this tier
}

// Tiers are the three node tiers.
type Tiers struct {
	Validator Tier `json:"validator"`
	Business  Tier `json:"business"`
	Slim      Tier `json:"slim"`
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
	Image  string `json:"image"`
	Weight int    `json:"weight"`
}

// Release holds the two slots; weights decide the gateway's traffic split.
type Release struct {
	Blue  Slot `json:"blue"`
	Green Slot `json:"green"`
}

// Images pins every service image by tag or digest.
type Images map[string]string

// ResourceOverrides replaces the default resources of a service.
type ResourceOverrides map[string]container.Resources

// Retention settings.
type Retention struct {
	PrometheusDays    int     `json:"prometheusDays"`
	ElasticsearchDays int     `json:"elasticsearchDays"`
	Backups           Backups `json:"backups"`
}

// Backups is the PostgreSQL backup rotation.
type Backups struct {
	Hourly  int `json:"hourly"`
	Daily   int `json:"daily"`
	Weekly  int `json:"weekly"`
	Monthly int `json:"monthly"`
}

// Edge is the public gateway's names and limits.
type Edge struct {
	APIHostname        string            `json:"apiHostname"`
	GRPCHostname       string            `json:"grpcHostname"`
	MonitoringHosts    map[string]string `json:"monitoringHostnames"` // MonitoringUIs → name
	RateLimitPerSecond int               `json:"rateLimitPerSecond"`
	RateLimitBurst     int               `json:"rateLimitBurst"`
	// AllowedMonitoringCIDRs may reach the monitoring names (besides auth).
	AllowedMonitoringCIDRs []string `json:"allowedMonitoringCidrs"`
}

// PKI settings for the program's own certificate authority.
type PKI struct {
	Rotation            int  `json:"rotation"` // bump to replace every leaf certificate
	ValidityHours       int  `json:"validityHours"`
	EarlyRenewalHours   int  `json:"earlyRenewalHours"`
	CAValidityHours     int  `json:"caValidityHours"`
	OperatorCertificate bool `json:"operatorCertificate"` // use edgeCertificate/edgePrivateKey secrets
}

// AppSettings tunes the application environment per stack.
type AppSettings struct {
	TargetTPS         int `json:"targetTps"`
	BatchSize         int `json:"batchSize"`
	ParallelThreads   int `json:"parallelThreads"`
	DatasourceMaxSize int `json:"datasourceMaxSize"`
	DatasourceMinSize int `json:"datasourceMinSize"`
}

// PostgresSettings sizes the database.
type PostgresSettings struct {
	// MaxConnections is a fixed ceiling (a change restarts PostgreSQL to
	// apply): validation refuses one below what the application can open.
	MaxConnections int `json:"maxConnections"`
}

// SelfHealing: the watchdog on every host (components/host, step watchdog)
// restarts a container of this program that Docker reported unhealthy for
// UnhealthyChecks[service] consecutive checks (UnhealthyChecks["default"]
// for the services not named), every IntervalSeconds, waiting
// BackoffSeconds x 2^(k-1) after the k-th restart of the last hour, and
// giving up at MaxRestartsPerHour (the WatchdogGaveUp alert).
type SelfHealing struct {
	IntervalSeconds    int            `json:"intervalSeconds"`
	UnhealthyChecks    map[string]int `json:"unhealthyChecks"`
	BackoffSeconds     int            `json:"backoffSeconds"`
	MaxRestartsPerHour int            `json:"maxRestartsPerHour"`
}

// Host is the watchdog's configuration as components/host takes it.
func (s SelfHealing) Host() host.SelfHealing {
	return host.SelfHealing{IntervalSeconds: s.IntervalSeconds, UnhealthyChecks: s.UnhealthyChecks,
		BackoffSeconds: s.BackoffSeconds, MaxRestartsPerHour: s.MaxRestartsPerHour}
}

// TimeSync is the hosts' time synchronisation (chrony).
type TimeSync struct {
	// Servers are chrony's only sources: DNS names or IP literals.
	Servers []string `json:"servers"`
	// MaxOffsetMs bounds a host clock's offset: preflight refuses a host
	// beyond it, host preparation waits until the clock is within it, and
	// the ClockOffsetHigh alert fires above it.
	MaxOffsetMs int `json:"maxOffsetMs"`
}

// Alerting is where Alertmanager sends alerts and how often. A receiver is
// configured by its key being present; its credential is a secret
// (AlertingSecrets), never part of this object.
type Alerting struct {
	// Webhook posts every alert to the URL in the alertWebhookUrl secret.
	Webhook *WebhookReceiver `json:"webhook"`
	// Email sends through an SMTP relay (STARTTLS); with a username, the
	// password is the smtpPassword secret.
	Email *EmailReceiver `json:"email"`
	// PagerDuty pages critical alerts with the pagerdutyRoutingKey secret.
	PagerDuty *PagerDutyReceiver `json:"pagerduty"`
	// Opsgenie pages critical alerts with the opsgenieApiKey secret.
	Opsgenie *OpsgenieReceiver `json:"opsgenie"`

	GroupWait              string `json:"groupWait"`
	GroupInterval          string `json:"groupInterval"`
	RepeatInterval         string `json:"repeatInterval"`
	CriticalRepeatInterval string `json:"criticalRepeatInterval"`
}

// WebhookReceiver has no plain settings: its URL often carries a token.
type WebhookReceiver struct{}

// EmailReceiver is an SMTP relay and the addresses.
type EmailReceiver struct {
	To        []string `json:"to"`
	From      string   `json:"from"`
	Smarthost string   `json:"smarthost"` // host:port
	Username  string   `json:"username"`  // empty: the relay needs no authentication
}

// PagerDutyReceiver has no plain settings.
type PagerDutyReceiver struct{}

// OpsgenieReceiver may name the API of another region.
type OpsgenieReceiver struct {
	APIURL string `json:"apiUrl"` // empty: Alertmanager's default (US)
}

// HasReceiver reports whether any alert leaves Alertmanager.
func (a Alerting) HasReceiver() bool {
	return a.Webhook != nil || a.Email != nil || a.PagerDuty != nil || a.Opsgenie != nil
}
