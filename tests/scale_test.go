package tests

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// recordedLoads sums, per host name, the reservations of the containers the
// run deploys on it, as the policy pack's host-capacity rule does
// (memoryReservation in MB, cpuShares / 1024 cores).
func recordedLoads(t *testing.T, cfg *stacks.Config, res *mockrun.Result) map[string]stacks.HostLoad {
	t.Helper()
	byAddress := map[string]string{}
	for _, h := range cfg.Hosts {
		byAddress[h.Address] = h.Name
	}
	out := map[string]stacks.HostLoad{}
	for _, c := range res.OfType(harness.ContainerType) {
		name, ok := byAddress[harness.Host(res, c)]
		require.True(t, ok, "container %s runs on no host of the inventory", c.Name)
		l := out[name]
		mem, shares := harness.Plain(c.Inputs["memoryReservation"]), harness.Plain(c.Inputs["cpuShares"])
		require.True(t, mem.IsNumber() && shares.IsNumber(), "%s states its reservations", c.Name)
		l.MemoryMB += int(mem.NumberValue())
		l.Cores += shares.NumberValue() / 1024
		out[name] = l
	}
	return out
}

// appUpstreamServers counts each "server name:port" line of nginx.conf.
var upstreamServer = regexp.MustCompile(`(?m)^\s*server (\S+) max_fails=`)

func countMatches(re *regexp.Regexp, text string) map[string]int {
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out[m[1]]++
	}
	return out
}

// checkScaleStack runs s and checks what must hold at any size: validation
// passes, every mandatory policy passes, host-capacity finds nothing, every
// host's recorded reservations are the placement's and within capacity,
// every replica runs on its placed host and is in the gateway's upstreams
// and Prometheus's targets exactly once, and the hosts running replicas
// ship their log files.
func checkScaleStack(t *testing.T, s *stackfile.Stack) {
	cfg := harness.Config(t, s)
	place := stacks.Place(cfg)
	res := harness.Run(t, s)

	rep, err := check.Evaluate(s, res)
	require.NoError(t, err)
	for _, v := range rep.Violations {
		assert.NotEqual(t, config.Mandatory, v.Level, "%s: %s", v.Policy, v.Message)
	}
	assert.Empty(t, rep.Of("host-capacity"), "every host within its stated capacity")

	recorded := recordedLoads(t, cfg, res)
	for _, l := range place.Loads {
		got := recorded[l.Host]
		assert.InDelta(t, l.Cores, got.Cores, 1e-6, "%s: placement and policy count the same cores", l.Host)
		assert.Equal(t, l.MemoryMB, got.MemoryMB, "%s: placement and policy count the same memory", l.Host)
		assert.False(t, l.Over(), "%s: %+v", l.Host, l)
	}

	containers := harness.Containers(res)
	addresses := map[string]string{}
	for _, h := range cfg.Hosts {
		addresses[h.Name] = h.Address
	}
	nginx := configFile(t, res, "/nginx.conf")
	servers := countMatches(upstreamServer, nginx)
	targets := map[string]int{}
	for _, tgt := range promScrapeTargets(t, configFile(t, res, "/prometheus.yml"))[prometheus.AppJob] {
		targets[tgt]++
	}
	require.NotEmpty(t, place.Replicas)
	for _, r := range place.Replicas {
		c, ok := containers[r.Name]
		if !assert.True(t, ok, "%s is deployed", r.Name) {
			continue
		}
		assert.Equal(t, addresses[r.Host], harness.Host(res, c), "%s runs on its placed host %s", r.Name, r.Host)
		for _, port := range []string{":9003", ":9004"} {
			assert.Equal(t, 1, servers[r.Name+port], "%s%s is in the gateway's upstreams exactly once", r.Name, port)
		}
		assert.Equal(t, 1, targets[r.Name+":9003"], "%s is scraped exactly once", r.Name)
	}
	assert.Len(t, targets, len(place.Replicas), "Prometheus scrapes the replicas and nothing else under %s", prometheus.AppJob)

	// Every host running replicas ships their log files, and only those.
	for _, h := range cfg.Hosts {
		logging := res.Named("command:remote:Command", h.Name+"-prepare-logging")
		require.NotNil(t, logging, h.Name)
		ships := strings.Contains(harness.Str(logging.Inputs, "stdin"), `/aurigraph-v11/*/logs/*.log" Tag="aurigraph-v11"`)
		assert.Equal(t, place.HasReplicas(h.Name), ships, "%s ships the replicas' log files where they run", h.Name)
	}
}

// A 100-node stack on 10 app hosts: everything checkScaleStack asserts.
// The 1,000-node run (a few seconds) is TestIntegrationScale1000Nodes.
func TestScaleStack100NodesOn10Hosts(t *testing.T) {
	checkScaleStack(t, harness.ScaleStack(t, harness.Scale{Nodes: 100, AppHosts: 10}))
}

// Appending an eleventh app host to a ten-host stack changes only what
// lands on it: every other container keeps its host, and no resource other
// than the moved replicas' and the files naming them changes.
func TestScaleAddingHost11MovesOnlyWhatLandsOnIt(t *testing.T) {
	s := harness.ScaleStack(t, harness.Scale{Nodes: 100, AppHosts: 10})
	grown := s.Set("hosts", addHost(t, s, harness.ScaleAppHost(t, 11)))
	before, after := harness.Run(t, s), harness.Run(t, grown)
	newHost := harness.ScaleAppHost(t, 11)["address"]

	afterContainers := harness.Containers(after)
	moved := 0
	for name, c := range harness.Containers(before) {
		a, ok := afterContainers[name]
		require.True(t, ok, "%s still deployed", name)
		was, is := harness.Host(before, c), harness.Host(after, a)
		if was != is {
			moved++
			assert.Equal(t, newHost, is, "%s moved from %s but not to the new host", name, was)
		}
	}
	assert.Positive(t, moved, "the new host takes replicas")
	assert.Less(t, moved, 2*100/11+2, "it takes about its share")
	assert.Equal(t, len(harness.Containers(before)), len(afterContainers), "no container added or removed")
}

func addHost(t *testing.T, s *stackfile.Stack, h map[string]any) string {
	t.Helper()
	raw := s.Config["aurigraph:hosts"]
	require.Equal(t, byte(']'), raw[len(raw)-1])
	one, err := json.Marshal(h)
	require.NoError(t, err)
	return raw[:len(raw)-1] + "," + string(one) + "]"
}

// The committed stacks hold to the same: their placement's loads are what
// the policy sums, within capacity, every replica routed and scraped once.
func TestScaleChecksHoldForTheCommittedStacks(t *testing.T) {
	for _, name := range []string{"prod", "staging"} {
		t.Run(name, func(t *testing.T) { checkScaleStack(t, harness.Stack(t, name)) })
	}
}
