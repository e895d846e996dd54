package elasticsearch

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(templateFS, "templates/*.tmpl"))

// Names shared by Elasticsearch, Logstash and Kibana. Exported so the other
// components and the tests name the same things.
const (
	// IndexPrefix + <service> is each service's data stream.
	IndexPrefix  = "logs-aurigraph-"
	IndexPattern = IndexPrefix + "*"
	PolicyName   = "aurigraph-logs"
	TemplateName = "aurigraph-logs"
	// WriterRole and WriterUser are Logstash's least-privilege identity:
	// create documents in the log data streams, nothing else.
	WriterRole = "aurigraph_logstash_writer"
	WriterUser = "logstash_writer"
	// KibanaSystemUser is the built-in user Kibana connects as.
	KibanaSystemUser = "kibana_system"
	// TemplatePriority beats the built-in logs-*-* template (priority 100).
	TemplatePriority = 500
	// Rollover: a new backing index daily or at 50 GB per primary shard.
	RolloverMaxAge              = "1d"
	RolloverMaxPrimaryShardSize = "50gb"
)

// LogsValues are the log retention settings: the ILM policy, the index
// template of the logs data streams, and the writer role.
type LogsValues struct {
	RetentionDays               int
	PolicyName                  string
	TemplateName                string
	IndexPattern                string
	Priority                    int
	Replicas                    int // 0 on a single node, else the cluster stays yellow
	RolloverMaxAge              string
	RolloverMaxPrimaryShardSize string
	WriterRole                  string
	WriterUser                  string
}

// DefaultLogs are the platform's log settings for a retention in days.
func DefaultLogs(retentionDays int) LogsValues {
	return LogsValues{
		RetentionDays: retentionDays, PolicyName: PolicyName, TemplateName: TemplateName,
		IndexPattern: IndexPattern, Priority: TemplatePriority, Replicas: 0,
		RolloverMaxAge: RolloverMaxAge, RolloverMaxPrimaryShardSize: RolloverMaxPrimaryShardSize,
		WriterRole: WriterRole, WriterUser: WriterUser,
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]*$`)

func (v LogsValues) validate() error {
	if v.RetentionDays < 1 {
		return fmt.Errorf("retention must be at least 1 day, got %d", v.RetentionDays)
	}
	for what, name := range map[string]string{"policy": v.PolicyName, "template": v.TemplateName, "role": v.WriterRole, "user": v.WriterUser} {
		if !nameRE.MatchString(name) {
			return fmt.Errorf("%s name %q must be lowercase letters, digits, '_', '.', '-'", what, name)
		}
	}
	if v.IndexPattern == "" || v.RolloverMaxAge == "" || v.RolloverMaxPrimaryShardSize == "" {
		return fmt.Errorf("index pattern and rollover conditions are required")
	}
	return nil
}

// RenderILMPolicy is the body of PUT _ilm/policy/<name>: roll over daily or
// at the shard size, delete RetentionDays after rollover.
func RenderILMPolicy(v LogsValues) (string, error) { return renderJSON("ilm-policy.json.tmpl", v) }

// RenderIndexTemplate is the body of PUT _index_template/<name>: the logs
// data streams, their mappings and the ILM policy.
func RenderIndexTemplate(v LogsValues) (string, error) {
	return renderJSON("index-template.json.tmpl", v)
}

// RenderWriterRole is the body of PUT _security/role/<WriterRole>.
func RenderWriterRole(v LogsValues) (string, error) { return renderJSON("writer-role.json.tmpl", v) }

// renderJSON renders a JSON template and checks the result is valid JSON.
func renderJSON(name string, v LogsValues) (string, error) {
	if err := v.validate(); err != nil {
		return "", err
	}
	out, err := render(name, v)
	if err != nil {
		return "", err
	}
	if !json.Valid([]byte(out)) {
		return "", fmt.Errorf("%s: rendered invalid JSON", name)
	}
	return out, nil
}

// SetupValues configure the setup script.
type SetupValues struct {
	Logs         LogsValues
	Container    string // container to docker exec into
	CAPath       string // CA certificate inside the container
	URL          string // Elasticsearch as the container reaches itself (SelfURL)
	WaitAttempts int    // 5 s apart
}

// RenderSetupScript is the idempotent setup run on the Elasticsearch host. It
// reads the elastic, kibana_system and logstash_writer passwords from stdin,
// one per line (see SetupStdin), and holds no secret itself.
func RenderSetupScript(v SetupValues) (string, error) {
	ilm, err := RenderILMPolicy(v.Logs)
	if err != nil {
		return "", err
	}
	tmpl, err := RenderIndexTemplate(v.Logs)
	if err != nil {
		return "", err
	}
	role, err := RenderWriterRole(v.Logs)
	if err != nil {
		return "", err
	}
	if v.Container == "" || v.CAPath == "" || v.URL == "" || v.WaitAttempts < 1 {
		return "", fmt.Errorf("setup script: container, CA path, URL and wait attempts are required")
	}
	return render("setup.sh.tmpl", struct {
		SetupValues
		ILMPolicy, IndexTemplate, WriterRole string
	}{v, ilm, tmpl, role})
}

func render(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return buf.String(), nil
}
