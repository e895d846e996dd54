package app

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/network"
	"github.com/aurigraph/infra/internal/blast"
	"github.com/aurigraph/infra/internal/mockrun"
)

const (
	containerType = "docker:index/container:Container"
	barrierType   = "command:local:Command"
)

var testSettings = Settings{TargetTPS: 2000000, BatchSize: 100000, ParallelThreads: 256, DatasourceMaxSize: 30, DatasourceMinSize: 10}

// layout is a small cluster: tier → rolling group sizes, and a green image.
type layout struct {
	groups     map[string][]int
	images     map[string]string
	greenImage string
}

var tierOrder = []string{"slim", "business", "validator"}

func (l layout) replicas(hosts []*host.Engine) []Replica {
	var out []Replica
	for _, slot := range []string{"blue", "green"} {
		if slot == "green" && l.greenImage == "" {
			continue
		}
		for ti, tier := range tierOrder {
			image := l.images[tier]
			if slot == "green" {
				image = l.greenImage
			}
			n := 0
			for g, size := range l.groups[tier] {
				for k := 0; k < size; k++ {
					n++
					out = append(out, Replica{
						Name: fmt.Sprintf("aurigraph-v11-%s-%s-%d", slot, tier, n), Tier: tier, Slot: slot,
						Group: g + 1, Index: n, Engine: hosts[(ti+n)%len(hosts)], Image: image,
					})
				}
			}
		}
	}
	return out
}

func baseLayout() layout {
	return layout{
		groups: map[string][]int{"slim": {2}, "business": {2, 2}, "validator": {2}},
		images: map[string]string{"slim": "aurigraph/v11:1.0.0", "business": "aurigraph/v11:1.0.0", "validator": "aurigraph/v11:1.0.0"},
	}
}

func program(l layout) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		var hosts []*host.Engine
		for i := 1; i <= 2; i++ {
			h, err := host.NewHost(ctx, fmt.Sprintf("app-%d", i), host.HostArgs{
				Name: fmt.Sprintf("app-%d", i), Address: fmt.Sprintf("192.0.2.%d", i), Port: 22, User: "deploy",
				PrivateKey: pulumi.ToSecret(pulumi.String("key")).(pulumi.StringOutput),
				Kind:       "bare-metal", Roles: []string{"app"}, DataPath: "/srv/aurigraph",
				Thresholds:     host.Thresholds{MinCPUs: 32, MinMemoryGB: 64, MinDiskGB: 200},
				DialErrorLimit: 5, PerDialTimeout: 15, StepTimeout: "20m",
			})
			if err != nil {
				return err
			}
			e, err := host.NewEngine(ctx, h, host.EngineArgs{})
			if err != nil {
				return err
			}
			hosts = append(hosts, e)
		}
		_, err := NewApplication(ctx, "aurigraph-v11", ApplicationArgs{
			Replicas:         l.replicas(hosts),
			Zones:            network.NamedZones("aurigraph-network"),
			Resources:        container.Resources{CPUs: 16, CPUsReservation: 8, MemoryMB: 32768, MemoryReservationMB: 16384},
			Settings:         testSettings,
			Endpoints:        testEndpoints,
			DataDir:          "/srv/aurigraph/aurigraph-v11",
			PostgresPassword: pulumi.ToSecret(pulumi.String("pg-secret-value")).(pulumi.StringOutput),
			RedisPassword:    pulumi.ToSecret(pulumi.String("redis-secret-value")).(pulumi.StringOutput),
		})
		return err
	}
}

func run(t *testing.T, l layout) *mockrun.Result {
	t.Helper()
	res, err := mockrun.Run(program(l), mockrun.Options{Project: "aurigraph", Stack: "test"})
	require.NoError(t, err)
	return res
}

// plainEnv returns the container's plain variables and the names of its secret ones.
func plainEnv(t *testing.T, r mockrun.Resource) (map[string]string, []string) {
	t.Helper()
	plain := map[string]string{}
	var secret []string
	for _, v := range r.Inputs["envs"].ArrayValue() {
		if v.IsSecret() {
			kv := v.SecretValue().Element.StringValue()
			secret = append(secret, strings.SplitN(kv, "=", 2)[0])
			continue
		}
		kv := strings.SplitN(v.StringValue(), "=", 2)
		plain[kv[0]] = kv[1]
	}
	return plain, secret
}

