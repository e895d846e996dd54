package logstash

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.tmpl"))

// PipelineValues are the pipeline's ports, service names and output.
type PipelineValues struct {
	SyslogPort int // JSON lines over TLS from every host's rsyslog
	JSONPort   int // json_lines from applications
	GELFPort   int // GELF over UDP
	// TLS of the hosts' input: Logstash's certificate and PKCS#8 key, and
	// the CA its clients' certificates must chain to (also the output's).
	ServerCertPath, ServerKeyPath string
	// Dataset values the hosts send (host.Dataset*).
	DatasetContainer, DatasetJournal string
	// Service names: the ones parsed specially, and the defaults.
	NginxService    string
	PostgresService string
	LogstashService string
	AppService      string // json_lines/GELF events that name no service
	SystemService   string // the hosts' journal events
	// Routes: service → stream, in order; DefaultStream for the others.
	Routes        []Route
	DefaultStream string
	// Output.
	ElasticsearchHosts []string
	CAPath             string
	WriterUser         string
	PasswordEnv        string // environment variable holding the writer's password
	IndexPrefix        string // + <stream>, e.g. logs-aurigraph-
	PolicyName         string // for the reader only: the index template applies it
}

var (
	envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	plainRE   = regexp.MustCompile(`^[A-Za-z0-9_.:/@-]+$`)
	streamRE  = regexp.MustCompile(`^[a-z0-9_-]+$`)
)

func (v PipelineValues) validate() error {
	if v.SyslogPort <= 0 || v.JSONPort <= 0 || v.GELFPort <= 0 {
		return fmt.Errorf("pipeline: every input port is required")
	}
	if !envNameRE.MatchString(v.PasswordEnv) {
		return fmt.Errorf("pipeline: password must be an environment variable name, got %q", v.PasswordEnv)
	}
	if len(v.ElasticsearchHosts) == 0 {
		return fmt.Errorf("pipeline: at least one Elasticsearch host is required")
	}
	// Values land inside double-quoted config strings and regex-free
	// comparisons: keep them to characters that need no escaping.
	plain := append([]string{v.NginxService, v.PostgresService, v.LogstashService,
		v.AppService, v.SystemService, v.CAPath, v.ServerCertPath, v.ServerKeyPath, v.DatasetContainer, v.DatasetJournal,
		v.WriterUser, v.IndexPrefix, v.PolicyName}, v.ElasticsearchHosts...)
	for _, r := range v.Routes {
		plain = append(plain, r.Service)
	}
	for _, s := range plain {
		if !plainRE.MatchString(s) {
			return fmt.Errorf("pipeline: %q is empty or has characters that would need quoting", s)
		}
	}
	if len(v.Routes) == 0 {
		return fmt.Errorf("pipeline: a routing table is required")
	}
	// Streams are index name parts: Elasticsearch wants them lowercase.
	for _, r := range append(v.Routes, Route{Service: "default", Stream: v.DefaultStream}) {
		if !streamRE.MatchString(r.Stream) {
			return fmt.Errorf("pipeline: stream %q of %s must be lowercase letters, digits, '_' or '-'", r.Stream, r.Service)
		}
	}
	return nil
}

// RenderPipeline is the Logstash pipeline: inputs, parsing, and the output
// to Elasticsearch. It holds no secret, only ${PasswordEnv}.
func RenderPipeline(v PipelineValues) (string, error) {
	if err := v.validate(); err != nil {
		return "", err
	}
	return render("pipeline.conf.tmpl", v)
}

// SettingsValues are logstash.yml's values.
type SettingsValues struct {
	NodeName       string
	DataPath       string
	ReloadInterval string
	QueueMaxBytes  string
	DLQMaxBytes    string
	APIHost        string
	APIPort        int
}

// RenderSettings is logstash.yml.
func RenderSettings(v SettingsValues) (string, error) {
	if v.NodeName == "" || v.DataPath == "" || v.APIHost == "" || v.APIPort == 0 ||
		v.ReloadInterval == "" || v.QueueMaxBytes == "" || v.DLQMaxBytes == "" {
		return "", fmt.Errorf("logstash.yml: every value is required")
	}
	return render("logstash.yml.tmpl", v)
}

func render(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return buf.String(), nil
}
