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

	"github.com/aurigraph/infra/components/host"
)

// testIndices stand for Logstash's data streams (stacks passes its own).
var testIndices = []string{IndexPrefix + "nginx", IndexPrefix + "app", IndexPrefix + "platform"}

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
		doc, err := RenderILMPolicy(DefaultLogs(days, testIndices))
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
		_, err := RenderILMPolicy(DefaultLogs(days, testIndices))
		assert.Error(t, err)
		_, err = RenderSetupScript(SetupValues{Logs: DefaultLogs(days, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 1})
		assert.Error(t, err)
	}
}

func TestIndexTemplateMakesDataStreamsUnderThePolicy(t *testing.T) {
	doc, err := RenderIndexTemplate(DefaultLogs(30, testIndices))
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

// The role bodies use Elasticsearch 8's role API fields and only privilege
// names its documentation lists (security-privileges: cluster and index
// privileges). No Elasticsearch binary runs here: the names are checked
// against that list, and the grants against what each user needs.
var (
	esClusterPrivileges = []string{"all", "cancel_task", "create_snapshot", "cross_cluster_replication", "cross_cluster_search",
		"grant_api_key", "manage", "manage_api_key", "manage_autoscaling", "manage_ccr", "manage_enrich", "manage_ilm",
		"manage_index_templates", "manage_ingest_pipelines", "manage_logstash_pipelines", "manage_ml", "manage_oidc",
		"manage_own_api_key", "manage_pipeline", "manage_rollup", "manage_saml", "manage_search_application",
		"manage_security", "manage_service_account", "manage_slm", "manage_token", "manage_transform",
		"manage_user_profile", "manage_watcher", "monitor", "monitor_enrich", "monitor_ml", "monitor_rollup",
		"monitor_snapshot", "monitor_text_structure", "monitor_transform", "monitor_watcher", "read_ccr", "read_ilm",
		"read_pipeline", "read_security", "read_slm", "transport_client"}
	esIndexPrivileges = []string{"all", "auto_configure", "create", "create_doc", "create_index", "cross_cluster_replication",
		"cross_cluster_replication_internal", "delete", "delete_index", "index", "maintenance", "manage",
		"manage_data_stream_lifecycle", "manage_follow_index", "manage_ilm", "manage_leader_index", "monitor", "read",
		"read_cross_cluster", "view_index_metadata", "write"}
	// esRoleFields are the top-level fields of PUT _security/role/<name>.
	esRoleFields = []string{"applications", "cluster", "global", "indices", "metadata", "run_as", "remote_indices", "transient_metadata", "description"}
)

// roleGrants checks a role body's shape and names, and returns its cluster
// privileges and, per index name, its index privileges.
func roleGrants(t *testing.T, doc string) (cluster []string, indices map[string][]string) {
	t.Helper()
	m := decode(t, doc)
	for k := range m {
		assert.Contains(t, esRoleFields, k, "a role API field")
	}
	assert.NotContains(t, m, "run_as", "no impersonation")
	assert.NotContains(t, m, "applications", "no application (Kibana) privileges here")
	for _, c := range m["cluster"].([]any) {
		assert.Contains(t, esClusterPrivileges, c)
		cluster = append(cluster, c.(string))
	}
	indices = map[string][]string{}
	for _, raw := range m["indices"].([]any) {
		entry := raw.(map[string]any)
		for k := range entry {
			assert.Contains(t, []string{"names", "privileges", "field_security", "query", "allow_restricted_indices"}, k)
		}
		for _, n := range entry["names"].([]any) {
			for _, p := range entry["privileges"].([]any) {
				assert.Contains(t, esIndexPrivileges, p)
				indices[n.(string)] = append(indices[n.(string)], p.(string))
			}
		}
	}
	return cluster, indices
}

func TestWriterRoleOnlyWritesLogstashsDataStreams(t *testing.T) {
	doc, err := RenderWriterRole(DefaultLogs(30, testIndices))
	require.NoError(t, err)
	cluster, indices := roleGrants(t, doc)
	// monitor: Logstash's output reads the cluster version and licence.
	assert.Equal(t, []string{"monitor"}, cluster)
	assert.ElementsMatch(t, testIndices, keys(indices), "exactly Logstash's data streams, not the whole pattern")
	for index, privileges := range indices {
		// create_doc adds documents, never overwrites them; auto_configure
		// lets the first document create the data stream from the template.
		// Not create_index (explicit creation), not manage_ilm: the
		// template attaches the policy, which only setup writes.
		assert.ElementsMatch(t, []string{"create_doc", "auto_configure"}, privileges, index)
	}
}

func TestReaderRoleOnlyReadsLogs(t *testing.T) {
	doc, err := RenderReaderRole(DefaultLogs(30, testIndices))
	require.NoError(t, err)
	cluster, indices := roleGrants(t, doc)
	// monitor: Grafana's data source reads the version (its documented needs).
	assert.Equal(t, []string{"monitor"}, cluster)
	assert.Equal(t, map[string][]string{IndexPattern: {"read", "view_index_metadata"}}, indices)
}

func TestWriterIndicesMustBeDataStreamsUnderThePattern(t *testing.T) {
	for _, bad := range [][]string{nil, {}, {"logs-other-nginx"}, {IndexPattern}, {IndexPrefix + "Nginx"}, {IndexPrefix + "a,b"}} {
		_, err := RenderWriterRole(DefaultLogs(30, bad))
		assert.Error(t, err, "%q", bad)
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderIsDeterministic(t *testing.T) {
	v := SetupValues{Logs: DefaultLogs(30, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60}
	a, err := RenderSetupScript(v)
	require.NoError(t, err)
	b, err := RenderSetupScript(v)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestSetupScriptHoldsNoSecret(t *testing.T) {
	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(30, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 60})
	require.NoError(t, err)
	// Passwords come from stdin, in order, and never sit in a command line.
	assert.Equal(t, 4, strings.Count(script, "IFS= read -r "))
	assert.NotContains(t, script, "-u elastic")
	assert.NotContains(t, script, "-u \"elastic")
	assert.Contains(t, script, "docker exec -i -e ELASTIC_PASSWORD "+Name)
	for _, req := range []string{
		"es PUT /_ilm/policy/" + PolicyName,
		"es PUT /_index_template/" + TemplateName,
		"es PUT /_security/role/" + WriterRole,
		"es POST /_security/user/kibana_system/_password",
		"es PUT /_security/user/" + WriterUser,
		"es PUT /_security/role/" + ReaderRole,
		"es PUT /_security/user/" + ReaderUser,
	} {
		assert.Contains(t, script, req)
	}
	ilm, err := RenderILMPolicy(DefaultLogs(30, testIndices))
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
	require.Len(t, dirs, 5)
	for _, d := range dirs {
		assert.Equal(t, [2]int{1000, 0}, [2]int{d.UID, d.GID}, d.Path)
	}
	assert.Equal(t, "/srv/aurigraph/elasticsearch/data", dirs[2].Path)
	assert.Equal(t, "/srv/aurigraph/elasticsearch/logs", dirs[3].Path)
	assert.Equal(t, host.Dir{Path: "/srv/aurigraph/elasticsearch/snapshots", UID: 1000, GID: 0, Mode: "0700"}, dirs[4],
		"the snapshot repository: Elasticsearch's alone")
}

// The root is read-only: the config (with the keystore the entrypoint
// writes) is a copy in a tmpfs that ES_PATH_CONF names, the certificates
// are mounted inside it, and the command starts the image's entrypoint.
func TestReadOnlyRootLayout(t *testing.T) {
	assert.Equal(t, ConfDir, Env(2048)["ES_PATH_CONF"])
	assert.True(t, strings.HasPrefix(CAPath, ConfDir+"/"), "Elasticsearch reads TLS files from its config directory only")
	cmd := Command()
	require.Len(t, cmd, 3)
	assert.Equal(t, []string{"bash", "-c"}, cmd[:2])
	assert.Equal(t, "cp -R /usr/share/elasticsearch/config/. "+ConfDir+"/ && exec /usr/local/bin/docker-entrypoint.sh eswrapper", cmd[2])
	tmpfs := Tmpfs()
	assert.ElementsMatch(t, []string{ConfDir, "/tmp"}, keysOf(tmpfs))
	assert.Contains(t, tmpfs[ConfDir], "noexec")
	assert.Contains(t, tmpfs[ConfDir], "uid=1000")
	assert.Contains(t, tmpfs["/tmp"], ",exec,", "JNA maps its library from the temporary directory")
	for _, opts := range tmpfs {
		assert.Regexp(t, `size=\d+m`, opts, "a tmpfs is memory: bounded")
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Every https URL the component builds (for the other services, for its
// health check, for its setup step) names one of TLSHosts, the list its
// certificate is issued for, and every one of them is used.
func TestEveryURLItBuildsNamesATLSHost(t *testing.T) {
	script, err := RenderSetupScript(SetupValues{Logs: DefaultLogs(30, testIndices), Container: Name, CAPath: CAPath, URL: SelfURL(), WaitAttempts: 1})
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