func labels(r mockrun.Resource) map[string]string {
	out := map[string]string{}
	for _, l := range r.Inputs["labels"].ArrayValue() {
		o := l.ObjectValue()
		out[o["label"].StringValue()] = o["value"].StringValue()
	}
	return out
}

func TestEveryReplicaIsAContainerInItsTier(t *testing.T) {
	res := run(t, baseLayout())
	containers := res.OfType(containerType)
	require.Len(t, containers, 8)
	tiers := res.OfType("aurigraph:app:Tier")
	var tierNames []string
	for _, tr := range tiers {
		tierNames = append(tierNames, tr.Name)
		assert.Contains(t, tr.Parent, "aurigraph:app:Application::aurigraph-v11")
	}
	assert.ElementsMatch(t, []string{"aurigraph-v11-blue-slim", "aurigraph-v11-blue-business", "aurigraph-v11-blue-validator"}, tierNames)
	for _, c := range containers {
		l := labels(c)
		assert.True(t, strings.HasSuffix(c.Parent, "::aurigraph-v11-blue-"+l[TierLabel]), "%s parent %s", c.Name, c.Parent)
		assert.Contains(t, c.Provider, "pulumi:providers:docker::app-", "%s uses its host's Docker provider", c.Name)
		assert.Equal(t, c.Name, c.Inputs["name"].StringValue())
	}
}

