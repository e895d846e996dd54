package prometheus

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/internal/hosttest"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/shell"

	"github.com/aurigraph/infra/components/network"
)

func TestPrometheusFilesAreCheckedWithPromtoolInTheImageBeforeInstall(t *testing.T) {
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := hosttest.NewEngine(ctx, "mon", "192.0.2.20")
		if err != nil {
			return err
		}
		am, err := alertmanager.New(ctx, "alertmanager", alertmanager.Args{
			Engine: h, Image: pulumi.String("prom/alertmanager:v0.27.0"), Zones: network.NamedZones("aurigraph-network"),
			Resources: container.Resources{CPUs: 0.5, MemoryMB: 256}, ServiceDir: "/srv/aurigraph/alertmanager",
		})
		if err != nil {
			return err
		}
		_, err = New(ctx, "prometheus", Args{
			Engine: h, Image: pulumi.String("prom/prometheus:v2.53.0"), Zones: network.NamedZones("aurigraph-network"),
			Resources: container.Resources{CPUs: 1, MemoryMB: 1024}, RetentionDays: 15,
			ServiceDir: "/srv/aurigraph/prometheus", Config: sampleValues(2), Rules: RulesValues{PoolMaxSize: 30},
			VaultCACertPem: pulumi.String("ca"), Alertmanager: am,
		})
		return err
	}, mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)
	install := res.Named("command:remote:Command", "prometheus-config-install")
	require.NotNil(t, install)
	script := mockrun.Unwrap(install.Inputs["create"]).StringValue()
	assert.True(t, strings.HasPrefix(script, "IMAGE='prom/prometheus:v2.53.0'\n"), "promtool of the server's own image")
	assert.Contains(t, script, "LIVE_DIR='/srv/aurigraph/prometheus/config'\n", "the candidate holds the Vault CA the configuration names")
	assert.Contains(t, script, "VALIDATE="+shell.Quote(ValidateCommand)+"\n")
	for _, want := range []string{`-v "$CANDIDATE":/etc/prometheus:ro`, "--network none", "--entrypoint promtool",
		"check config /etc/prometheus/prometheus.yml", "check rules /etc/prometheus/alerts.yml"} {
		assert.Contains(t, ValidateCommand, want)
	}
	validate, rename := strings.Index(script, `if ! sh -eu -c "$VALIDATE"`), strings.Index(script, "mv -f")
	require.Positive(t, validate)
	assert.Less(t, validate, rename)
	assert.Less(t, rename, strings.Index(script, "docker kill -s HUP prometheus"))
	assert.NotContains(t, ReloadCommand, "promtool", "nothing is checked after the files are live")
	ca := res.Named("command:remote:Command", "prometheus-vault-ca")
	require.NotNil(t, ca)
	assert.Contains(t, install.DependsOn, ca.URN, "the CA the check reads is written first")

	prom, am := res.Named("docker:index/container:Container", ContainerName), res.Named("docker:index/container:Container", alertmanager.ContainerName)
	require.NotNil(t, prom)
	require.NotNil(t, am)
	assert.Contains(t, prom.DependsOn, am.URN, "Prometheus starts once the Alertmanager it sends to exists")
	cfg := res.Named("command:remote:CopyToRemote", "prometheus-config-prometheus-yml").Inputs["source"].AssetValue().Text
	assert.Contains(t, cfg, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\""+alertmanager.Address()+"\"]")
	assert.Equal(t, []string{alertmanager.Address()}, Targets(t, cfg)["alertmanager"], "Alertmanager is scraped too")
}
