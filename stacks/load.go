package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace of every config key.
const Namespace = "aurigraph"

// objectKeys are the structured config keys and where they land.
func objectKeys(c *Config) map[string]any {
	return map[string]any{
		"hosts": &c.Hosts, "ssh": &c.SSH, "preflight": &c.Preflight, "network": &c.Network,
		"tiers": &c.Tiers, "release": &c.Release, "images": &c.Images, "resources": &c.Resources,
		"retention": &c.Retention, "edge": &c.Edge, "pki": &c.PKI, "app": &c.App, "postgres": &c.Postgres, "pooler": &c.Pooler, "placement": &c.Placement,
		"time":              &c.Time,
		"updates":           &c.Updates,
		"alerting":          &c.Alerting,
		"selfHealing":       &c.SelfHealing,
		"backupTarget":      &c.BackupTarget,
		"backupObjectStore": &c.BackupObjectStore,
		"backupDrill":       &c.BackupDrill,
	}
}

// ConfigKeys are every key Load reads (short names): Pulumi.yaml declares
// each with a type and a description (a test holds them together).
func ConfigKeys() []string {
	keys := []string{"environment"}
	for k := range objectKeys(&Config{}) {
		keys = append(keys, k)
	}
	keys = append(keys, RequiredSecrets...)
	keys = append(keys, OperatorCertificateSecrets...)
	keys = append(keys, AlertingSecrets...)
	keys = append(keys, BackupTargetSecrets...)
	keys = append(keys, BackupObjectStoreSecrets...)
	sort.Strings(keys)
	return keys
}

// Load reads the whole configuration and validates it. Every problem is
// reported in one error; nothing is created when it fails.
func Load(ctx *pulumi.Context) (*Config, error) {
	c := &Config{Project: ctx.Project(), Stack: ctx.Stack()}
	var problems Problems
	c.Environment, _ = ctx.GetConfig(Namespace + ":environment")
	for key, target := range objectKeys(c) {
		raw, ok := ctx.GetConfig(Namespace + ":" + key)
		if !ok {
			continue
		}
		if err := decodeStrict(raw, target); err != nil {
			problems.Add(key, describeJSON(err), fixFor(key))
		}
	}
	applyDefaults(c)
	raw := readSecrets(ctx, c, &problems)
	problems = append(problems, Validate(c, raw)...)
	if len(problems) > 0 {
		return nil, problems.Err(c.Stack)
	}
	return c, nil
}

// decodeStrict refuses unknown fields, so a misspelt key or an unknown tier
// is reported instead of silently ignored.
func decodeStrict(raw string, target any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(target)
}

func describeJSON(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s should be %s", te.Field, te.Type)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return "has " + msg
	}
	return "is not valid: " + msg
}

func fixFor(key string) string {
	if key == "tiers" {
		return "use only the tiers validator, business and slim, each with replicas, groups and image"
	}
	return "fix it to match the schema in Pulumi.yaml"
}

// readSecrets wraps each secret as a Pulumi secret and returns the raw
// values for validation only (weak-value checks); they are never printed.
func readSecrets(ctx *pulumi.Context, c *Config, problems *Problems) map[string]string {
	raw := map[string]string{}
	targets := map[string]*pulumi.StringOutput{
		SecretSSHPrivateKey: &c.Secrets.SSHPrivateKey, SecretPostgresPassword: &c.Secrets.PostgresPassword,
		SecretRedisPassword: &c.Secrets.RedisPassword, SecretGrafanaAdminPassword: &c.Secrets.GrafanaAdminPassword,
		SecretElasticPassword: &c.Secrets.ElasticPassword, SecretKibanaSystemPassword: &c.Secrets.KibanaSystemPassword,
		SecretMonitoringHtpasswd: &c.Secrets.MonitoringHtpasswd, SecretEdgeCertificate: &c.Secrets.EdgeCertificate,
		SecretEdgePrivateKey:  &c.Secrets.EdgePrivateKey,
		SecretAlertWebhookURL: &c.Secrets.AlertWebhookURL, SecretSMTPPassword: &c.Secrets.SMTPPassword,
		SecretPagerDutyRoutingKey: &c.Secrets.PagerDutyRoutingKey, SecretOpsgenieAPIKey: &c.Secrets.OpsgenieAPIKey,
		SecretBackupRepositoryPassword: &c.Secrets.BackupRepositoryPassword, SecretBackupTargetSSHKey: &c.Secrets.BackupTargetSSHKey,
		SecretBackupObjectStoreAccessKeyID:     &c.Secrets.BackupObjectStoreAccessKeyID,
		SecretBackupObjectStoreSecretAccessKey: &c.Secrets.BackupObjectStoreSecretAccessKey,
	}
	for key, target := range targets {
		full := Namespace + ":" + key
		v, ok := ctx.GetConfig(full)
		if ok && v != "" {
			raw[key] = v
			if !ctx.IsConfigSecret(full) {
				problems.Add(key, "is stored in plain text", fmt.Sprintf("set it with `pulumi config set --secret %s <value>`", key))
			}
		}
		*target = pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}
	return raw
}

