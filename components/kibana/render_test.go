package kibana

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func testArgs() KibanaArgs {
	return KibanaArgs{
		PublicBaseURL: "https://kibana.ops.example.com", ElasticsearchURL: "https://elasticsearch:9200",
		Username: "kibana_system",
	}
}

func TestConfig(t *testing.T) {
	cfg, err := testArgs().Config()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &m), cfg)
	assert.Equal(t, "https://kibana.ops.example.com", m["server.publicBaseUrl"])
	assert.Equal(t, true, m["server.ssl.enabled"])
	assert.Equal(t, CertPath, m["server.ssl.certificate"])
	assert.Equal(t, KeyPath, m["server.ssl.key"])
	assert.Equal(t, []any{"https://elasticsearch:9200"}, m["elasticsearch.hosts"])
	assert.Equal(t, "kibana_system", m["elasticsearch.username"])
	assert.Equal(t, []any{CAPath}, m["elasticsearch.ssl.certificateAuthorities"])
	assert.Equal(t, "full", m["elasticsearch.ssl.verificationMode"])
	// Secrets are environment references only.
	assert.Equal(t, "${"+PasswordEnv+"}", m["elasticsearch.password"])
	assert.Equal(t, "${"+SecurityKeyEnv+"}", m["xpack.security.encryptionKey"])
	assert.Equal(t, "${"+SavedObjectsKeyEnv+"}", m["xpack.encryptedSavedObjects.encryptionKey"])
	assert.Equal(t, "${"+ReportingKeyEnv+"}", m["xpack.reporting.encryptionKey"])
	for k, v := range m {
		if s, ok := v.(string); ok && (strings.Contains(k, "password") || strings.Contains(k, "Key")) {
			assert.Regexp(t, `^\$\{[A-Z_]+\}$`, s, k)
		}
	}
	again, err := testArgs().Config()
	require.NoError(t, err)
	assert.Equal(t, cfg, again)
}

func TestSecretEnvNamesAreNotKibanaSettings(t *testing.T) {
	// The image turns environment variables named after settings
	// (ELASTICSEARCH_PASSWORD → --elasticsearch.password=…) into command-line
	// flags; ours must not look like any setting.
	for _, e := range []string{PasswordEnv, SecurityKeyEnv, SavedObjectsKeyEnv, ReportingKeyEnv} {
		assert.True(t, strings.HasPrefix(e, "AURIGRAPH_"), e)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	a := testArgs()
	a.PublicBaseURL = "http://kibana.example.com"
	_, err := a.Config()
	assert.Error(t, err)
	a = testArgs()
	a.ElasticsearchURL = "http://elasticsearch:9200"
	_, err = a.Config()
	assert.Error(t, err)
	_, err = RenderConfig(ConfigValues{PasswordEnv: "plain secret value"})
	assert.Error(t, err)
}

func TestNodeOptionsAndHealth(t *testing.T) {
	n, err := RenderNodeOptions(NodeOptionsValues{HeapMB: 1024})
	require.NoError(t, err)
	assert.Contains(t, n, "--max-old-space-size=1024\n")
	_, err = RenderNodeOptions(NodeOptionsValues{HeapMB: 0})
	assert.Error(t, err)
	h := HealthCommand()
	assert.Equal(t, "CMD-SHELL", h[0])
	assert.Contains(t, h[1], "https://kibana:5601/api/status")
	assert.Contains(t, h[1], "--cacert "+CAPath)
	for _, d := range Dirs("/srv/aurigraph/kibana") {
		assert.Equal(t, [2]int{UID, GID}, [2]int{d.UID, d.GID})
	}
}

// Every https URL the component builds (the gateway's upstream, the health
// check) names one of TLSHosts, the list its certificate is issued for.
func TestEveryURLItBuildsNamesATLSHost(t *testing.T) {
	hosts := map[string]bool{}
	for _, text := range []string{URL(), HealthCommand()[1]} {
		for _, m := range regexp.MustCompile(`https://([^:/"'\s]+)`).FindAllStringSubmatch(text, -1) {
			hosts[m[1]] = true
		}
	}
	var used []string
	for h := range hosts {
		used = append(used, h)
	}
	assert.ElementsMatch(t, TLSHosts(), used)
}
