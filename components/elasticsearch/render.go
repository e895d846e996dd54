package elasticsearch

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"text/template"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/internal/shell"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"shq": shell.Quote,
	// Every snapshot run's outcome, for the backup alerts (components/backupjob).
	"recordRun": func() string { return backupjob.RecordRun },
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
	// create documents in its own log data streams, nothing else.
	WriterRole = "aurigraph_logstash_writer"
	WriterUser = "logstash_writer"
	// ReaderRole and ReaderUser are Grafana's identity for its logs data
	// source: search and read the mappings of the log indices, nothing else.
	ReaderRole = "aurigraph_logs_reader"
	ReaderUser = "grafana_reader"
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
	// WriterIndices are the data streams Logstash writes (one per stream),
	// each under IndexPattern: the writer role names exactly these.
	WriterIndices []string
	ReaderRole    string
	ReaderUser    string
}

// DefaultLogs are the platform's log settings for a retention in days and
// the data streams Logstash writes.
func DefaultLogs(retentionDays int, writerIndices []string) LogsValues {
	return LogsValues{
		RetentionDays: retentionDays, PolicyName: PolicyName, TemplateName: TemplateName,
		IndexPattern: IndexPattern, Priority: TemplatePriority, Replicas: 0,
		RolloverMaxAge: RolloverMaxAge, RolloverMaxPrimaryShardSize: RolloverMaxPrimaryShardSize,
		WriterRole: WriterRole, WriterUser: WriterUser, WriterIndices: writerIndices,
		ReaderRole: ReaderRole, ReaderUser: ReaderUser,
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]*$`)

func (v LogsValues) validate() error {
	if v.RetentionDays < 1 {
		return fmt.Errorf("retention must be at least 1 day, got %d", v.RetentionDays)
	}
	for what, name := range map[string]string{
		"policy": v.PolicyName, "template": v.TemplateName, "writer role": v.WriterRole, "writer user": v.WriterUser,
		"reader role": v.ReaderRole, "reader user": v.ReaderUser,
	} {
		if !nameRE.MatchString(name) {
			return fmt.Errorf("%s name %q must be lowercase letters, digits, '_', '.', '-'", what, name)
		}
	}
	if v.IndexPattern == "" || v.RolloverMaxAge == "" || v.RolloverMaxPrimaryShardSize == "" {
		return fmt.Errorf("index pattern and rollover conditions are required")
	}
	if len(v.WriterIndices) == 0 {
		return fmt.Errorf("the writer role needs the data streams Logstash writes")
	}
	for _, index := range v.WriterIndices {
		// Under the template, so retention applies; a name, not a pattern,
		// so Logstash cannot create data streams of its own choosing.
		if ok, err := path.Match(v.IndexPattern, index); err != nil || !ok || !nameRE.MatchString(index) {
			return fmt.Errorf("writer index %q must be a data stream name under %s", index, v.IndexPattern)
		}
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

// RenderWriterRole is the body of PUT _security/role/<WriterRole>: the
// publishing privileges Elastic documents for a shipper that does not set
// up templates or ILM itself (cluster monitor; create_doc and
// auto_configure), on Logstash's data streams only.
func RenderWriterRole(v LogsValues) (string, error) { return renderJSON("writer-role.json.tmpl", v) }

// RenderReaderRole is the body of PUT _security/role/<ReaderRole>: what
// Grafana's Elasticsearch data source needs (cluster monitor for the
// version; read and view_index_metadata on the log indices).
func RenderReaderRole(v LogsValues) (string, error) { return renderJSON("reader-role.json.tmpl", v) }

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
// reads the elastic, kibana_system, logstash_writer and grafana_reader
// passwords from stdin, one per line (see SetupStdin), and holds no secret
// itself.
func RenderSetupScript(v SetupValues) (string, error) {
	ilm, err := RenderILMPolicy(v.Logs)
	if err != nil {
		return "", err
	}
	tmpl, err := RenderIndexTemplate(v.Logs)
	if err != nil {
		return "", err
	}
	writer, err := RenderWriterRole(v.Logs)
	if err != nil {
		return "", err
	}
	reader, err := RenderReaderRole(v.Logs)
	if err != nil {
		return "", err
	}
	if v.Container == "" || v.CAPath == "" || v.URL == "" || v.WaitAttempts < 1 {
		return "", fmt.Errorf("setup script: container, CA path, URL and wait attempts are required")
	}
	return render("setup.sh.tmpl", struct {
		SetupValues
		ILMPolicy, IndexTemplate, WriterRole, ReaderRole string
	}{v, ilm, tmpl, writer, reader})
}

func render(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return buf.String(), nil
}
