package elasticsearch

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m), doc)
	return m
}

// dig walks nested objects by key.
func dig(t *testing.T, m map[string]any, keys ...string) any {
	t.Helper()
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		require.True(t, ok, "%v is not an object at %q", keys, k)
		cur, ok = obj[k]
		require.True(t, ok, "missing %q in %v", k, keys)
	}
	return cur
}

func TestILMPolicyDeletesAfterRetention(t *testing.T) {
	for _, days := range []int{1, 7, 30, 90} {
		doc, err := RenderILMPolicy(DefaultLogs(days))
		require.NoError(t, err)
		m := decode(t, doc)
		assert.Equal(t, fmt.Sprintf("%dd", days), dig(t, m, "policy", "phases", "delete", "min_age"))
		assert.Equal(t, map[string]any{}, dig(t, m, "policy", "phases", "delete", "actions", "delete"))
		rollover := dig(t, m, "policy", "phases", "hot", "actions", "rollover").(map[string]any)
		assert.Equal(t, map[string]any{"max_age": "1d", "max_primary_shard_size": "50gb"}, rollover)
		// ES 8.11 accepts only these phases and, in them, these actions.
		allowed := map[string][]string{
			"hot":    {"rollover", "set_priority", "unfollow", "readonly", "shrink", "forcemerge", "searchable_snapshot", "downsample"},
			"delete": {"wait_for_snapshot", "delete"},
		}
		for phase, body := range dig(t, m, "policy", "phases").(map[string]any) {
			require.Contains(t, allowed, phase)
			for action := range body.(map[string]any)["actions"].(map[string]any) {
				assert.Contains(t, allowed[phase], action, "phase %s", phase)
			}
		}
	}
}

func TestRetentionMustBePositive(t *testing.T) {
	for _, days := range []int{0, -1} {
		_, err := RenderILMPolicy(DefaultLogs(days))
		assert.Error(t, err)
		_, err = RenderSetupScript(SetupValues{Logs: DefaultLogs(days), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 1})
		assert.Error(t, err)
	}
}

func TestIndexTemplateMakesDataStreamsUnderThePolicy(t *testing.T) {
	doc, err := RenderIndexTemplate(DefaultLogs(30))
	require.NoError(t, err)
	m := decode(t, doc)
	for k := range m {
		assert.Contains(t, []string{"index_patterns", "template", "composed_of", "priority", "version", "_meta", "data_stream", "allow_auto_create"}, k,
			"top-level key of a composable index template")
	}
	assert.Equal(t, []any{IndexPattern}, m["index_patterns"])
	assert.IsType(t, map[string]any{}, m["data_stream"], "data_stream must be an object")
	assert.Greater(t, m["priority"].(float64), 100.0, "above the built-in logs-*-* template")
	settings := dig(t, m, "template", "settings").(map[string]any)
	assert.Equal(t, PolicyName, settings["index.lifecycle.name"])
	assert.Equal(t, 0.0, settings["index.number_of_replicas"], "a single node would stay yellow with replicas")
	for k := range settings {
		assert.True(t, strings.HasPrefix(k, "index."), k)
	}
	// Data streams need @timestamp as a date.
	assert.Equal(t, "date", dig(t, m, "template", "mappings", "properties", "@timestamp", "type"))
	assert.Equal(t, "keyword", dig(t, m, "template", "mappings", "properties", "service", "properties", "name", "type"))
	known := map[string]bool{"date": true, "keyword": true, "match_only_text": true, "long": true, "double": true, "ip": true, "wildcard": true}
	var walk func(props map[string]any, at string)
	walk = func(props map[string]any, at string) {
		for name, raw := range props {
			field := raw.(map[string]any)
			if sub, ok := field["properties"].(map[string]any); ok {
				walk(sub, at+name+".")
				continue
			}
			assert.True(t, known[field["type"].(string)], "%s%s: type %v", at, name, field["type"])
		}
	}
	walk(dig(t, m, "template", "mappings", "properties").(map[string]any), "")
	for _, svc := range []string{"nginx", "postgres", "aurigraph-v11", "system"} {
		ok, err := path.Match(IndexPattern, IndexPrefix+svc)
		require.NoError(t, err)
		assert.True(t, ok, "%s's data stream matches the template", svc)
	}
}

