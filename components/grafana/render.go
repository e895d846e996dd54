package grafana

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/components/container"
)

// Secret files the provisioning files read ($__file{...}); the component
// writes them as the container's secret files.
const (
	ElasticPasswordFile = "elasticsearch-password" // the read-only reader user's
	RedisPasswordFile   = "redis-password"
	// AdminPasswordFile is read through GF_SECURITY_ADMIN_PASSWORD__FILE.
	AdminPasswordFile = "admin-password"
)

// DatasourceValues is everything the datasources file depends on.
type DatasourceValues struct {
	PrometheusURL     string
	ScrapeInterval    string
	ElasticsearchURL  string
	ElasticsearchUser string
	LogIndex          string // index pattern the log pipeline writes
	CAFile            string // CA of Elasticsearch's certificate, inside the container
	JaegerURL         string
	RedisURL          string
	RedisUser         string // the Redis ACL user Grafana logs in as (read-only)
}

// ProviderValues is the dashboards provider's values.
type ProviderValues struct {
	Path string // directory of the dashboard JSON files, inside the container
}

var (
	//go:embed datasources.yml.tmpl
	datasourcesTemplate string
	//go:embed dashboards.yml.tmpl
	providerTemplate string
	//go:embed dashboards/*.json
	dashboardFS embed.FS

	funcs           = template.FuncMap{"q": strconv.Quote}
	datasourcesTmpl = template.Must(template.New("datasources.yml").Funcs(funcs).Option("missingkey=error").Parse(datasourcesTemplate))
	providerTmpl    = template.Must(template.New("dashboards.yml").Funcs(funcs).Option("missingkey=error").Parse(providerTemplate))
)

// RenderDatasources renders the datasources provisioning file.
func RenderDatasources(v DatasourceValues) (string, error) {
	for name, val := range map[string]string{
		"Prometheus URL": v.PrometheusURL, "Elasticsearch URL": v.ElasticsearchURL,
		"Elasticsearch user": v.ElasticsearchUser, "log index": v.LogIndex, "CA file": v.CAFile,
		"Jaeger URL": v.JaegerURL, "Redis URL": v.RedisURL, "Redis user": v.RedisUser,
	} {
		if val == "" {
			return "", fmt.Errorf("grafana datasources: %s is required", name)
		}
	}
	// The superuser is the Elasticsearch setup's alone: a dashboard
	// reader holds a read-only user (elasticsearch.ReaderUser).
	if v.ElasticsearchUser == "elastic" {
		return "", fmt.Errorf("grafana datasources: Elasticsearch user elastic is the superuser, used by setup only: give Grafana a read-only user")
	}
	if v.ScrapeInterval == "" {
		v.ScrapeInterval = "15s"
	}
	// Grafana verifies Elasticsearch's certificate for the URL's host.
	es, err := url.Parse(v.ElasticsearchURL)
	if err != nil || es.Scheme != "https" || es.Hostname() == "" {
		return "", fmt.Errorf("grafana datasources: Elasticsearch URL %q must be https://host[:port]", v.ElasticsearchURL)
	}
	data := struct {
		DatasourceValues
		ElasticPasswordPath, RedisPasswordPath string
		ElasticsearchServerName                string
	}{v, container.SecretPath(ElasticPasswordFile), container.SecretPath(RedisPasswordFile), es.Hostname()}
	var b strings.Builder
	if err := datasourcesTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// RenderDashboardProvider renders the dashboards provider file.
func RenderDashboardProvider(v ProviderValues) (string, error) {
	if v.Path == "" {
		return "", fmt.Errorf("grafana dashboards provider: the path is required")
	}
	var b strings.Builder
	if err := providerTmpl.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Dashboard is one embedded dashboard file.
type Dashboard struct {
	File string // e.g. system-health.json
	JSON string
}

// Dashboards returns the embedded dashboards, sorted by file name.
func Dashboards() ([]Dashboard, error) {
	names, err := fs.Glob(dashboardFS, "dashboards/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Dashboard
	for _, n := range names {
		raw, err := dashboardFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("grafana dashboard %s is not valid JSON", n)
		}
		out = append(out, Dashboard{File: strings.TrimPrefix(n, "dashboards/"), JSON: string(raw)})
	}
	return out, nil
}
