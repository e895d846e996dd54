package kibana

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/internal/shell"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// json quotes a value for YAML (a JSON string is a valid YAML scalar).
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"quote": shell.Quote,
}).ParseFS(templateFS, "templates/*.tmpl"))

// ConfigValues are kibana.yml's values; secrets are environment names.
type ConfigValues struct {
	ServerName       string
	Port             int
	PublicBaseURL    string
	CertPath         string
	KeyPath          string
	ElasticsearchURL string
	Username         string
	CAPath           string
	// Environment variables holding the secrets.
	PasswordEnv        string
	SecurityKeyEnv     string
	SavedObjectsKeyEnv string
	ReportingKeyEnv    string
}

var envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// RenderConfig is kibana.yml.
func RenderConfig(v ConfigValues) (string, error) {
	for _, e := range []string{v.PasswordEnv, v.SecurityKeyEnv, v.SavedObjectsKeyEnv, v.ReportingKeyEnv} {
		if !envNameRE.MatchString(e) {
			return "", fmt.Errorf("kibana.yml: %q is not an environment variable name", e)
		}
	}
	if !strings.HasPrefix(v.PublicBaseURL, "https://") || strings.HasSuffix(v.PublicBaseURL, "/") {
		return "", fmt.Errorf("kibana.yml: public base URL %q must be https:// without a trailing slash", v.PublicBaseURL)
	}
	if !strings.HasPrefix(v.ElasticsearchURL, "https://") {
		return "", fmt.Errorf("kibana.yml: Elasticsearch URL %q must be https://", v.ElasticsearchURL)
	}
	if v.ServerName == "" || v.Port == 0 || v.CertPath == "" || v.KeyPath == "" || v.Username == "" || v.CAPath == "" {
		return "", fmt.Errorf("kibana.yml: every value is required")
	}
	return render("kibana.yml.tmpl", v)
}

// NodeOptionsValues size Node.js.
type NodeOptionsValues struct {
	HeapMB int
}

// RenderNodeOptions is node.options.
func RenderNodeOptions(v NodeOptionsValues) (string, error) {
	if v.HeapMB < 256 {
		return "", fmt.Errorf("node.options: heap %d MB is too small", v.HeapMB)
	}
	return render("node.options.tmpl", v)
}

func render(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return buf.String(), nil
}

// TimeField is the time field of every log event: the logs data streams
// require it (elasticsearch's index template maps it as a date).
const TimeField = "@timestamp"

// DataView is one Kibana data view over log indices.
type DataView struct {
	// ID is fixed, so every run writes the same saved object.
	ID    string
	Name  string
	Title string // the index pattern it searches
}

var dataViewIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// dataViewRequest is the body of Kibana 8's POST /api/data_views/data_view.
type dataViewRequest struct {
	DataView struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		Title         string `json:"title"`
		TimeFieldName string `json:"timeFieldName"`
	} `json:"data_view"`
	// Override replaces an existing view of the same id or title instead
	// of failing, which makes the request idempotent.
	Override bool `json:"override"`
}

// RenderDataView is the create-or-overwrite request body for v.
func RenderDataView(v DataView) (string, error) {
	if !dataViewIDRE.MatchString(v.ID) {
		return "", fmt.Errorf("data view id %q must be lowercase letters, digits, '_' or '-'", v.ID)
	}
	if v.Name == "" || v.Title == "" || strings.ContainsAny(v.Title, " ,\"\\/") {
		return "", fmt.Errorf("data view %s: a name and an index pattern without spaces, commas, quotes or slashes are required, got %q", v.ID, v.Title)
	}
	var req dataViewRequest
	req.DataView.ID, req.DataView.Name, req.DataView.Title, req.DataView.TimeFieldName = v.ID, v.Name, v.Title, TimeField
	req.Override = true
	b, err := json.Marshal(req)
	return string(b), err
}

// LogsDataViewID is the data view of every log index.
const LogsDataViewID = "aurigraph-logs"

// Stream is one of Logstash's streams and the index it is written to.
type Stream struct {
	Name  string
	Index string
}

// LogDataViews are the views of the logs: one over pattern, the index
// pattern every log index falls under, then one per stream.
func LogDataViews(pattern string, streams []Stream) []DataView {
	out := []DataView{{ID: LogsDataViewID, Name: "Aurigraph logs", Title: pattern}}
	for _, s := range streams {
		out = append(out, DataView{ID: LogsDataViewID + "-" + s.Name, Name: "Aurigraph logs: " + s.Name, Title: s.Index})
	}
	return out
}

