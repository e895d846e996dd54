package tests

import (
	"crypto/x509"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/components/vault"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// httpsPort is the port of an https URL without one: the gateway's public
// listener.
const httpsPort = 443

// tlsServerByPort says which certificate of the stack's CA answers on a
// port. The mapping is by port on purpose: a client reaches the service
// listening there whatever host name it uses, and that name is exactly what
// the service's certificate must hold.
var tlsServerByPort = map[int]string{
	httpsPort:              stacks.EdgeCert,
	elasticsearch.HTTPPort: stacks.Elasticsearch,
	kibana.Port:            stacks.Kibana,
	vault.Port:             stacks.Vault,
}

// notStackCA are TLS endpoints the program reaches whose certificates do
// not come from the stack's CA ("" host: any host on that port).
var notStackCA = []struct {
	host string
	port int
	why  string
}{
	{"download.docker.com", httpsPort, "Docker's public apt repository (host preparation)"},
	{"github.com", httpsPort, "runbook links in alert annotations (docs/runbooks): followed by people, never by the program"},
	{"", vault.ClusterPort, "Vault's cluster listener serves certificates Vault generates itself"},
}

// tlsClient is one generated setting that makes a client verify a TLS
// server: the name it verifies and the port it connects to.
type tlsClient struct {
	Where   string // resource type and name
	Setting string // what in the resource says so
	Host    string // the name (or IP) the client verifies
	Port    int
}

func (c tlsClient) String() string {
	return fmt.Sprintf("%s (%s) → %s", c.Where, c.Setting, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
}

var (
	httpsURL = regexp.MustCompile(`https://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d+))?`)
	// nginx's innermost blocks (location { … }) hold an upstream and its TLS name.
	nginxBlock    = regexp.MustCompile(`(?s)\{([^{}]*)\}`)
	nginxProxySSL = regexp.MustCompile(`proxy_ssl_name\s+([^;\s]+)\s*;`)
)

// parseHTTPS returns the host and port of an httpsURL match.
func parseHTTPS(m []string) (string, int) {
	host := strings.Trim(m[1], "[]")
	if m[2] == "" {
		return host, httpsPort
	}
	port, _ := strconv.Atoi(m[2])
	return host, port
}

// prometheusConfig and grafanaDatasources are the parts of those files that
// set up TLS clients.
type prometheusConfig struct {
	ScrapeConfigs []struct {
		JobName   string `yaml:"job_name"`
		Scheme    string `yaml:"scheme"`
		TLSConfig struct {
			ServerName string `yaml:"server_name"`
		} `yaml:"tls_config"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type grafanaDatasources struct {
	Datasources []struct {
		Name     string         `yaml:"name"`
		URL      string         `yaml:"url"`
		JSONData map[string]any `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// tlsClientsIn finds every TLS client setting in one text: https URLs, and
// the settings that make a client verify another name than the URL's host
// (nginx proxy_ssl_name, Prometheus tls_config.server_name, Grafana's
// jsonData.serverName), with the port they connect to.
func tlsClientsIn(where, text string) []tlsClient {
	var out []tlsClient
	for _, m := range httpsURL.FindAllStringSubmatch(text, -1) {
		host, port := parseHTTPS(m)
		out = append(out, tlsClient{Where: where, Setting: "https URL", Host: host, Port: port})
	}
	for _, b := range nginxBlock.FindAllStringSubmatch(text, -1) {
		name := nginxProxySSL.FindStringSubmatch(b[1])
		if name == nil {
			continue
		}
		u := httpsURL.FindStringSubmatch(b[1])
		if u == nil {
			out = append(out, tlsClient{Where: where, Setting: "proxy_ssl_name without an https upstream", Host: name[1]})
			continue
		}
		_, port := parseHTTPS(u)
		out = append(out, tlsClient{Where: where, Setting: "nginx proxy_ssl_name", Host: name[1], Port: port})
	}
	if strings.Contains(text, "scrape_configs:") {
		var p prometheusConfig
		if yaml.Unmarshal([]byte(text), &p) == nil {
			for _, job := range p.ScrapeConfigs {
				if job.Scheme != "https" {
					continue
				}
				for _, sc := range job.StaticConfigs {
					for _, target := range sc.Targets {
						host, portStr, err := net.SplitHostPort(target)
						port, _ := strconv.Atoi(portStr)
						if err != nil {
							host, port = target, httpsPort
						}
						setting := "prometheus job " + job.JobName + " target"
						if job.TLSConfig.ServerName != "" {
							host, setting = job.TLSConfig.ServerName, "prometheus job "+job.JobName+" tls_config.server_name"
						}
						out = append(out, tlsClient{Where: where, Setting: setting, Host: host, Port: port})
					}
				}
			}
		}
	}
	if strings.Contains(text, "datasources:") {
		var g grafanaDatasources
		if yaml.Unmarshal([]byte(text), &g) == nil {
			for _, ds := range g.Datasources {
				m := httpsURL.FindStringSubmatch(ds.URL)
				name, _ := ds.JSONData["serverName"].(string)
				if m == nil || name == "" {
					continue
				}
				_, port := parseHTTPS(m)
				out = append(out, tlsClient{Where: where, Setting: "grafana datasource " + ds.Name + " serverName", Host: name, Port: port})
			}
		}
	}
	return out
}

// tlsClients walks every plain input of every recorded resource (container
// health checks, environments and commands, setup scripts, uploaded config
// files) and returns each distinct TLS client setting, sorted.
func tlsClients(res *mockrun.Result) []tlsClient {
	seen := map[tlsClient]bool{}
	var out []tlsClient
	for _, r := range res.Resources {
		where := r.Type + " " + r.Name
		for _, s := range harness.PlainStrings(resource.NewObjectProperty(r.Inputs)) {
			for _, c := range tlsClientsIn(where, s) {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// tlsCheck is a client paired with the certificate of the server it reaches.
type tlsCheck struct {
	Client  tlsClient
	Server  string // PKI server name
	CertPEM string
	Cert    *x509.Certificate
}

// leafCertPEM is the leaf the PKI issued for server, at any rotation.
func leafCertPEM(res *mockrun.Result, real *mockrun.RealTLS, server string) string {
	for _, r := range res.OfType(mockrun.LocallySignedCertType) {
		if strings.HasPrefix(r.Name, "pki-"+server+"-cert-r") {
			return real.CertPEM(r.Name)
		}
	}
	return ""
}

// tlsChecks runs stack with real certificates and pairs every TLS client
// setting with the certificate of the service on its port. A client on an
// unknown port, or a service without a certificate, fails the test.
func tlsChecks(t *testing.T, stack string) (caPEM string, checks []tlsCheck) {
	res, real := harness.RunRealTLS(t, harness.Stack(t, stack))
	caPEM = real.CertPEM("pki-ca")
	require.NotEmpty(t, caPEM, "the stack's CA")
clients:
	for _, c := range tlsClients(res) {
		for _, n := range notStackCA {
			if (n.host == "" || n.host == c.Host) && n.port == c.Port {
				t.Logf("not the stack CA's (%s): %s", n.why, c)
				continue clients
			}
		}
		server, ok := tlsServerByPort[c.Port]
		if !assert.True(t, ok, "%s: no service of the stack serves TLS on port %d", c, c.Port) {
			continue
		}
		p := leafCertPEM(res, real, server)
		if !assert.NotEmpty(t, p, "%s: no certificate is issued for %s", c, server) {
			continue
		}
		checks = append(checks, tlsCheck{Client: c, Server: server, CertPEM: p, Cert: mustParseCert(t, p)})
	}
	requireCoverage(t, checks)
	t.Logf("%s: %d TLS client settings to check", stack, len(checks))
	for _, c := range checks {
		t.Logf("  %s [%s]", c.Client, c.Server)
	}
	return caPEM, checks
}

// requireCoverage keeps the walk from passing vacuously: it must have found
// the clients we know of, on every TLS service, in every kind of setting.
func requireCoverage(t *testing.T, checks []tlsCheck) {
	t.Helper()
	servers, settings := map[string]int{}, map[string]bool{}
	has := func(where string, port int) bool {
		for _, c := range checks {
			if c.Client.Where == where && c.Client.Port == port {
				return true
			}
		}
		return false
	}
	for _, c := range checks {
		servers[c.Server]++
		settings[strings.Fields(c.Client.Setting)[0]] = true
	}
	require.GreaterOrEqual(t, len(checks), 15, "TLS client settings found")
	for _, s := range []string{stacks.EdgeCert, stacks.Elasticsearch, stacks.Kibana, stacks.Vault} {
		require.NotZero(t, servers[s], "clients of %s", s)
	}
	for _, s := range []string{"https", "nginx", "prometheus", "grafana"} {
		require.True(t, settings[s], "a %s setting", s)
	}
	require.True(t, has(harness.ContainerType+" "+elasticsearch.Name, elasticsearch.HTTPPort), "the Elasticsearch health check")
	require.True(t, has("command:remote:Command "+stacks.Elasticsearch+"-setup", elasticsearch.HTTPPort), "the Elasticsearch setup step")
	require.True(t, has(harness.ContainerType+" "+vault.ContainerName, vault.Port), "Vault's health check and VAULT_ADDR")
	require.True(t, has(harness.ContainerType+" "+kibana.Name, kibana.Port), "Kibana's health check")
}

// Every name a generated URL, health check or client configuration uses to
// reach a TLS service is in that service's certificate, which the stack's
// CA signed: the client's verification succeeds.
func TestEveryTLSClientNameIsInTheServersCertificate(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			caPEM, checks := tlsChecks(t, stack)
			roots := x509.NewCertPool()
			roots.AddCert(mustParseCert(t, caPEM))
			for _, c := range checks {
				_, err := c.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: c.Client.Host})
				assert.NoError(t, err, "%s: the %s certificate (names %v, IPs %v) does not verify for %q",
					c.Client, c.Server, c.Cert.DNSNames, c.Cert.IPAddresses, c.Client.Host)
			}
		})
	}
}

func mustParseCert(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	c, err := mockrun.ParseCertPEM(s)
	require.NoError(t, err)
	return c
}
