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
}
