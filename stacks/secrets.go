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

// Secrets holds every secret value, each a secret Output.
type Secrets struct {
	SSHPrivateKey        pulumi.StringOutput
	PostgresPassword     pulumi.StringOutput
	RedisPassword        pulumi.StringOutput
	GrafanaAdminPassword pulumi.StringOutput
	ElasticPassword      pulumi.StringOutput
	KibanaSystemPassword pulumi.StringOutput
	MonitoringHtpasswd   pulumi.StringOutput
	EdgeCertificate      pulumi.StringOutput
	EdgePrivateKey       pulumi.StringOutput
	AlertWebhookURL      pulumi.StringOutput
	SMTPPassword         pulumi.StringOutput
	PagerDutyRoutingKey  pulumi.StringOutput
	OpsgenieAPIKey       pulumi.StringOutput
}
