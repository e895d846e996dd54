package logstash

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func testArgs() LogstashArgs {
	return LogstashArgs{
		Services:         Services{Nginx: "nginx", Postgres: "postgres", Redis: "redis", Vault: "vault", App: "aurigraph-v11"},
		ElasticsearchURL: "https://elasticsearch:9200", WriterUser: "logstash_writer",
	}
}

func TestPipelineInputsAndOutput(t *testing.T) {
	p, err := testArgs().Pipeline()
	require.NoError(t, err)
	blocks := mustParse(t, p)
	assert.Equal(t, []string{"input", "filter", "output"}, blocks.sections)
	assert.Equal(t, []string{"tcp", "tcp", "gelf"}, blocks.plugins["input"])
	assert.Equal(t, []string{"elasticsearch"}, blocks.plugins["output"])
	for _, want := range []string{
		fmt.Sprintf("port => %d\n    codec => json_lines { charset => \"UTF-8\" }", SyslogPort),
		fmt.Sprintf("port => %d\n    codec => json_lines\n", JSONPort),
		fmt.Sprintf("port => %d\n    use_udp => true", GELFPort),
		`hosts => ["https://elasticsearch:9200"]`,
		`ssl_certificate_authorities => ["` + CAPath + `"]`,
		`ssl_verification_mode => "full"`,
		`user => "logstash_writer"`,
		`password => "${` + PasswordEnv + `}"`,
		`index => "logs-aurigraph-%{[@metadata][stream]}"`,
		`action => "create"`,
		`if [service][name] == "nginx"`,
		`[service][name] == "postgres"`,
		`if [event][dataset] == "docker"`,
		`if [event][dataset] == "journal"`,
	} {
		assert.Contains(t, p, want)
	}
	assert.NotContains(t, p, "codec => line", "no input reads plain lines: the hosts send JSON lines")
}

var hostsInput = regexp.MustCompile(`(?s)tcp \{\n    id => "in-hosts"\n(.*?)\n  \}\n`)

// The hosts' input is TLS with client certificates from the stack's CA,
// on the port the hosts forward to, decoded as JSON lines.
func TestHostsInputIsMutualTLSJSONLines(t *testing.T) {
	p, err := testArgs().Pipeline()
	require.NoError(t, err)
	m := hostsInput.FindStringSubmatch(p)
	require.NotNil(t, m, p)
	settings := map[string]string{}
	for _, line := range strings.Split(m[1], "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " => ")
		require.True(t, ok, line)
		settings[k] = v
	}
	assert.Equal(t, map[string]string{
		"port":                        fmt.Sprint(SyslogPort),
		"codec":                       `json_lines { charset => "UTF-8" }`,
		"ssl_enabled":                 "true",
		"ssl_certificate":             `"` + ServerCertPath + `"`,
		"ssl_key":                     `"` + ServerKeyPath + `"`,
		"ssl_certificate_authorities": `["` + CAPath + `"]`,
		"ssl_client_authentication":   `"required"`,
		"tags":                        `["hosts"]`,
	}, settings)
}

var (
	routeRE   = regexp.MustCompile(`(?m)^  (?:\} else )?if \[service\]\[name\] == "([^"]+)" \{\n    mutate \{ id => "route-\d+" add_field => \{ "\[@metadata\]\[stream\]" => "([^"]+)" \} \}$`)
	defaultRE = regexp.MustCompile(`(?m)^  \} else \{\n    mutate \{ id => "route-default" add_field => \{ "\[@metadata\]\[stream\]" => "([^"]+)" \} \}\n  \}$`)
)

