package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

const promComponentType = "aurigraph:prometheus:Prometheus"

// promRenderedConfig is the prometheus.yml the run copies to the host.
func promRenderedConfig(t *testing.T, res *mockrun.Result) string {
	t.Helper()
	cp := res.Named("command:remote:CopyToRemote", "prometheus-config-prometheus-yml")
	require.NotNil(t, cp, "prometheus.yml copy")
	src := cp.Inputs["source"]
	require.True(t, src.IsAsset(), "source is an asset")
	return src.AssetValue().Text
}

// promScrapeTargets maps job → targets of a rendered prometheus.yml.
func promScrapeTargets(t *testing.T, cfg string) map[string][]string {
	t.Helper()
	var p struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &p))
	out := map[string][]string{}
	for _, sc := range p.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			out[sc.JobName] = append(out[sc.JobName], st.Targets...)
		}
	}
	return out
}

func TestStackScrapesEveryReplicaAndHost(t *testing.T) {
	for _, tc := range []struct {
		stack           string
		replicas, hosts int
	}{{"prod", 25, 8}, {"staging", 5, 3}} {
		t.Run(tc.stack, func(t *testing.T) {
			s := harness.Stack(t, tc.stack)
			res := harness.Run(t, s)
			targets := promScrapeTargets(t, promRenderedConfig(t, res))
			require.Len(t, targets[prometheus.AppJob], tc.replicas)
			for _, tgt := range targets[prometheus.AppJob] {
				assert.True(t, strings.HasPrefix(tgt, "aurigraph-v11-blue-") && strings.HasSuffix(tgt, ":9003"), tgt)
			}
			for _, job := range []string{"node", "docker", "cadvisor"} {
				assert.Len(t, targets[job], tc.hosts, job)
			}
			for _, job := range []string{"prometheus", "postgres", "redis", "grafana", "jaeger", "vault"} {
				assert.Len(t, targets[job], 1, job)
			}
			total := 0
			for _, v := range targets {
				total += len(v)
			}
			t.Logf("%s: %d scrape targets", tc.stack, total)
		})
	}
}

// TestStackScrapesEveryCatalogueJob: a job of the metric catalogue that no
// scrape configuration names would make its metrics look exported when
// nothing collects them.
func TestStackScrapesEveryCatalogueJob(t *testing.T) {
	targets := promScrapeTargets(t, promRenderedConfig(t, harness.Run(t, harness.Stack(t, "prod"))))
	for _, e := range prometheus.Catalogue {
		if e.Job != prometheus.AnyJob {
			assert.NotEmpty(t, targets[e.Job], "catalogue job %s is not scraped", e.Job)
		}
	}
}

func TestStackPrometheusContainer(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	c := res.Named(harness.ContainerType, prometheus.ContainerName)
	require.NotNil(t, c)
	assert.Contains(t, c.Parent, promComponentType, "the container is the component's child")
	assert.Empty(t, promPublishedPorts(c), "no published port: the gateway proxies the UI")
	assert.Equal(t, "65534:65534", c.Inputs["user"].StringValue())
	assert.True(t, c.Inputs["readOnly"].BoolValue())
	var cmd []string
	for _, v := range c.Inputs["command"].ArrayValue() {
		cmd = append(cmd, v.StringValue())
	}
	assert.Contains(t, cmd, "--storage.tsdb.retention.time=15d")
	mounts := map[string]bool{}
	for _, m := range c.Inputs["mounts"].ArrayValue() {
		o := m.ObjectValue()
		mounts[o["source"].StringValue()+"->"+o["target"].StringValue()] = o["readOnly"].BoolValue()
	}
	assert.Equal(t, map[string]bool{
		"/srv/aurigraph/prometheus/config->/etc/prometheus": true,
		"/srv/aurigraph/prometheus/data->/prometheus":       false,
	}, mounts)

	reload := res.Named("command:remote:Command", "prometheus-config-install")
	require.NotNil(t, reload)
	assert.Contains(t, reload.Inputs["create"].StringValue(), "docker kill -s HUP prometheus")
	ca := res.Named("command:remote:Command", "prometheus-vault-ca")
	require.NotNil(t, ca)
	assert.True(t, ca.Inputs["stdin"].IsSecret(), "the CA travels as a secret file")
	assert.Contains(t, ca.Inputs["create"].StringValue(), "/srv/aurigraph/prometheus/config/vault-ca.pem")
}

func TestStackStagingRetention(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "staging"))
	c := res.Named(harness.ContainerType, prometheus.ContainerName)
	require.NotNil(t, c)
	var cmd []string
	for _, v := range c.Inputs["command"].ArrayValue() {
		cmd = append(cmd, v.StringValue())
	}
	assert.Contains(t, cmd, "--storage.tsdb.retention.time=7d")
}

// promChildren returns the inputs of every resource under the Prometheus component.
func promChildren(res *mockrun.Result) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	for _, r := range res.Resources {
		if strings.Contains(r.URN, promComponentType+"$") {
			out[r.Name] = r.Inputs
		}
	}
	return out
}

// TestStackScaleUpOnlyReloads: adding a replica changes prometheus.yml and
// its reload step, and nothing else of Prometheus (not the container).
func TestStackScaleUpOnlyReloads(t *testing.T) {
	base := harness.Stack(t, "prod")
	before := harness.Run(t, base)
	after := harness.Run(t, base.Set("tiers", `{"validator":{"replicas":5},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":7}}`))
	assert.Len(t, promScrapeTargets(t, promRenderedConfig(t, after))[prometheus.AppJob], 27, "two more slim replicas")

	b, a := promChildren(before), promChildren(after)
	require.NotEmpty(t, b)
	require.Equal(t, len(b), len(a), "same Prometheus resources")
	var changed []string
	for name, in := range b {
		require.Contains(t, a, name)
		if !in.DeepEquals(a[name]) {
			changed = append(changed, name)
		}
	}
	assert.ElementsMatch(t, []string{"prometheus-config-prometheus-yml", "prometheus-config-install"}, changed)
}

// promPublishedPorts lists a container's host ports (none when the input is absent).
func promPublishedPorts(c *mockrun.Resource) []resource.PropertyValue {
	p, ok := c.Inputs["ports"]
	if !ok || p.IsNull() {
		return nil
	}
	return p.ArrayValue()
}
