package tests

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/internal/derive"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// logHostOf is the stack file's first host with the logging role.
func logHostOf(t *testing.T, s *stackfile.Stack) (name, clusterAddr string) {
	var hosts []stacks.Host
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
	for _, h := range hosts {
		if h.HasRole(stacks.RoleLogging) {
			return h.Name, h.ClusterAddress()
		}
	}
	t.Fatalf("stack %s has no logging host", s.Name)
	return "", ""
}

func logRetentionDays(t *testing.T, s *stackfile.Stack) int {
	var r stacks.Retention
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:retention"]), &r))
	require.Positive(t, r.ElasticsearchDays)
	return r.ElasticsearchDays
}

// logEnvs returns a container's environment: name → (value, secret).
func logEnvs(t *testing.T, r *mockrun.Resource) map[string]logEnvVar {
	t.Helper()
	out := map[string]logEnvVar{}
	for _, v := range r.Inputs["envs"].ArrayValue() {
		secret := v.IsSecret()
		if secret {
			v = v.SecretValue().Element
		}
		k, val, ok := strings.Cut(v.StringValue(), "=")
		require.True(t, ok, "env element %q", v.StringValue())
		out[k] = logEnvVar{val, secret}
	}
	return out
}

type logEnvVar struct {
	value  string
	secret bool
}

func logStr(v resource.PropertyValue) string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func logDerived(base, purpose string) string { return derive.Password(base, purpose) }

func isLoggingURN(urn string) bool {
	for _, tok := range []string{"aurigraph:elasticsearch:", "aurigraph:logstash:", "aurigraph:kibana:"} {
		if strings.Contains(urn, tok) {
			return true
		}
	}
	return false
}