// The routing conditionals are the table, in its order, with the default
// last: what the pipeline does is what Services.StreamOf says.
func TestRoutingIsRenderedFromTheTable(t *testing.T) {
	s := testArgs().Services
	p, err := testArgs().Pipeline()
	require.NoError(t, err)
	var rendered []Route
	for _, m := range routeRE.FindAllStringSubmatch(p, -1) {
		rendered = append(rendered, Route{Service: m[1], Stream: m[2]})
	}
	assert.Equal(t, s.Routes(), rendered)
	d := defaultRE.FindStringSubmatch(p)
	require.NotNil(t, d)
	assert.Equal(t, StreamPlatform, d[1])
	assert.Less(t, strings.Index(p, `id => "service-system"`), strings.Index(p, `id => "route-0"`), "the journal gets its service before routing")

	assert.Equal(t, StreamApp, s.StreamOf("aurigraph-v11"))
	assert.Equal(t, StreamDatabase, s.StreamOf("postgres"))
	assert.Equal(t, StreamDatabase, s.StreamOf("redis"))
	assert.Equal(t, StreamNginx, s.StreamOf("nginx"))
	assert.Equal(t, StreamVault, s.StreamOf("vault"))
	assert.Equal(t, StreamSystem, s.StreamOf(SystemService))
	assert.Equal(t, StreamPlatform, s.StreamOf("grafana"))
	assert.Equal(t, []string{StreamApp, StreamDatabase, StreamNginx, StreamVault, StreamSystem, StreamPlatform}, s.Streams())
}

func TestServiceOfFollowsThePipelinesDefaults(t *testing.T) {
	s := testArgs().Services
	for _, c := range []struct {
		event map[string]any
		index string
	}{
		{map[string]any{"service": map[string]any{"name": "nginx"}, "event": map[string]any{"dataset": "docker"}}, "logs-aurigraph-nginx"},
		{map[string]any{"event": map[string]any{"dataset": "journal"}}, "logs-aurigraph-system"},
		{map[string]any{"event": map[string]any{"dataset": "docker"}}, "logs-aurigraph-platform"},
		{map[string]any{"message": "from the app's own JSON input"}, "logs-aurigraph-app"},
		{map[string]any{"service": "vault"}, "logs-aurigraph-vault"},
	} {
		assert.Equal(t, c.index, s.IndexOf(c.event), "%v", c.event)
	}
}

func TestPipelineRefusesABrokenTable(t *testing.T) {
	a := testArgs()
	a.Services.Redis = a.Services.Postgres
	_, err := a.Pipeline()
	assert.Error(t, err, "a service routed twice")
	a = testArgs()
	a.Services.Vault = ""
	_, err = a.Pipeline()
	assert.Error(t, err, "a service without a name")
	v := testArgs().pipelineValues()
	_, err = RenderPipeline(v)
	require.NoError(t, err)
	v.Routes = append(v.Routes, Route{Service: "grafana", Stream: "Upper"})
	_, err = RenderPipeline(v)
	assert.Error(t, err, "an index name must be lowercase")
	v = testArgs().pipelineValues()
	v.Routes = nil
	_, err = RenderPipeline(v)
	assert.Error(t, err, "no table")
}

func TestPipelineHoldsOnlyEnvironmentReferences(t *testing.T) {
	p, err := testArgs().Pipeline()
	require.NoError(t, err)
	for _, line := range strings.Split(p, "\n") {
		if strings.Contains(line, "password") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			assert.Equal(t, `password => "${`+PasswordEnv+`}"`, strings.TrimSpace(line))
		}
	}
	again, err := testArgs().Pipeline()
	require.NoError(t, err)
	assert.Equal(t, p, again, "deterministic")
}

func TestPipelineRefusesUnsafeValues(t *testing.T) {
	a := testArgs()
	a.Services.Nginx = `ngi"nx`
	_, err := a.Pipeline()
	assert.Error(t, err)
	v := PipelineValues{SyslogPort: 1, JSONPort: 2, GELFPort: 3, PasswordEnv: "hunter2-literal"}
	_, err = RenderPipeline(v)
	assert.Error(t, err, "a password value instead of a variable name")
}

func TestSettings(t *testing.T) {
	s, err := Settings()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(s), &m))
	assert.Equal(t, "v8", m["pipeline.ecs_compatibility"])
	assert.Equal(t, true, m["config.reload.automatic"])
	assert.Equal(t, false, m["xpack.monitoring.enabled"])
	assert.Equal(t, "127.0.0.1", m["api.http.host"])
	assert.Equal(t, APIPort, m["api.http.port"])
	assert.Equal(t, "persisted", m["queue.type"])
	assert.Equal(t, dataDir, m["path.data"])
}

func TestJavaOptsPinHeap(t *testing.T) {
	assert.Equal(t, "-Xms1g -Xmx1g", JavaOpts(1024))
	assert.Equal(t, "-Xms768m -Xmx768m", JavaOpts(768))
	assert.Contains(t, HealthCommand()[1], fmt.Sprintf("127.0.0.1:%d", APIPort))
}

