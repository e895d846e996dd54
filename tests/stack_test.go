package tests

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

var replicaName = regexp.MustCompile(`^aurigraph-v11-(blue|green)-(validator|business|slim)-(\d+)$`)

type stackShape struct {
	stack string
	tiers map[string]int
	hosts int
}

var committed = []stackShape{
	{"prod", map[string]int{"validator": 5, "business": 15, "slim": 5}, 8},
	{"staging", map[string]int{"validator": 2, "business": 2, "slim": 1}, 3},
}

// appReplicas returns the application container names by tier.
func appReplicas(res *mockrun.Result) map[string][]string {
	out := map[string][]string{}
	for name := range harness.Containers(res) {
		if m := replicaName.FindStringSubmatch(name); m != nil {
			out[m[2]] = append(out[m[2]], name)
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

func TestWholeStackServiceSetAndTierCounts(t *testing.T) {
	for _, shape := range committed {
		t.Run(shape.stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, shape.stack))
			containers := harness.Containers(res)
			for _, svc := range stacks.Services {
				assert.Contains(t, containers, svc, "one %s container", svc)
			}
			byTier := appReplicas(res)
			for tier, n := range shape.tiers {
				assert.Len(t, byTier[tier], n, "%s replicas", tier)
			}
			assert.Len(t, res.OfType("aurigraph:host:Host"), shape.hosts)
			assert.Len(t, res.OfType("pulumi:providers:docker"), shape.hosts, "one Docker provider per host")
		})
	}
}

func TestEveryResourceIsParentedAndEveryContainerHasAHostProvider(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	providers := map[string]bool{}
	for _, p := range res.OfType("pulumi:providers:docker") {
		providers[p.URN] = true
	}
	for _, r := range res.Resources {
		require.NotEmpty(t, r.Parent, r.URN)
		if r.Type == harness.ContainerType || r.Type == "docker:index/remoteImage:RemoteImage" || r.Type == "docker:index/network:Network" {
			assert.True(t, providers[r.Provider], "%s uses a host's Docker provider, got %q", r.URN, r.Provider)
		}
		if strings.HasPrefix(r.Type, "aurigraph:") {
			assert.False(t, r.Custom, "%s is a component", r.URN)
		}
	}
}

// configFile returns the text of the one installed file whose path ends in suffix.
func configFile(t *testing.T, res *mockrun.Result, suffix string) string {
	t.Helper()
	var found []string
	for p, content := range harness.InstalledFiles(res) {
		if strings.HasSuffix(p, suffix) {
			found = append(found, content)
		}
	}
	require.Len(t, found, 1, "exactly one file ending in %s", suffix)
	return found[0]
}

func TestEveryReplicaIsInTheGatewayUpstreamsAndPrometheusTargets(t *testing.T) {
	for _, shape := range committed {
		t.Run(shape.stack, func(t *testing.T) {
			s := harness.Stack(t, shape.stack)
			// With a green slot its replicas must be routed and scraped too,
			// and only those that run: half of them, which the stacks' hosts
			// hold beside a whole blue slot.
			s = s.Set("release", `{"blue":{"image":"aurigraph/v11:11.4.2","weight":95},"green":{"image":"aurigraph/v11:11.5.0","weight":5,"scale":50}}`)
			res := harness.Run(t, s)
			nginx := configFile(t, res, "/nginx.conf")
			prom := configFile(t, res, "/prometheus.yml")
			var all []string
			for _, names := range appReplicas(res) {
				all = append(all, names...)
			}
			require.NotEmpty(t, all)
			for _, name := range all {
				assert.Contains(t, nginx, name+":9003", "REST upstream")
				assert.Contains(t, nginx, name+":9004", "gRPC upstream")
				assert.Contains(t, prom, name+":9003", "scrape target")
			}
		})
	}
}

func TestNoSecretAppearsInPlainText(t *testing.T) {
	secrets := map[string]string{}
	s := harness.Stack(t, "prod")
	for _, key := range s.SecretKeys {
		secrets[key] = fmt.Sprintf("Distinct-%s-Value-9f8e7d", strings.TrimPrefix(key, "aurigraph:"))
		s = s.Set(key, secrets[key])
	}
	res := harness.Run(t, s)
	for key, value := range secrets {
		assert.Empty(t, harness.PlaintextContaining(res, value), "%s leaks in plain text", key)
	}
	// The connection of every remote command carries the SSH key: it must be secret as a whole.
	for _, r := range res.OfType("command:remote:Command") {
		conn, ok := r.Inputs["connection"]
		require.True(t, ok, r.URN)
		assert.True(t, conn.ContainsSecrets(), "%s connection holds the private key as a secret", r.URN)
	}
}