func TestWriterRoleOnlyWritesLogs(t *testing.T) {
	doc, err := RenderWriterRole(DefaultLogs(30))
	require.NoError(t, err)
	m := decode(t, doc)
	assert.Equal(t, []any{"monitor"}, m["cluster"])
	indices := m["indices"].([]any)
	require.Len(t, indices, 1)
	entry := indices[0].(map[string]any)
	assert.Equal(t, []any{IndexPattern}, entry["names"])
	assert.ElementsMatch(t, []any{"create_doc", "auto_configure"}, entry["privileges"])
	for _, p := range entry["privileges"].([]any) {
		assert.NotContains(t, []string{"all", "write", "delete", "manage", "delete_index"}, p)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	v := SetupValues{Logs: DefaultLogs(30), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60}
	a, err := RenderSetupScript(v)
	require.NoError(t, err)
	b, err := RenderSetupScript(v)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestSetupScriptHoldsNoSecret(t *testing.T) {
	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(30), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60})
	require.NoError(t, err)
	// Passwords come from stdin, in order, and never sit in a command line.
	assert.Equal(t, 3, strings.Count(script, "IFS= read -r "))
	assert.NotContains(t, script, "-u elastic")
	assert.NotContains(t, script, "-u \"elastic")
	assert.Contains(t, script, "docker exec -i -e ELASTIC_PASSWORD "+Name)
	for _, req := range []string{
		"es PUT /_ilm/policy/" + PolicyName,
		"es PUT /_index_template/" + TemplateName,
		"es PUT /_security/role/" + WriterRole,
		"es POST /_security/user/kibana_system/_password",
		"es PUT /_security/user/" + WriterUser,
	} {
		assert.Contains(t, script, req)
	}
	ilm, err := RenderILMPolicy(DefaultLogs(30))
	require.NoError(t, err)
	assert.Contains(t, script, ilm, "the policy is sent as rendered")
}

func TestContainerSettings(t *testing.T) {
	env := Env(2048)
	assert.Equal(t, "-Xms2g -Xmx2g -Des.enforce.bootstrap.checks=true", env["ES_JAVA_OPTS"])
	assert.Equal(t, "-Xms1536m -Xmx1536m -Des.enforce.bootstrap.checks=true", Env(1536)["ES_JAVA_OPTS"])
	assert.Equal(t, "true", env["xpack.security.enabled"])
	assert.Equal(t, "single-node", env["discovery.type"])
	for k, v := range env {
		assert.NotContains(t, strings.ToLower(k), "password", "no secret in the plain environment")
		assert.NotContains(t, strings.ToLower(v), "password")
	}
	health := HealthCommand()
	assert.Equal(t, "CMD-SHELL", health[0])
	assert.Contains(t, health[1], ` /run/secrets/elastic-password)`)
	assert.Contains(t, health[1], "https://localhost:9200/_cluster/health")
	assert.Equal(t, "262144", RequiredSysctls["vm.max_map_count"])

	dirs := Dirs("/srv/aurigraph/elasticsearch")
	require.Len(t, dirs, 3)
	for _, d := range dirs {
		assert.Equal(t, [2]int{1000, 0}, [2]int{d.UID, d.GID}, d.Path)
	}
	assert.Equal(t, "/srv/aurigraph/elasticsearch/data", dirs[2].Path)
}

// Every https URL the component builds (for the other services, for its
// health check, for its setup step) names one of TLSHosts, the list its
// certificate is issued for, and every one of them is used.
func TestEveryURLItBuildsNamesATLSHost(t *testing.T) {
	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(30), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 1})
	require.NoError(t, err)
	hosts := map[string]bool{}
	for _, text := range []string{URL(), SelfURL(), HealthCommand()[1], script} {
		for _, m := range regexp.MustCompile(`https://([^:/"'\s]+)`).FindAllStringSubmatch(text, -1) {
			hosts[m[1]] = true
		}
	}
	var used []string
	for h := range hosts {
		used = append(used, h)
	}
	assert.ElementsMatch(t, TLSHosts(), used)
	assert.Contains(t, HealthCommand()[1], SelfURL()+"/_cluster/health", "the health check reaches itself by SelfHost")
}
