package stacks

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Secret config keys. Every one is read as a Pulumi secret and stays one.
const (
	SecretSSHPrivateKey        = "sshPrivateKey"
	SecretPostgresPassword     = "postgresPassword"
	SecretRedisPassword        = "redisPassword"
	SecretGrafanaAdminPassword = "grafanaAdminPassword"
	SecretElasticPassword      = "elasticPassword"
	SecretKibanaSystemPassword = "kibanaSystemPassword"
	SecretMonitoringHtpasswd   = "monitoringHtpasswd"
	SecretEdgeCertificate      = "edgeCertificate"
	SecretEdgePrivateKey       = "edgePrivateKey"
	SecretAlertWebhookURL      = "alertWebhookUrl"
	SecretSMTPPassword         = "smtpPassword"
	SecretPagerDutyRoutingKey  = "pagerdutyRoutingKey"
	SecretOpsgenieAPIKey       = "opsgenieApiKey"
	// The off-host copies' (backupTarget) repository password and login key.
	SecretBackupRepositoryPassword = "backupRepositoryPassword"
	SecretBackupTargetSSHKey       = "backupTargetSshKey"
	// The bucket's (backupObjectStore) keys.
	SecretBackupObjectStoreAccessKeyID     = "backupObjectStoreAccessKeyId"
	SecretBackupObjectStoreSecretAccessKey = "backupObjectStoreSecretAccessKey"
)

// RequiredSecrets must be set on every stack.
var RequiredSecrets = []string{
	SecretSSHPrivateKey,
	SecretPostgresPassword,
	SecretRedisPassword,
	SecretGrafanaAdminPassword,
	SecretElasticPassword,
	SecretKibanaSystemPassword,
	SecretMonitoringHtpasswd,
}

// OperatorCertificateSecrets are required when pki.operatorCertificate is on.
var OperatorCertificateSecrets = []string{SecretEdgeCertificate, SecretEdgePrivateKey}

// AlertingSecrets are the receivers' credentials, each required when its
// receiver is configured under alerting. Optional, so declared like the
// operator certificate's: a plain-text value is refused by the program.
var AlertingSecrets = []string{SecretAlertWebhookURL, SecretSMTPPassword, SecretPagerDutyRoutingKey, SecretOpsgenieAPIKey}

// BackupTargetSecrets are required when backupTarget is configured.
var BackupTargetSecrets = []string{SecretBackupRepositoryPassword, SecretBackupTargetSSHKey}

// BackupObjectStoreSecrets are required, with backupRepositoryPassword,
// when backupObjectStore is configured.
var BackupObjectStoreSecrets = []string{SecretBackupObjectStoreAccessKeyID, SecretBackupObjectStoreSecretAccessKey}