func applyDefaults(c *Config) {
	if c.Network.Name == "" {
		c.Network.Name = "aurigraph-network"
	}
	if c.Network.Subnet == "" {
		c.Network.Subnet = "172.28.0.0/16"
	}
	if c.Updates.RebootTime == "" {
		c.Updates.RebootTime = host.DefaultRebootTime
	}
	if c.Preflight.DataPath == "" {
		c.Preflight.DataPath = "/srv/aurigraph"
	}
	for i := range c.Hosts {
		if c.Hosts[i].SSHPort == 0 {
			c.Hosts[i].SSHPort = 22
		}
	}
	if c.SSH.Jump != nil && c.SSH.Jump.Port == 0 {
		c.SSH.Jump.Port = 22
	}
	if c.SSH.DialErrorLimit == 0 {
		c.SSH.DialErrorLimit = 5
	}
	if c.SSH.PerDialTimeoutSeconds == 0 {
		c.SSH.PerDialTimeoutSeconds = 15
	}
	if c.SSH.StepTimeoutMinutes == 0 {
		c.SSH.StepTimeoutMinutes = 20
	}
	for _, t := range []*Tier{&c.Tiers.Validator, &c.Tiers.Business, &c.Tiers.Slim} {
		if len(t.Groups) == 0 && t.Replicas > 0 {
			t.Groups = []int{t.Replicas}
		}
	}
	if c.Retention.PrometheusDays == 0 {
		c.Retention.PrometheusDays = 15
	}
	if c.Retention.ElasticsearchDays == 0 {
		c.Retention.ElasticsearchDays = 30
	}
	if c.Retention.Backups == (Backups{}) {
		c.Retention.Backups = Backups{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}
	}
	if c.Edge.RateLimitPerSecond == 0 {
		c.Edge.RateLimitPerSecond = 100
	}
	if c.Edge.RateLimitBurst == 0 {
		c.Edge.RateLimitBurst = 200
	}
	if c.PKI.ValidityHours == 0 {
		c.PKI.ValidityHours = 2160 // 90 days
	}
	if c.PKI.EarlyRenewalHours == 0 {
		c.PKI.EarlyRenewalHours = 720
	}
	if c.PKI.CAValidityHours == 0 {
		c.PKI.CAValidityHours = 87600 // 10 years
	}
	if c.App.TargetTPS == 0 {
		c.App.TargetTPS = 2000000
	}
	if c.App.BatchSize == 0 {
		c.App.BatchSize = 100000
	}
	if c.App.ParallelThreads == 0 {
		c.App.ParallelThreads = 256
	}
	if c.App.DatasourceMaxSize == 0 {
		c.App.DatasourceMaxSize = 20
	}
	if c.Postgres.MaxConnections == 0 {
		c.Postgres.MaxConnections = 500
	}
	if c.Postgres.ArchiveTimeoutSeconds == 0 {
		c.Postgres.ArchiveTimeoutSeconds = int(postgres.DefaultArchiveTimeout.Seconds())
	}
	if c.BackupTarget.Port == 0 {
		c.BackupTarget.Port = 22
	}
	if c.App.DatasourceMinSize == 0 {
		c.App.DatasourceMinSize = 5
	}
	applyPoolerDefaults(&c.Pooler)
	applyTimeDefaults(&c.Time)
	applyAlertingDefaults(&c.Alerting)
	applySelfHealingDefaults(&c.SelfHealing)
	applyBackupDrillDefaults(c)
}

// ResourcesFor returns a service's resources: the stack's override, else the default.
func (c *Config) ResourcesFor(service string) container.Resources {
	if r, ok := c.Resources[service]; ok {
		return r
	}
	return DefaultResources[service]
}

// TierImage is the image a rolling group of a tier's blue slot runs
// (group from 1).
func (c *Config) TierImage(tier string, group int) string {
	t := c.Tiers.ByName(tier)
	if t.Image != "" && (t.ImageGroups == 0 || group <= t.ImageGroups) {
		return t.Image
	}
	return c.Release.Blue.Image
}

// applySelfHealingDefaults fills what the stack leaves out with the
// watchdog's defaults (components/host); a default entry in
// unhealthyChecks is always there.
func applySelfHealingDefaults(s *SelfHealing) {
	d := s.Host().WithDefaults()
	s.IntervalSeconds, s.UnhealthyChecks, s.BackoffSeconds, s.MaxRestartsPerHour = d.IntervalSeconds, d.UnhealthyChecks, d.BackoffSeconds, d.MaxRestartsPerHour
}

// applyBackupDrillDefaults: the first Sunday of the month, alerting after
// the longest gap between two (35 days) plus a day; with an off-host copy, on
// another host than PostgreSQL's (defaultDrillHost).
func applyBackupDrillDefaults(c *Config) {
	d := &c.BackupDrill
	if d.Schedule == "" {
		d.Schedule = postgres.DrillEvery
	}
	if d.MaxAgeHours == 0 {
		d.MaxAgeHours = int(postgres.DrillMaxAge / time.Hour)
	}
	if d.Host == "" && c.OffHostCopies() {
		d.Host = defaultDrillHost(c)
	}
}

// defaultDrillHost is the first monitoring host that is not the PostgreSQL
// host, else the first other host; "" on a one-host stack, where the drill
// stays on the data host (there is no other host to recover on).
func defaultDrillHost(c *Config) string {
	pg := placedHost(c, Postgres)
	for _, monitoring := range []bool{true, false} {
		for _, h := range c.Hosts {
			if h.Name != pg && (!monitoring || h.HasRole(RoleMonitoring)) {
				return h.Name
			}
		}
	}
	return ""
}

// Drill is the drill as components/postgres takes it.
func (d BackupDrill) Drill(offHost bool) postgres.Drill {
	return postgres.Drill{Every: d.Schedule, MaxAge: time.Duration(d.MaxAgeHours) * time.Hour, OffHost: offHost}
}