// The root is read-only: the settings Logstash reads are assembled in a
// tmpfs at every start (the image's three files and the rendered
// logstash.yml), and it writes only there, in /tmp and in its data
// directory on the host.
func TestReadOnlyRootLayout(t *testing.T) {
	assert.Equal(t, []string{"bash", "-c",
		"cp /usr/share/logstash/config/jvm.options /usr/share/logstash/config/log4j2.properties /usr/share/logstash/config/pipelines.yml " +
			"/usr/share/logstash/aurigraph-settings/logstash.yml /run/logstash/settings/ && exec logstash --path.settings /run/logstash/settings"}, Command())
	tmpfs := Tmpfs()
	require.Len(t, tmpfs, 2)
	assert.Contains(t, tmpfs[runSettingsDir], "noexec")
	assert.Contains(t, tmpfs[runSettingsDir], fmt.Sprintf("uid=%d", UID))
	assert.Contains(t, tmpfs["/tmp"], ",exec,", "jffi maps its native stub from the temporary directory")
	settings, err := Settings()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(settings), &m))
	assert.Equal(t, dataDir, m["path.data"], "the queue, dead letters and UUID go to the host's data directory")
}

// config is the structure of a Logstash config: its top-level sections in
// order and the plugins directly inside each.
type config struct {
	sections []string
	plugins  map[string][]string
}

// parseConfig is a small structural parser for Logstash's config language:
// comments, single/double-quoted strings (a backslash keeps the next
// character), regex literals after =~ and !~, and nesting of {} [] ().
// It reports an unterminated string or an unbalanced bracket.
func parseConfig(src string) (config, error) {
	c := config{plugins: map[string][]string{}}
	var stack []byte
	var words []string // identifiers since the last bracket
	section := ""
	line := 1
	pair := map[byte]byte{'}': '{', ']': '[', ')': '('}
	for i := 0; i < len(src); i++ {
		ch := src[i]
		switch {
		case ch == '\n':
			line++
		case ch == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			line++
		case ch == '"' || ch == '\'' || (ch == '/' && strings.HasSuffix(strings.TrimRight(src[:i], " "), "~")):
			start := line
			for i++; i < len(src) && src[i] != ch; i++ {
				if src[i] == '\\' {
					i++
				}
				if i < len(src) && src[i] == '\n' {
					line++
				}
			}
			if i >= len(src) {
				return c, fmt.Errorf("unterminated %c opened on line %d", ch, start)
			}
			words = nil
		case ch == '{' || ch == '[' || ch == '(':
			if ch == '{' && len(words) > 0 {
				name := words[len(words)-1]
				switch {
				case len(stack) == 0:
					section = name
					c.sections = append(c.sections, name)
				case len(stack) == 1 && stack[0] == '{':
					c.plugins[section] = append(c.plugins[section], name)
				}
			}
			stack = append(stack, ch)
			words = nil
		case ch == '}' || ch == ']' || ch == ')':
			if len(stack) == 0 || stack[len(stack)-1] != pair[ch] {
				return c, fmt.Errorf("line %d: %c does not close what is open (%q)", line, ch, stack)
			}
			stack = stack[:len(stack)-1]
			words = nil
		case ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			words = append(words, src[i:j])
			i = j - 1
		}
	}
	if len(stack) > 0 {
		return c, fmt.Errorf("unclosed %q at end of file", stack)
	}
	return c, nil
}

func mustParse(t *testing.T, src string) config {
	t.Helper()
	c, err := parseConfig(src)
	require.NoError(t, err)
	return c
}

func TestStructuralParserCatchesBrokenConfigs(t *testing.T) {
	for _, broken := range []string{
		"input { tcp { port => 1 }",
		`output { elasticsearch { hosts => ["a" } }`,
		`filter { if [a] =~ /x { } }`,
		`filter { mutate { add_field => { "a" => "b } } }`,
		`input { } }`,
	} {
		_, err := parseConfig(broken)
		assert.Error(t, err, broken)
	}
	c := mustParse(t, `input { tcp { port => 1 } } # } unbalanced in a comment
filter { if [m] =~ /^\{/ { mutate { add_field => { "a" => "}" } } } }`)
	assert.Equal(t, []string{"input", "filter"}, c.sections)
}