// Secrets holds every secret value, each a secret Output. The tags name
// each key and document it (internal/configdoc, `make docs`).
type Secrets struct {
	SSHPrivateKey                    pulumi.StringOutput `config:"sshPrivateKey" doc:"Private key (PEM) the program logs in to every host with." check:"validateSecrets"`
	PostgresPassword                 pulumi.StringOutput `config:"postgresPassword" doc:"Password of the PostgreSQL superuser aurigraph, used only by the roles bootstrap and the backups; the services' roles get passwords derived from it." check:"validateSecrets"`
	RedisPassword                    pulumi.StringOutput `config:"redisPassword" doc:"Password of the Redis ACL user admin; the application's, the exporter's and Grafana's users get passwords derived from it." check:"validateSecrets"`
	GrafanaAdminPassword             pulumi.StringOutput `config:"grafanaAdminPassword" doc:"Grafana admin password." check:"validateSecrets"`
	ElasticPassword                  pulumi.StringOutput `config:"elasticPassword" doc:"Password of the Elasticsearch elastic user." check:"validateSecrets"`
	KibanaSystemPassword             pulumi.StringOutput `config:"kibanaSystemPassword" doc:"Password of the Elasticsearch kibana_system user." check:"validateSecrets"`
	MonitoringHtpasswd               pulumi.StringOutput `config:"monitoringHtpasswd" doc:"htpasswd lines (user:hash) that may open the monitoring UIs through the gateway." check:"validateSecrets"`
	EdgeCertificate                  pulumi.StringOutput `config:"edgeCertificate" doc:"Operator-supplied PEM certificate chain for the public edge (with pki.operatorCertificate)." check:"validateSecrets"`
	EdgePrivateKey                   pulumi.StringOutput `config:"edgePrivateKey" doc:"Operator-supplied PEM private key for the public edge (with pki.operatorCertificate)." check:"validateSecrets"`
	AlertWebhookURL                  pulumi.StringOutput `config:"alertWebhookUrl" doc:"URL Alertmanager posts every alert to (with alerting.webhook); it often carries a token." check:"validateAlerting"`
	SMTPPassword                     pulumi.StringOutput `config:"smtpPassword" doc:"Password of alerting.email.username at the SMTP relay (with alerting.email.username)." check:"validateAlerting"`
	PagerDutyRoutingKey              pulumi.StringOutput `config:"pagerdutyRoutingKey" doc:"PagerDuty Events API v2 routing key (with alerting.pagerduty)." check:"validateAlerting"`
	OpsgenieAPIKey                   pulumi.StringOutput `config:"opsgenieApiKey" doc:"Opsgenie API key (with alerting.opsgenie)." check:"validateAlerting"`
	BackupRepositoryPassword         pulumi.StringOutput `config:"backupRepositoryPassword" doc:"Password restic encrypts the off-host copies with (with backupTarget or backupObjectStore; both use it). Keep a copy outside the stack: without it the copies cannot be read." check:"validateSecrets"`
	BackupTargetSSHKey               pulumi.StringOutput `config:"backupTargetSshKey" doc:"Private key (OpenSSH or PEM) restic logs in to backupTarget with; give it no other access there (with backupTarget)." check:"validateSecrets"`
	BackupObjectStoreAccessKeyID     pulumi.StringOutput `config:"backupObjectStoreAccessKeyId" doc:"Access key id restic signs its requests to backupObjectStore with (with backupObjectStore); give its key pair access to that bucket only." check:"validateBackupObjectStore"`
	BackupObjectStoreSecretAccessKey pulumi.StringOutput `config:"backupObjectStoreSecretAccessKey" doc:"Secret access key of backupObjectStoreAccessKeyId (with backupObjectStore)." check:"validateBackupObjectStore"`
}

// configuredSecrets are the required secrets and those pki.operatorCertificate
// turns on: what validateSecrets checks.
func configuredSecrets(c *Config) []string {
	keys := append([]string{}, RequiredSecrets...)
	if c.PKI.OperatorCertificate {
		keys = append(keys, OperatorCertificateSecrets...)
	}
	if c.BackupTarget.Configured() {
		keys = append(keys, BackupTargetSecrets...)
	}
	if c.BackupObjectStore.Configured() {
		if !c.BackupTarget.Configured() {
			keys = append(keys, SecretBackupRepositoryPassword)
		}
		keys = append(keys, BackupObjectStoreSecrets...)
	}
	return keys
}

// NeededSecrets are the secret keys c needs set: the required ones, and
// those of the features it turns on (pki.operatorCertificate, each alert
// receiver), in that order. validateSecrets and validateAlerting refuse a
// configuration that lacks one (a test holds them together).
func NeededSecrets(c *Config) []string {
	keys := configuredSecrets(c)
	a := c.Alerting
	if a.Webhook != nil {
		keys = append(keys, SecretAlertWebhookURL)
	}
	if a.Email != nil && a.Email.Username != "" {
		keys = append(keys, SecretSMTPPassword)
	}
	if a.PagerDuty != nil {
		keys = append(keys, SecretPagerDutyRoutingKey)
	}
	if a.Opsgenie != nil {
		keys = append(keys, SecretOpsgenieAPIKey)
	}
	return keys
}

// NeededSecretsIn is NeededSecrets of a stack's config values (full keys,
// objects as JSON, as internal/stackfile holds them), for tools that plan
// without running the program. Values that do not decode count as unset:
// validation reports them when the program runs.
func NeededSecretsIn(values map[string]string) []string {
	c := &Config{}
	var pki PKI
	if raw, ok := values[Namespace+":pki"]; ok && decodeStrict(raw, &pki) == nil {
		c.PKI = pki
	}
	var alerting Alerting
	if raw, ok := values[Namespace+":alerting"]; ok && decodeStrict(raw, &alerting) == nil {
		c.Alerting = alerting
	}
	var target BackupTarget
	if raw, ok := values[Namespace+":backupTarget"]; ok && decodeStrict(raw, &target) == nil {
		c.BackupTarget = target
	}
	var store BackupObjectStore
	if raw, ok := values[Namespace+":backupObjectStore"]; ok && decodeStrict(raw, &store) == nil {
		c.BackupObjectStore = store
	}
	return NeededSecrets(c)
}