// ViewerRole is the role of Kibana's end users: search the log indices in
// Discover and open dashboards and visualisations, nothing else. Kibana
// itself connects as kibana_system (its system indices only); the elastic
// superuser is for the setup steps alone. Give an operator's Kibana account
// this role (README: "Who reads the logs").
const ViewerRole = "aurigraph_logs_viewer"

// viewerFeatures are the Kibana features ViewerRole may read (Kibana 8
// feature ids; "read" is each feature's read-only privilege).
var viewerFeatures = []string{"dashboard", "discover", "visualize"}

// roleRequest is the body of Kibana 8's PUT /api/security/role/<name>: the
// Elasticsearch privileges and the Kibana feature privileges of one role.
type roleRequest struct {
	Metadata      map[string]string `json:"metadata"`
	Elasticsearch struct {
		Cluster []string      `json:"cluster"`
		Indices []roleIndices `json:"indices"`
	} `json:"elasticsearch"`
	Kibana []roleKibana `json:"kibana"`
}

type roleIndices struct {
	Names      []string `json:"names"`
	Privileges []string `json:"privileges"`
}

type roleKibana struct {
	Base    []string            `json:"base"`
	Feature map[string][]string `json:"feature"`
	Spaces  []string            `json:"spaces"`
}

// RenderViewerRole is the create-or-replace body of ViewerRole over the
// log index pattern: read and view_index_metadata (Discover reads the
// mappings), no cluster privilege, read-only features in every space.
func RenderViewerRole(pattern string) (string, error) {
	if pattern == "" || strings.ContainsAny(pattern, " ,\"\\/") {
		return "", fmt.Errorf("viewer role: an index pattern without spaces, commas, quotes or slashes is required, got %q", pattern)
	}
	var req roleRequest
	req.Metadata = map[string]string{"managed_by": "aurigraph-infra"}
	req.Elasticsearch.Cluster = []string{}
	req.Elasticsearch.Indices = []roleIndices{{Names: []string{pattern}, Privileges: []string{"read", "view_index_metadata"}}}
	features := map[string][]string{}
	for _, f := range viewerFeatures {
		features[f] = []string{"read"}
	}
	req.Kibana = []roleKibana{{Base: []string{}, Feature: features, Spaces: []string{"*"}}}
	b, err := json.Marshal(req)
	return string(b), err
}

// SetupValues configure the data view step.
type SetupValues struct {
	// Pattern is the log index pattern ViewerRole may read.
	Pattern   string
	Views     []DataView
	Container string // container to docker exec into
	CAPath    string // the CA certificate inside the container
	// Host and Port are Kibana's name on its certificate and its port; the
	// step resolves Host to 127.0.0.1 inside the container.
	Host string
	Port int
	// WaitAttempts status checks, WaitSeconds apart, before giving up.
	WaitAttempts int
	WaitSeconds  int
}

// RenderSetupScript is the data view step run on the Kibana host: the data
// views, then ViewerRole. It reads the elastic password from stdin (see
// SetupStdin) and holds no secret itself.
func RenderSetupScript(v SetupValues) (string, error) {
	if len(v.Views) == 0 {
		return "", fmt.Errorf("kibana setup: no data view to write")
	}
	if v.Container == "" || v.CAPath == "" || v.Host == "" || v.Port < 1 || v.WaitAttempts < 1 || v.WaitSeconds < 1 {
		return "", fmt.Errorf("kibana setup: container, CA path, host, port, wait attempts and interval are required")
	}
	type view struct {
		DataView
		Body string
	}
	var views []view
	summary := "kibana data views applied:"
	seen := map[string]bool{}
	for _, dv := range v.Views {
		body, err := RenderDataView(dv)
		if err != nil {
			return "", fmt.Errorf("kibana setup: %w", err)
		}
		if seen[dv.ID] || seen[dv.Title] {
			return "", fmt.Errorf("kibana setup: data view %s or its title %s is given twice", dv.ID, dv.Title)
		}
		seen[dv.ID], seen[dv.Title] = true, true
		views = append(views, view{dv, body})
		summary += " " + dv.ID + "=" + dv.Title
	}
	role, err := RenderViewerRole(v.Pattern)
	if err != nil {
		return "", fmt.Errorf("kibana setup: %w", err)
	}
	summary += "; role " + ViewerRole + " reads " + v.Pattern
	return render("setup.sh.tmpl", struct {
		SetupValues
		URL        string
		Resolve    string
		Views      []view
		ViewerRole string
		RoleBody   string
		Summary    string
	}{v, fmt.Sprintf("https://%s:%d", v.Host, v.Port), fmt.Sprintf("%s:%d:127.0.0.1", v.Host, v.Port), views, ViewerRole, role, summary})
}
