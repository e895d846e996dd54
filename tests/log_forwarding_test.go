package tests

import (
	"crypto/tls"
	"crypto/x509"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/components/vault"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// rsyslogConf is the rsyslog file a host's logging step writes.
var rsyslogConf = regexp.MustCompile(`(?s)ensure_file /etc/rsyslog\.d/60-aurigraph\.conf 0644 0:0 "\$\(\n    cat <<'AURIGRAPH_EOF'\n(.*?)\nAURIGRAPH_EOF`)

// Every host forwards its logs over TLS with its own client certificate
// from the stack's CA: the three files arrive by a secret file step (never
// in plain text), after the preparation wrote rsyslog's config, and the
// config names exactly those files, the logging host and Logstash's
// certificate name. Logstash's own certificate holds that name and address.
func TestEveryHostForwardsLogsOverTLSWithItsOwnCertificate(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res, real := harness.RunRealTLS(t, harness.Stack(t, stack))
			caPEM := real.CertPEM("pki-ca")
			require.NotEmpty(t, caPEM)
			roots := x509.NewCertPool()
			require.True(t, roots.AppendCertsFromPEM([]byte(caPEM)))

			ls := harness.Containers(res)[logstash.Name]
			require.NotNil(t, ls.Inputs)
			ports := ls.Inputs["ports"].ArrayValue()
			require.Len(t, ports, 1)
			target := harness.Str(ports[0].ObjectValue(), "ip")
			require.NotEmpty(t, target)
			server := mustParseCert(t, leafCertPEM(res, real, stacks.Logstash))
			_, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: logstash.TLSName})
			assert.NoError(t, err, "Logstash's certificate holds the name the hosts check")
			assert.NoError(t, server.VerifyHostname(target), "and the address they connect to")

			hosts := res.OfType("aurigraph:host:Host")
			require.NotEmpty(t, hosts)
			for _, h := range hosts {
				step := res.Named("command:remote:Command", h.Name+"-log-forwarding-tls")
				require.NotNil(t, step, "%s gets its TLS material", h.Name)
				assert.True(t, step.Inputs["stdin"].IsSecret(), "%s: the key travels as a secret", h.Name)
				assert.Contains(t, step.Parent, "pulumi:pulumi:Stack::", "top-level, like the swarm joins: a targeted host preparation needs no PKI")
				files, err := configfile.SecretFiles(harness.Str(step.Inputs, "create"), mockrun.Unwrap(step.Inputs["stdin"]).StringValue())
				require.NoError(t, err)
				require.ElementsMatch(t, []string{host.LogCAPath, host.LogCertPath, host.LogKeyPath}, keys(files))
				assert.Equal(t, caPEM, files[host.LogCAPath])
				pair, err := tls.X509KeyPair([]byte(files[host.LogCertPath]), []byte(files[host.LogKeyPath]))
				require.NoError(t, err, "%s: the key is the certificate's", h.Name)
				client, err := x509.ParseCertificate(pair.Certificate[0])
				require.NoError(t, err)
				_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
				assert.NoError(t, err, "%s: a client certificate of the stack's CA", h.Name)
				assert.Equal(t, []string{h.Name}, client.DNSNames)
				assert.Empty(t, harness.PlaintextContaining(res, strings.TrimSpace(files[host.LogKeyPath])), "%s: the key is nowhere in plain text", h.Name)
				assert.Contains(t, harness.Str(step.Inputs, "create"), "systemctl try-restart rsyslog", "rsyslog reads new material")

				logging := res.Named("command:remote:Command", h.Name+"-prepare-logging")
				require.NotNil(t, logging)
				assert.Contains(t, harness.Closure(res, step.URN), logging.URN, "%s: the files arrive after rsyslog's config", h.Name)
				m := rsyslogConf.FindStringSubmatch(harness.Str(logging.Inputs, "stdin"))
				require.NotNil(t, m, "%s writes rsyslog's config", h.Name)
				conf := m[1]
				for _, want := range []string{
					`target="` + target + `"`, `StreamDriverPermittedPeers="` + logstash.TLSName + `"`,
					`StreamDriver.CAFile="` + host.LogCAPath + `"`, `StreamDriver.CertFile="` + host.LogCertPath + `"`, `StreamDriver.KeyFile="` + host.LogKeyPath + `"`,
					`StreamDriverMode="1"`, `template="AurigraphEvent"`, `File="` + host.ContainerLogGlob + `"`,
				} {
					assert.Contains(t, conf, want, h.Name)
				}
				assert.Contains(t, harness.Str(logging.Inputs, "stdin"), "ensure_packages rsyslog rsyslog-gnutls logrotate")
			}
		})
	}
}

// The service log files are forwarded from the hosts they are on: Vault's
// audit log (rotated by logrotate, which HUPs Vault) from Vault's host, the
// application's /app/logs from every host running replicas; the files'
// services route to the vault and app streams.
func TestServiceLogFilesAreForwardedFromTheirHosts(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			s := harness.Stack(t, stack)
			res := harness.Run(t, s)
			cs := harness.Containers(res)
			hostOf := func(name string) string {
				c, ok := cs[name]
				require.True(t, ok, name)
				return harness.Host(res, c)
			}
			vaultHost := hostOf("vault")
			appHosts := map[string]bool{}
			for _, c := range cs {
				if harness.Label(c, container.ServiceLabel) == app.Service {
					appHosts[harness.Host(res, c)] = true
				}
			}
			require.NotEmpty(t, appHosts)
			vaultFile := vault.LogFiles("/x")[0]
			appFile := app.LogFiles("/x")[0]
			assert.Equal(t, logstash.StreamVault, stacks.LogServices.StreamOf(vaultFile.Service))
			assert.Equal(t, logstash.StreamApp, stacks.LogServices.StreamOf(appFile.Service))
			seen := 0
			for _, h := range res.OfType("aurigraph:host:Host") {
				logging := res.Named("command:remote:Command", h.Name+"-prepare-logging")
				require.NotNil(t, logging)
				script := harness.Str(logging.Inputs, "stdin")
				addr := harness.Host(res, *logging)
				hasVault := strings.Contains(script, `/vault/logs/audit.log" Tag="vault"`)
				hasApp := strings.Contains(script, `/aurigraph-v11/*/logs/*.log" Tag="aurigraph-v11"`)
				assert.Equal(t, addr == vaultHost, hasVault, "%s: Vault's audit log is forwarded where Vault runs", h.Name)
				assert.Equal(t, appHosts[addr], hasApp, "%s: /app/logs is forwarded where replicas run", h.Name)
				assert.Equal(t, addr == vaultHost, strings.Contains(script, "docker kill --signal=HUP vault"), "%s: logrotate reopens Vault's audit log", h.Name)
				if hasVault || hasApp {
					seen++
				}
			}
			assert.Positive(t, seen)
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