func TestLoggingStack(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			hostName, clusterAddr := logHostOf(t, s)
			provider := fmt.Sprintf("urn:pulumi:%s::%s::pulumi:providers:docker::%s-docker", stack, s.Project, hostName)

			byName := map[string]*mockrun.Resource{}
			for _, name := range []string{elasticsearch.Name, logstash.Name, "kibana"} {
				c := res.Named(harness.ContainerType, name)
				require.NotNil(t, c, "container %s", name)
				byName[name] = c
				assert.Equal(t, provider, c.Provider, "%s runs on the logging host %s", name, hostName)
				assert.Equal(t, "1000:0", logStr(c.Inputs["user"]), name)
				assert.False(t, c.Inputs["privileged"].BoolValue(), name)
			}

			es := byName[elasticsearch.Name]
			env := logEnvs(t, es)
			assert.Equal(t, "-Xms2g -Xmx2g -Des.enforce.bootstrap.checks=true", env["ES_JAVA_OPTS"].value)
			for _, k := range []string{"xpack.security.enabled", "xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled", "bootstrap.memory_lock"} {
				assert.Equal(t, "true", env[k].value, k)
			}
			assert.Equal(t, "single-node", env["discovery.type"].value)
			assert.Equal(t, float64(stacks.DefaultResources[stacks.Elasticsearch].MemoryMB), es.Inputs["memory"].NumberValue())
			ulimits := map[string]float64{}
			for _, u := range es.Inputs["ulimits"].ArrayValue() {
				ulimits[u.ObjectValue()["name"].StringValue()] = u.ObjectValue()["hard"].NumberValue()
			}
			assert.Equal(t, float64(-1), ulimits["memlock"])
			assert.Equal(t, float64(65536), ulimits["nofile"])
			health := es.Inputs["healthcheck"].ObjectValue()["tests"].ArrayValue()
			require.Len(t, health, 2)
			assert.Equal(t, "CMD-SHELL", health[0].StringValue())
			assert.Contains(t, health[1].StringValue(), elasticsearch.PasswordPath, "read in the container")
			assert.Contains(t, health[1].StringValue(), "/_cluster/health")

			lsEnv := logEnvs(t, byName[logstash.Name])
			assert.Equal(t, "-Xms1g -Xmx1g", lsEnv["LS_JAVA_OPTS"].value)

			// Published ports: only Logstash's 5514/tcp, on the cluster address.
			for name, c := range byName {
				ports := c.Inputs["ports"]
				if name != logstash.Name {
					assert.True(t, ports.IsNull() || len(ports.ArrayValue()) == 0, "%s publishes no port", name)
					continue
				}
				require.Len(t, ports.ArrayValue(), 1)
				p := ports.ArrayValue()[0].ObjectValue()
				assert.Equal(t, float64(logstash.SyslogPort), p["internal"].NumberValue())
				assert.Equal(t, float64(logstash.SyslogPort), p["external"].NumberValue())
				assert.Equal(t, clusterAddr, p["ip"].StringValue())
				assert.Equal(t, "tcp", p["protocol"].StringValue())
			}

			// Every credential in a container environment is a secret
			// (Elasticsearch reads its password from a file).
			assert.Equal(t, elasticsearch.PasswordPath, logEnvs(t, byName[elasticsearch.Name])["ELASTIC_PASSWORD_FILE"].value)
			credentials := map[string][]string{
				logstash.Name: {logstash.PasswordEnv},
				"kibana":      {"AURIGRAPH_ES_PASSWORD", "AURIGRAPH_SECURITY_KEY", "AURIGRAPH_SAVED_OBJECTS_KEY", "AURIGRAPH_REPORTING_KEY"},
			}
			for name, keys := range credentials {
				env := logEnvs(t, byName[name])
				for _, k := range keys {
					require.Contains(t, env, k, name)
					assert.True(t, env[k].secret, "%s %s must be secret", name, k)
				}
				for k, v := range env {
					if strings.Contains(k, "PASSWORD") || strings.HasSuffix(k, "_KEY") {
						assert.True(t, v.secret, "%s %s must be secret", name, k)
					}
				}
			}
			kEnv := logEnvs(t, byName["kibana"])
			elastic := s.Config["aurigraph:elasticPassword"]
			require.NotEmpty(t, elastic)
			assert.Equal(t, logDerived(elastic, "kibana/encryptedSavedObjects"), kEnv["AURIGRAPH_SAVED_OBJECTS_KEY"].value)
			assert.GreaterOrEqual(t, len(kEnv["AURIGRAPH_SECURITY_KEY"].value), 32)
			assert.Equal(t, logDerived(elastic, "logstash_writer"), lsEnv[logstash.PasswordEnv].value)
			assert.NotEqual(t, elastic, lsEnv[logstash.PasswordEnv].value, "logstash_writer does not reuse the elastic password")

			// No secret, placeholder or derived, appears in plain text in any
			// input of the logging resources.
			var secrets []string
			for _, k := range s.SecretKeys {
				if v := s.Config[k]; len(v) >= 8 {
					secrets = append(secrets, v)
				}
			}
			for _, p := range []string{"logstash_writer", "kibana/security", "kibana/encryptedSavedObjects", "kibana/reporting"} {
				secrets = append(secrets, logDerived(elastic, p))
			}
			checked := 0
			for _, r := range res.Resources {
				if !isLoggingURN(r.URN) {
					continue
				}
				checked++
				var plain []string
				plain = append(plain, harness.PlainStrings(resource.NewObjectProperty(r.Inputs))...)
				for _, p := range plain {
					assert.NotContains(t, p, "plan-placeholder-", r.URN)
					for _, sec := range secrets {
						assert.NotContains(t, p, sec, r.URN)
					}
				}
			}
			assert.Greater(t, checked, 10)

			// The setup runs on the logging host after a healthy Elasticsearch,
			// with the stack's retention; Logstash and Kibana wait for it.
			setup := res.Named("command:remote:Command", "elasticsearch-setup")
			require.NotNil(t, setup)
			assert.Contains(t, setup.DependsOn, es.URN)
			assert.True(t, setup.Inputs["stdin"].IsSecret())
			assert.Contains(t, logStr(setup.Inputs["create"]), fmt.Sprintf(`"min_age": "%dd"`, logRetentionDays(t, s)))
			assert.Equal(t, float64(0), float64(strings.Count(logStr(setup.Inputs["create"]), "plan-placeholder-")))
			for _, name := range []string{logstash.Name, "kibana"} {
				assert.Contains(t, byName[name].DependsOn, setup.URN, "%s waits for the setup", name)
			}

			// Logstash's TLS for the hosts' input: the CA, its certificate
			// and its key in PKCS#8, one secret step that restarts it;
			// the container waits for them.
			lsTLS := res.Named("command:remote:Command", logstash.Name+"-tls")
			require.NotNil(t, lsTLS)
			assert.True(t, lsTLS.Inputs["stdin"].IsSecret())
			assert.Contains(t, byName[logstash.Name].DependsOn, lsTLS.URN)
			written, err := configfile.SecretFiles(logStr(lsTLS.Inputs["create"]), logStr(lsTLS.Inputs["stdin"]))
			require.NoError(t, err)
			files := map[string]string{}
			for p, content := range written {
				files[path.Base(p)] = content
				assert.Equal(t, "certs", path.Base(path.Dir(p)), "mounted at %s", path.Dir(logstash.CAPath))
			}
			require.Len(t, files, 3)
			assert.Contains(t, files[path.Base(logstash.CAPath)], "BEGIN CERTIFICATE")
			assert.Contains(t, files[path.Base(logstash.ServerCertPath)], "BEGIN CERTIFICATE")
			assert.Contains(t, files[path.Base(logstash.ServerKeyPath)], "-----BEGIN PRIVATE KEY-----", "PKCS#8, the only form Logstash's tcp input reads")
			assert.Contains(t, logStr(lsTLS.Inputs["create"]), "docker restart "+logstash.Name)
			assert.Contains(t, logStr(lsTLS.Inputs["create"]), "openssl pkey -pubout", "the pair is checked before it replaces the live one")
			assert.True(t, es.Inputs["wait"].BoolValue(), "the setup starts after a healthy container")
		})
	}
}

func TestRetentionChangeReappliesSetup(t *testing.T) {
	s := harness.Stack(t, "staging")
	triggers := func(s *stackfile.Stack) (string, string) {
		res := harness.Run(t, s)
		setup := res.Named("command:remote:Command", "elasticsearch-setup")
		require.NotNil(t, setup)
		return logStr(setup.Inputs["triggers"].ArrayValue()[0]), logStr(setup.Inputs["create"])
	}
	hashA, scriptA := triggers(s)
	hashB, scriptB := triggers(s.Set("retention", `{"prometheusDays":7,"elasticsearchDays":21,"backups":{"hourly":6,"daily":3}}`))
	assert.NotEqual(t, hashA, hashB)
	assert.Contains(t, scriptB, `"min_age": "21d"`)
	assert.NotContains(t, scriptA, `"min_age": "21d"`)
	hashA2, _ := triggers(s)
	assert.Equal(t, hashA, hashA2, "same config, same trigger")
}