func TestContainerSettings(t *testing.T) {
	res := run(t, baseLayout())
	c := res.Named(containerType, "aurigraph-v11-blue-business-3")
	require.NotNil(t, c)
	in := c.Inputs

	assert.False(t, in.HasValue("ports"), "9003/9004 stay on the network")
	net := in["networksAdvanced"].ArrayValue()[0].ObjectValue()
	assert.Equal(t, "aurigraph-network", net["name"].StringValue())
	var aliases []string
	for _, a := range net["aliases"].ArrayValue() {
		aliases = append(aliases, a.StringValue())
	}
	assert.ElementsMatch(t, []string{"aurigraph-v11-blue-business-3", "aurigraph-v11", "aurigraph-v11-business"}, aliases)

	assert.Equal(t, "1001", in["user"].StringValue())
	assert.True(t, in["readOnly"].BoolValue())
	assert.Contains(t, in["tmpfs"].ObjectValue()["/tmp"].StringValue(), "noexec")
	assert.True(t, in["wait"].BoolValue(), "the provider waits for health")
	assert.Equal(t, 32768.0, in["memory"].NumberValue())
	assert.Equal(t, "16.0", in["cpus"].StringValue(), "as the Docker provider reads it back")

	hc := in["healthcheck"].ObjectValue()
	// Liveness, as Docker enforces it, with the startup probe's budget as
	// start period (SPEC: 30 checks 5 s apart).
	assert.Equal(t, []any{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:9003/q/health/live"}, hc["tests"].Mappable())
	assert.Equal(t, "30s", hc["interval"].StringValue())
	assert.Equal(t, "5s", hc["timeout"].StringValue())
	assert.Equal(t, "2m30s", hc["startPeriod"].StringValue())
	assert.Equal(t, 2.0, hc["retries"].NumberValue())

	var mounts []string
	for _, m := range in["mounts"].ArrayValue() {
		o := m.ObjectValue()
		mounts = append(mounts, o["type"].StringValue()+":"+o["source"].StringValue()+":"+o["target"].StringValue())
	}
	assert.Equal(t, []string{
		"bind:/srv/aurigraph/aurigraph-v11/aurigraph-v11-blue-business-3/data:/app/data",
		"bind:/srv/aurigraph/aurigraph-v11/aurigraph-v11-blue-business-3/logs:/app/logs",
		"bind:/srv/aurigraph/aurigraph-v11/secrets/aurigraph-v11-blue-business-3:/run/secrets",
	}, mounts)

	l := labels(*c)
	assert.Equal(t, "business", l[TierLabel])
	assert.Equal(t, "blue", l[SlotLabel])
	assert.Equal(t, "2", l[GroupLabel])
	assert.Equal(t, "GET :9003/q/health/ready interval=10s timeout=5s retries=3 start-period=1m0s", l[ReadinessLabel])
	assert.Contains(t, l[LivenessLabel], "/q/health/live interval=30s timeout=5s retries=2")
	assert.Contains(t, l[StartupLabel], "/q/health/startup interval=5s timeout=5s retries=30")
}

// The properties format (java.util.Properties, which SmallRye follows): a
// backslash escapes, a line break ends the value, a leading space is dropped.
func TestRenderSecrets(t *testing.T) {
	assert.Equal(t, "config_ordinal=270\n"+
		`quarkus.datasource.password=\ p\\w\nx`+"\n"+
		"quarkus.redis.password=r=s:t\n",
		RenderSecrets(" p\\w\nx", "r=s:t"))
}

func TestEnvironmentHasSpecValuesAndSecretPasswords(t *testing.T) {
	res := run(t, baseLayout())
	c := res.Named(containerType, "aurigraph-v11-blue-validator-1")
	require.NotNil(t, c)
	env, secret := plainEnv(t, *c)
	want := map[string]string{
		"CONSENSUS_TARGET_TPS":                                     "2000000",
		"CONSENSUS_BATCH_SIZE":                                     "100000",
		"CONSENSUS_PARALLEL_THREADS":                               "256",
		"AI_OPTIMIZATION_ENABLED":                                  "true",
		"QUANTUM_CRYPTO_ENABLED":                                   "true",
		"BRIDGE_VALIDATORS":                                        "21",
		"HMS_ENABLED":                                              "true",
		"CBDC_ENABLED":                                             "true",
		"QUARKUS_PROFILE":                                          "prod",
		"QUARKUS_DATASOURCE_JDBC_URL":                              "jdbc:postgresql://postgres:5432/aurigraph",
		"QUARKUS_DATASOURCE_USERNAME":                              "aurigraph",
		"QUARKUS_DATASOURCE_MAX_SIZE":                              "30",
		"QUARKUS_DATASOURCE_MIN_SIZE":                              "10",
		"QUARKUS_DATASOURCE_JDBC_MAX_SIZE":                         "30",
		"QUARKUS_DATASOURCE_JDBC_MIN_SIZE":                         "10",
		"QUARKUS_DATASOURCE_JDBC_IDLE_REMOVAL_INTERVAL":            "10M",
		"QUARKUS_DATASOURCE_JDBC_TRANSACTION_ISOLATION_LEVEL":      "read-committed",
		"EXECUTOR_API_POOL_SIZE":                                   "10",
		"EXECUTOR_DB_POOL_SIZE":                                    "20",
		"EXECUTOR_CACHE_POOL_SIZE":                                 "5",
		"RETRY_MAX_ATTEMPTS":                                       "5",
		"RETRY_INITIAL_DELAY_MS":                                   "100",
		"RETRY_MAX_DELAY_MS":                                       "30000",
		"RETRY_MULTIPLIER":                                         "2.0",
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__MAXIMUM_SIZE": "1000",
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__EXPIRE_AFTER_WRITE": "5M",
		"QUARKUS_REDIS_HOSTS":                        "redis://redis:6379",
		"QUARKUS_OTEL_EXPORTER_OTLP_ENDPOINT":        "http://jaeger:4317",
		"QUARKUS_OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4317",
		"OTEL_EXPORTER_JAEGER_ENDPOINT":              "http://jaeger:14250",
		"AURIGRAPH_NODE_TIER":                        "validator",
		"AURIGRAPH_NODE_NAME":                        "aurigraph-v11-blue-validator-1",
		"AURIGRAPH_RELEASE_SLOT":                     "blue",
		"DEPLOYMENT_SLOT":                            "blue",

		// The meters the dashboards and rules read are switched on.
		"QUARKUS_DATASOURCE_METRICS_ENABLED":                          "true",
		"QUARKUS_CACHE_CAFFEINE__BLOCKCHAIN_METRICS__METRICS_ENABLED": "true",
	}
	for k, v := range want {
		assert.Equal(t, v, env[k], k)
	}
	// The slot's weight reaches replicas per request from the gateway: in
	// the environment, each weight step would recreate every container.
	assert.NotContains(t, env, "TRAFFIC_WEIGHT")
	assert.Empty(t, secret, "no password in the environment")
	assert.Equal(t, "/run/secrets/application.properties", env[EnvConfigLocations])
	for k, v := range env {
		assert.NotContains(t, v, "secret-value", "%s holds a password in plain text", k)
	}
}

// waitsFor is the container names a container waits for, directly or
// through any chain of dependencies (the rolling barriers): what the engine
// orders before it.
func waitsFor(res *mockrun.Result, c mockrun.Resource) []string {
	var out []string
	for urn := range res.Closure(c.URN) {
		if d := res.ByURN(urn); d != nil && d.Type == containerType {
			out = append(out, d.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestRollingOrderWithinEachSlot(t *testing.T) {
	l := baseLayout()
	l.greenImage = "aurigraph/v11:2.0.0"
	res := run(t, l)
	for _, slot := range []string{"blue", "green"} {
		name := func(tier string, n int) string { return fmt.Sprintf("aurigraph-v11-%s-%s-%d", slot, tier, n) }
		waits := func(tier string, n int) []string {
			c := res.Named(containerType, name(tier, n))
			require.NotNil(t, c, name(tier, n))
			return waitsFor(res, *c)
		}
		slim := []string{name("slim", 1), name("slim", 2)}
		group1 := []string{name("business", 1), name("business", 2)}
		group2 := []string{name("business", 3), name("business", 4)}
		upTo := func(steps ...[]string) []string {
			var out []string
			for _, s := range steps {
				out = append(out, s...)
			}
			sort.Strings(out)
			return out
		}
		// Each step after every container of every earlier step of its
		// slot, and of no other slot.
		assert.Empty(t, waits("slim", 1), "slim goes first")
		assert.Empty(t, waits("slim", 2), "slim goes first")
		assert.Equal(t, slim, waits("business", 1))
		assert.Equal(t, slim, waits("business", 2))
		assert.Equal(t, upTo(slim, group1), waits("business", 3))
		assert.Equal(t, upTo(slim, group1), waits("business", 4))
		assert.Equal(t, upTo(slim, group1, group2), waits("validator", 1))
		assert.Equal(t, upTo(slim, group1, group2), waits("validator", 2))
	}
}

// The order goes through one barrier per step: a custom resource (a
// component in DependsOn would be expanded into its children) that depends
// on exactly its step's containers, and that each container of the next
// step names as its only application dependency.
func TestRollingStepsMeetAtOneBarrier(t *testing.T) {
	l := baseLayout()
	l.greenImage = "aurigraph/v11:2.0.0"
	res := run(t, l)
	barriers := res.OfType(barrierType)
	require.Len(t, barriers, 8, "one per step: slim, business 1 and 2, validators, in two slots")
	for _, b := range barriers {
		assert.True(t, b.Custom, b.Name)
		for _, k := range []string{"create", "update", "delete", "triggers"} {
			assert.False(t, b.Inputs.HasValue(resource.PropertyKey(k)), "%s: the barrier runs nothing (%s)", b.Name, k)
		}
	}
	for _, slot := range []string{"blue", "green"} {
		steps := []struct {
			barrier string
			members []string
		}{
			{"slim-1", []string{"slim-1", "slim-2"}},
			{"business-1", []string{"business-1", "business-2"}},
			{"business-2", []string{"business-3", "business-4"}},
			{"validator-1", []string{"validator-1", "validator-2"}},
		}
		for i, st := range steps {
			b := res.Named(barrierType, fmt.Sprintf("aurigraph-v11-%s-%s-healthy", slot, st.barrier))
			require.NotNil(t, b, st.barrier)
			var members []string
			for _, m := range st.members {
				members = append(members, fmt.Sprintf("aurigraph-v11-%s-%s", slot, m))
			}
			var deps []string
			for _, urn := range b.DependsOn {
				deps = append(deps, res.ByURN(urn).Name)
			}
			sort.Strings(deps)
			assert.Equal(t, members, deps, "%s waits for exactly its step", b.Name)
			for _, m := range members {
				c := res.Named(containerType, m)
				require.NotNil(t, c, m)
				var app []string
				for _, urn := range c.DependsOn {
					if d := res.ByURN(urn); d.Type == containerType || d.Type == barrierType {
						app = append(app, d.Name)
					}
				}
				if i == 0 {
					assert.Empty(t, app, m)
				} else {
					assert.Equal(t, []string{fmt.Sprintf("aurigraph-v11-%s-%s-healthy", slot, steps[i-1].barrier)}, app, m)
				}
			}
		}
	}
}

func TestDirectoriesStepPrecedesEachContainer(t *testing.T) {
	res := run(t, baseLayout())
	for _, c := range res.OfType(containerType) {
		step := res.Named("command:remote:Command", c.Name+"-dirs")
		require.NotNil(t, step, c.Name)
		assert.Contains(t, c.DependsOn, step.URN)
		assert.Contains(t, step.Inputs["create"].StringValue(), "/srv/aurigraph/aurigraph-v11/"+c.Name+"/data")
		assert.False(t, step.Inputs.HasValue("delete"), "scaling down keeps the data")
	}
}

func TestTierImageChangeTouchesOnlyThatTier(t *testing.T) {
	before := run(t, baseLayout())
	l := baseLayout()
	l.images["slim"] = "aurigraph/v11:1.0.1"
	c := blast.Diff(before, run(t, l))
	require.Len(t, c.Changed, 2, c.String())
	for _, urn := range c.Changed {
		assert.Contains(t, urn, "aurigraph-v11-blue-slim-", c.String())
		assert.Equal(t, []string{"image"}, c.Why[urn])
	}
	assert.Empty(t, c.Removed, "the old image is still used by the other tiers")
	require.NotEmpty(t, c.Added)
	for _, urn := range c.Added {
		assert.Contains(t, urn, "docker:index/remoteImage:RemoteImage::app-", c.String())
		assert.Contains(t, urn, "aurigraph-v11-1-0-1")
	}
}

func TestGreenSlotLeavesBlueUntouched(t *testing.T) {
	before := run(t, baseLayout())
	l := baseLayout()
	l.greenImage = "aurigraph/v11:2.0.0"
	c := blast.Diff(before, run(t, l))
	assert.Empty(t, c.Changed, c.String())
	assert.Empty(t, c.Removed, c.String())
	for _, urn := range c.Added {
		assert.Regexp(t, `green|remoteImage`, urn)
	}
}

func TestRollingSteps(t *testing.T) {
	rs := []Replica{
		{Name: "a", Slot: "blue", Tier: "slim", Group: 1},
		{Name: "b", Slot: "blue", Tier: "business", Group: 1},
		{Name: "c", Slot: "blue", Tier: "business", Group: 2},
		{Name: "d", Slot: "blue", Tier: "business", Group: 1},
		{Name: "e", Slot: "green", Tier: "slim", Group: 1},
	}
	steps := RollingSteps(rs)
	require.Len(t, steps, 4)
	assert.Equal(t, []string{"b", "d"}, []string{steps[1].Replicas[0].Name, steps[1].Replicas[1].Name})
	assert.Equal(t, "green", steps[3].Slot)
}

func TestInvalidArgsAreRefused(t *testing.T) {
	err := ApplicationArgs{Replicas: []Replica{{Name: "Bad_Name"}}, DataDir: "rel"}.validate()
	require.Error(t, err)
	for _, want := range []string{"not a DNS label", "zones are not set", "not absolute", "passwords are required", "tracing endpoints"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.ErrorContains(t, ApplicationArgs{}.validate(), "no replicas")
}

func TestDirsScriptQuotesPaths(t *testing.T) {
	s, err := RenderDirsScript(DirsValues{Replica: "r-1", Dir: "/srv/it's/r-1", UID: 1001})
	require.NoError(t, err)
	assert.Contains(t, s, `install -d -o 1001 -g 1001 -m 0750 '/srv/it'\''s/r-1' '/srv/it'\''s/r-1/data' '/srv/it'\''s/r-1/logs'`)
	_, err = RenderDirsScript(DirsValues{Replica: "r;rm", Dir: "/x", UID: 1001})
	assert.Error(t, err)
}

// testEndpoints are the SPEC's service names and ports, as the wiring passes them.
var testEndpoints = Endpoints{
	PostgresJDBC: "jdbc:postgresql://postgres:5432/aurigraph",
	PostgresUser: "aurigraph",
	RedisHosts:   "redis://redis:6379",
	OTLP:         pulumi.String("http://jaeger:4317"),
	JaegerGRPC:   pulumi.String("http://jaeger:14250"),
}
