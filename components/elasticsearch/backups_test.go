package elasticsearch

import (
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/internal/mockrun"
)

// Backups, the off-host copies' source, is the repository directory on the
// Elasticsearch host, ready once the repository is registered (Elasticsearch
// verified it writes there) and the daily job is installed.
func TestBackupsAreTheRepositoryOnItsHost(t *testing.T) {
	var es *Elasticsearch
	var engine *host.Engine
	var mu sync.Mutex
	var readyURNs []string
	secret := func(s string) pulumi.StringOutput { return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput) }
	res, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h, err := host.NewHost(ctx, "logging-1", host.HostArgs{
			Name: "logging-1", Address: "192.0.2.7", Port: 22, User: "deploy", PrivateKey: secret("key"),
			Kind: "bare-metal", Roles: []string{"logging"}, DataPath: "/srv/aurigraph",
			Thresholds:     host.Thresholds{MinCPUs: 4, MinMemoryGB: 8, MinDiskGB: 100},
			DialErrorLimit: 5, PerDialTimeout: 15, StepTimeout: "20m",
		})
		if err != nil {
			return err
		}
		if engine, err = host.NewEngine(ctx, h, host.EngineArgs{}); err != nil {
			return err
		}
		es, err = NewElasticsearch(ctx, Name, ElasticsearchArgs{
			Engine: engine, Image: pulumi.String("docker.elastic.co/elasticsearch/elasticsearch:8.11.0"),
			Zones: network.NamedZones("aurigraph-network"), Resources: container.Resources{CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048},
			HeapMB: 1024, HostDir: "/srv/aurigraph/elasticsearch",
			CertPem: pulumi.String("cert"), KeyPem: secret("key"), CACertPem: pulumi.String("ca"),
			ElasticPassword: secret("e"), KibanaSystemPassword: secret("k"), LogstashWriterPassword: secret("w"),
			GrafanaReaderPassword: secret("r"), SnapshotPassword: secret("snapshot-secret-value"),
			WriterIndices: testIndices, RetentionDays: 30,
		})
		if err != nil {
			return err
		}
		for _, r := range es.Backups.Ready {
			r.URN().ApplyT(func(u pulumi.URN) string {
				mu.Lock()
				defer mu.Unlock()
				readyURNs = append(readyURNs, string(u))
				return ""
			})
		}
		return nil
	}, mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)

	b := es.Backups
	assert.Equal(t, "elasticsearch", b.Store)
	assert.Same(t, engine, b.Engine)
	assert.Equal(t, []string{"/srv/aurigraph/elasticsearch/snapshots"}, b.Paths)
	var ready []string
	mu.Lock()
	defer mu.Unlock()
	for _, u := range readyURNs {
		if r := res.ByURN(u); r != nil {
			ready = append(ready, r.Name)
		}
	}
	assert.ElementsMatch(t, []string{Name + "-snapshot-setup", Name + "-snapshot-timers"}, ready)
	assert.Empty(t, res.PlaintextContaining("snapshot-secret-value"))
}
