package rules

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/require"
)

// Test helpers: hand-built resources as the engine would send them.

type M = map[string]property.Value

func s(v string) property.Value              { return property.New(v) }
func n(v float64) property.Value             { return property.New(v) }
func b(v bool) property.Value                { return property.New(v) }
func secret(v property.Value) property.Value { return v.WithSecret(true) }
func computed() property.Value               { return property.New(property.Computed) }
func obj_(m M) property.Value                { return property.New(property.NewMap(m)) }
func arr_(vs ...property.Value) property.Value {
	return property.New(property.NewArray(vs))
}
func strArr(vs ...string) property.Value {
	out := make([]property.Value, len(vs))
	for i, v := range vs {
		out[i] = s(v)
	}
	return arr_(out...)
}

// goodContainer is a container of kind that passes every container rule.
func goodContainer(kind string) M {
	user := s("1000:1000")
	caps := strArr()
	if kind == Vault {
		caps = strArr("IPC_LOCK")
	}
	m := M{
		"name":              s(kind),
		"labels":            arr_(obj_(M{"label": s(ServiceLabel), "value": s(kind)}), obj_(M{"label": s("com.aurigraph.managed-by"), "value": s("pulumi")})),
		"image":             s(kind + ":1.2.3"),
		"memory":            n(4096),
		"memoryReservation": n(2048),
		"cpus":              s("2"),
		"cpuShares":         n(1024),
		"restart":           s("unless-stopped"),
		"healthcheck":       obj_(M{"tests": strArr("CMD", "true"), "interval": s("30s")}),
		"logDriver":         s("json-file"),
		"logOpts":           obj_(M{"max-size": s("50m"), "max-file": s("5")}),
		"securityOpts":      strArr("no-new-privileges:true"),
		"ulimits":           arr_(obj_(M{"name": s("nofile"), "soft": n(65536), "hard": n(65536)}), obj_(M{"name": s("nproc"), "soft": n(4096), "hard": n(4096)})),
		"capabilities":      obj_(M{"drops": strArr("ALL"), "adds": caps}),
		"user":              user,
		"readOnly":          b(true),
		"privileged":        b(false),
		"mounts": arr_(obj_(M{"type": s("volume"), "source": s(kind + "-data"), "target": s("/data")}), obj_(M{"type": s("bind"), "source": s("/srv/aurigraph/" + kind), "target": s("/etc/" + kind), "readOnly": b(true)}),
			obj_(M{"type": s("bind"), "source": s("/srv/aurigraph/" + kind + "/secrets/" + kind), "target": s(SecretsMount), "readOnly": b(true)})),
		"envs":             arr_(s("TZ=UTC"), s("SERVICE_PASSWORD_FILE="+SecretsMount+"/service-password")),
		"networksAdvanced": arr_(obj_(M{"name": s("aurigraph-network")})),
	}
	switch kind {
	case Vault:
		m["command"] = strArr("server", "-config=/vault/config")
	case Elasticsearch:
		m["envs"] = arr_(s("discovery.type=single-node"), s("xpack.security.enabled=true"), s("ELASTIC_PASSWORD_FILE="+SecretsMount+"/elastic-password"))
	case Gateway:
		m["ports"] = arr_(obj_(M{"internal": n(80), "external": n(80), "ip": s("0.0.0.0"), "protocol": s("tcp")}), obj_(M{"internal": n(443), "external": n(443), "ip": s("0.0.0.0"), "protocol": s("tcp")}))
	case Grafana:
		m["ports"] = arr_(obj_(M{"internal": n(3000), "external": n(3000), "ip": s("127.0.0.1"), "protocol": s("tcp")}))
	}
	return m
}

// with returns a copy of m with key set (or deleted when v is nil).
func with(m M, key string, v *property.Value) M {
	out := M{}
	for k, x := range m {
		out[k] = x
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = *v
	}
	return out
}

func set(m M, key string, v property.Value) M { return with(m, key, &v) }
func del(m M, key string) M                   { return with(m, key, nil) }

func container(name string, m M) policyx.AnalyzerResource {
	return policyx.AnalyzerResource{Type: ContainerType, Name: name, URN: "urn:pulumi:prod::aurigraph::" + ContainerType + "::" + name, Properties: property.NewMap(m)}
}

func resourceOf(typ, name string, m M) policyx.AnalyzerResource {
	return policyx.AnalyzerResource{Type: typ, Name: name, URN: "urn:pulumi:prod::aurigraph::" + typ + "::" + name, Properties: property.NewMap(m)}
}

func rule(t *testing.T, name string) Rule {
	t.Helper()
	for _, r := range All() {
		if r.Name == name {
			return r
		}
	}
	require.FailNow(t, "no rule "+name)
	return Rule{}
}

// prodEnv is the prod settings of a rule with no facts.
func prodEnv(params map[string]any) Env { return Env{Params: params} }
