package vault

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/vault.hcl.tmpl
var hclTemplate string

//go:embed templates/post-init.sh.tmpl
var postInitTemplate string

var (
	hclConf = template.Must(template.New("vault.hcl").Parse(hclTemplate))
	// The post-init script carries Vault's own {{name}} templates: its Go
	// template uses [[ ]] so those pass through untouched.
	postInit = template.Must(template.New("post-init.sh").Delims("[[", "]]").Parse(postInitTemplate))
)

// ConfigValues are the plain values vault.hcl is rendered from.
type ConfigValues struct {
	APIAddr             string
	ClusterAddr         string
	Port                int
	ClusterPort         int
	StoragePath         string
	TLSCertFile         string
	TLSKeyFile          string
	PrometheusRetention string
	LogLevel            string
}

// Config is the container's vault.hcl values.
func Config() ConfigValues {
	return ConfigValues{
		APIAddr:     URL(),
		ClusterAddr: fmt.Sprintf("https://%s:%d", ContainerName, ClusterPort),
		Port:        Port, ClusterPort: ClusterPort,
		StoragePath: dataMount,
		TLSCertFile: tlsMount + "/" + certFile, TLSKeyFile: tlsMount + "/" + keyFile,
		PrometheusRetention: "24h", LogLevel: "info",
	}
}

// RenderConfig renders vault.hcl.
func RenderConfig(v ConfigValues) (string, error) {
	if v.TLSCertFile == "" || v.TLSKeyFile == "" || v.StoragePath == "" || v.APIAddr == "" {
		return "", fmt.Errorf("vault.hcl: TLS files, storage path and api_addr are required (no dev mode, no plain HTTP)")
	}
	var b bytes.Buffer
	if err := hclConf.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// PostInitValues are the plain values of the post-initialisation script.
type PostInitValues struct {
	InstallPath   string // where the script is on the host
	Addr          string // VAULT_ADDR inside the container
	CACert        string // CA certificate inside the container
	AuditLog      string
	KVPath        string
	PKIMaxTTL     string
	PKICommonName string
	PKIRole       string
	PKIDomains    string // comma-separated
	PKIRoleTTL    string
	DBHost        string
	DBPort        int
	DBName        string
	DBUser        string
	// The PostgreSQL groups Vault's short-lived roles join.
	DBReadOnlyGroup  string
	DBReadWriteGroup string
	DBCredTTL        string
	DBCredMaxTTL     string
	TransitKey       string
	AppPolicy        string
	TokenTTL         string
	TokenMaxTTL      string
	SecretIDTTL      string
}

// Database is the PostgreSQL Vault's database engine connects to: where,
// as which role, and the groups its short-lived roles join.
type Database struct {
	Host                          string
	Port                          int
	Name, User                    string
	ReadOnlyGroup, ReadWriteGroup string
}

// groupRE: a group name goes unquoted into SQL inside a shell string.
var groupRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// PostInit is the script's values for a stack.
func PostInit(installPath, stack string, domains []string, db Database) PostInitValues {
	return PostInitValues{
		InstallPath: installPath,
		Addr:        URL(), CACert: tlsMount + "/" + caFile,
		AuditLog: logsMount + "/" + auditLogFile, KVPath: "secret",
		PKIMaxTTL: "87600h", PKICommonName: "Aurigraph " + stack + " Vault PKI", PKIRole: "aurigraph-internal",
		PKIDomains: strings.Join(domains, ","), PKIRoleTTL: "720h",
		DBHost: db.Host, DBPort: db.Port, DBName: db.Name, DBUser: db.User,
		DBReadOnlyGroup: db.ReadOnlyGroup, DBReadWriteGroup: db.ReadWriteGroup, DBCredTTL: "1h", DBCredMaxTTL: "24h",
		TransitKey: "aurigraph", AppPolicy: "aurigraph-app",
		TokenTTL: "1h", TokenMaxTTL: "24h", SecretIDTTL: "720h",
	}
}

// RenderPostInit renders the post-initialisation script.
func RenderPostInit(v PostInitValues) (string, error) {
	if v.DBName == "" || v.DBUser == "" || v.DBHost == "" || v.PKIDomains == "" || v.AuditLog == "" {
		return "", fmt.Errorf("vault post-init: database, PKI domains and audit log are required")
	}
	for _, g := range []string{v.DBReadOnlyGroup, v.DBReadWriteGroup} {
		if !groupRE.MatchString(g) {
			return "", fmt.Errorf("vault post-init: database group %q must be a plain lower-case name", g)
		}
	}
	var b bytes.Buffer
	if err := postInit.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}
