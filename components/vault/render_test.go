package vault

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/container"

	"github.com/aurigraph/infra/components/network"
)

func TestRenderConfig(t *testing.T) {
	out, err := RenderConfig(Config())
	require.NoError(t, err)
	for _, want := range []string{
		`storage "file"`, `path = "/vault/file"`,
		`tls_cert_file   = "/vault/tls/vault.crt"`, `tls_key_file    = "/vault/tls/vault.key"`,
		`tls_disable     = false`, `address         = "0.0.0.0:8200"`,
		`api_addr     = "https://vault:8200"`, `cluster_addr = "https://vault:8201"`,
		`disable_mlock = false`, `ui            = true`,
		`unauthenticated_metrics_access = true`, `prometheus_retention_time = "24h"`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NotRegexp(t, `(?m)^[^#]*dev`, out, "no dev setting outside comments")
	again, _ := RenderConfig(Config())
	assert.Equal(t, out, again)
	_, err = RenderConfig(ConfigValues{})
	assert.Error(t, err, "no TLS, no config")
}

// testDB is the database as the stack wires it (stacks/wire_vault.go).
var testDB = Database{Host: "postgres", Port: 5432, Name: "aurigraph", User: "aurigraph_vault",
	ReadOnlyGroup: "aurigraph_readonly", ReadWriteGroup: "aurigraph_readwrite"}

func TestRenderPostInit(t *testing.T) {
	v := PostInit("/srv/aurigraph/vault/bin/post-init.sh", "prod", []string{"postgres", "redis"}, testDB)
	out, err := RenderPostInit(v)
	require.NoError(t, err)
	for _, want := range []string{
		"vault audit enable file file_path=/vault/logs/audit.log",
		"vault secrets enable -path=secret kv-v2",
		"vault secrets enable pki",
		"vault secrets enable database",
		"plugin_name=postgresql-database-plugin",
		// Vault's own templates pass through the Go template untouched.
		`connection_url="postgresql://{{username}}:{{password}}@postgres:5432/aurigraph?sslmode=disable"`,
		`CREATE ROLE \"{{name}}\"`,
		`password=-`,
		"vault secrets enable transit",
		"vault auth enable approle",
		`allowed_domains="postgres,redis"`,
		"docker exec -i -e VAULT_TOKEN -e VAULT_DB_PASSWORD vault sh -s < /srv/aurigraph/vault/bin/post-init.sh",
		// The engine logs in as its own role; its roles join the groups.
		`username="aurigraph_vault" password=-`,
		`IN ROLE aurigraph_readonly;`,
		`IN ROLE aurigraph_readwrite;`,
		`revocation_statements="DROP ROLE IF EXISTS \"{{name}}\";"`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "[[")
	assert.NotContains(t, out, "<no value>")
	// The audit device comes before any secrets engine.
	assert.Less(t, strings.Index(out, "vault audit enable"), strings.Index(out, "vault secrets enable"))
	assert.NotContains(t, out, "POSTGRES_PASSWORD", "the superuser's password is not Vault's business")
	_, err = RenderPostInit(PostInitValues{})
	assert.Error(t, err)
	bad := v
	bad.DBReadOnlyGroup = `x"; DROP ROLE y; --`
	_, err = RenderPostInit(bad)
	assert.Error(t, err)
}

func TestServerSpec(t *testing.T) {
	s := ServerSpec(Args{Zones: network.NamedZones("aurigraph-network"), ServiceDir: "/srv/aurigraph/vault",
		Resources: container.Resources{CPUs: 1, MemoryMB: 1024}})
	assert.Equal(t, []string{"server"}, s.Command, "server mode, never -dev")
	assert.Empty(t, s.Ports)
	assert.Equal(t, []string{"IPC_LOCK"}, s.CapAdd)
	assert.Equal(t, -1, s.Ulimits["memlock"])
	assert.Equal(t, "100:1000", s.User)
	assert.Contains(t, s.Mounts, container.Mount{HostPath: "/srv/aurigraph/vault/tls", Target: "/vault/tls", ReadOnly: true})
	assert.Contains(t, s.Mounts, container.Mount{HostPath: "/srv/aurigraph/vault/config", Target: "/vault/config", ReadOnly: true})
	assert.Contains(t, strings.Join(s.Health.Test, " "), "/v1/sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200")
	for _, e := range s.Env {
		assert.NotContains(t, e, "DEV")
	}
	for _, d := range Dirs("/srv/aurigraph/vault") {
		if strings.HasSuffix(d.Path, "/tls") || strings.HasSuffix(d.Path, "/data") {
			assert.Equal(t, 100, d.UID)
		}
	}
}

// Every https URL the component builds for its API (the address it
// advertises, VAULT_ADDR, the post-init script, the health check) names one
// of TLSHosts, the list its certificate is issued for. The cluster address
// is not among them: Vault serves its own certificates there.
func TestEveryURLItBuildsNamesATLSHost(t *testing.T) {
	s := ServerSpec(Args{ServiceDir: "/srv/aurigraph/vault"})
	texts := []string{URL(), Config().APIAddr, PostInit("/x", "prod", []string{"a"}, testDB).Addr, s.Env["VAULT_ADDR"]}
	texts = append(texts, s.Health.Test...)
	hosts := map[string]bool{}
	for _, text := range texts {
		for _, m := range regexp.MustCompile(`https://([^:/"'\s]+):(\d+)`).FindAllStringSubmatch(text, -1) {
			assert.Equal(t, strconv.Itoa(Port), m[2], text)
			hosts[m[1]] = true
		}
	}
	var used []string
	for h := range hosts {
		used = append(used, h)
	}
	assert.ElementsMatch(t, TLSHosts(), used)
}

// The post-init script runs for real with vault replaced by a recorder that
// answers every read as "absent": the PostgreSQL password reaches vault on
// stdin, never in any argv.
func TestPostInitKeepsThePasswordOffEveryCommandLine(t *testing.T) {
	const password = "pg-Secret-4b1f9c"
	out, err := RenderPostInit(PostInit("/srv/aurigraph/vault/bin/post-init.sh", "prod", []string{"postgres"}, testDB))
	require.NoError(t, err)
	bin, logs := t.TempDir(), t.TempDir()
	recorder := `#!/bin/sh
printf '%s\n' "$*" >> ` + logs + `/argv
case "$*" in
  *=-*) cat >> ` + logs + `/stdin ;;
  read*|"secrets list"|"auth list"|"audit list") exit 2 ;;
esac
exit 0
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "vault"), []byte(recorder), 0o755))
	cmd := exec.Command("sh", "-s")
	cmd.Stdin = strings.NewReader(out)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "VAULT_TOKEN=t", "VAULT_DB_PASSWORD="+password)
	run, err := cmd.CombinedOutput()
	require.NoError(t, err, string(run))
	argv, err := os.ReadFile(filepath.Join(logs, "argv"))
	require.NoError(t, err)
	assert.Contains(t, string(argv), "database/config/aurigraph", "the database engine was configured")
	assert.NotContains(t, string(argv), password, "no argv holds the password")
	stdin, err := os.ReadFile(filepath.Join(logs, "stdin"))
	require.NoError(t, err)
	assert.Equal(t, password, string(stdin))
}
