package kibana

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// json quotes a value for YAML (a JSON string is a valid YAML scalar).
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
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