func TestTwoRunsGiveIdenticalInputs(t *testing.T) {
	for _, shape := range committed {
		a := harness.Run(t, harness.Stack(t, shape.stack))
		b := harness.Run(t, harness.Stack(t, shape.stack))
		require.Equal(t, len(a.Resources), len(b.Resources), shape.stack)
		for i := range a.Resources {
			ra, rb := a.Resources[i], b.Resources[i]
			require.Equal(t, ra.URN, rb.URN)
			assert.True(t, ra.Inputs.DeepEquals(rb.Inputs), "%s inputs differ between runs", ra.URN)
			assert.Equal(t, ra.DependsOn, rb.DependsOn, ra.URN)
		}
	}
}

func TestOnlyTheGatewayPublishesPorts(t *testing.T) {
	for _, shape := range committed {
		res := harness.Run(t, harness.Stack(t, shape.stack))
		for name, c := range harness.Containers(res) {
			ports, ok := c.Inputs["ports"]
			if !ok || !ports.IsArray() || len(ports.ArrayValue()) == 0 {
				continue
			}
			for _, p := range ports.ArrayValue() {
				ip := harness.Str(p.ObjectValue(), "ip")
				if name == stacks.Nginx {
					continue
				}
				assert.NotEqual(t, "0.0.0.0", ip, "%s/%s publishes on every address", shape.stack, name)
				assert.NotContains(t, []string{stacks.Postgres, stacks.Redis, stacks.Elasticsearch, stacks.Vault}, name, "data service %s publishes a port", name)
			}
		}
	}
}

func TestStackOutputs(t *testing.T) {
	s := harness.Stack(t, "prod")
	out := harness.StackOutputs(t, s)
	roles, urls, ca, services := out.HostRoles, out.URLs, out.CACertificate, out.Services
	assert.Equal(t, "manager,edge", roles["prod-edge-01"])
	assert.Equal(t, "app", roles["prod-app-03"])
	assert.Len(t, roles, 8)
	assert.Contains(t, ca, "BEGIN CERTIFICATE")
	assert.ElementsMatch(t, []string{"postgres", "pgbouncer", "redis", "vault"}, services, "per-service outputs reach the stack")
	assert.Equal(t, "https://api.aurigraph.example.com", urls["api"])
	for _, ui := range []string{"grafana", "kibana", "jaeger", "prometheus"} {
		assert.True(t, strings.HasPrefix(urls[ui], "https://"+ui+".ops.aurigraph.example.com"), "%s URL: %q", ui, urls[ui])
	}
}

func TestHostComponentsCarryTheirFactsForPolicies(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "prod"))
	h := res.Named("aurigraph:host:Host", "prod-app-02")
	require.NotNil(t, h)
	capacity := h.Inputs["capacity"].ObjectValue()
	assert.Equal(t, 64.0, capacity["cpus"].NumberValue())
	assert.Equal(t, 256.0, capacity["memoryGb"].NumberValue())
	thresholds := h.Inputs["thresholds"].ObjectValue()
	assert.Equal(t, 32.0, thresholds["minCpus"].NumberValue())
	assert.Equal(t, 200.0, thresholds["minDiskGb"].NumberValue())
	assert.Equal(t, "192.0.2.42", harness.Str(h.Inputs, "clusterAddress"))
}

func TestGatewayReloadsOnlyAfterEveryReplicaExists(t *testing.T) {
	res := harness.Run(t, harness.Stack(t, "staging"))
	install := res.Named("command:remote:Command", "nginx-conf-install")
	require.NotNil(t, install)
	replicas := 0
	for name, c := range harness.Containers(res) {
		if replicaName.MatchString(name) {
			replicas++
			assert.Contains(t, install.DependsOn, c.URN, "nginx.conf names %s: install it after the container exists", name)
		}
	}
	assert.Equal(t, 5, replicas)
}
