package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/tests/harness"
)

const (
	hostsRemoteCommand = "command:remote:Command"
	hostsDockerProv    = "pulumi:providers:docker"
	hostsContainer     = "docker:index/container:Container"
)

func hostsRun(t *testing.T, stack string) (*stackfile.Stack, *mockrun.Result) {
	t.Helper()
	s := harness.Stack(t, stack)
	return s, harness.Run(t, s)
}

func hostsNamed(t *testing.T, res *mockrun.Result, typ, name string) *mockrun.Resource {
	t.Helper()
	r := res.Named(typ, name)
	require.NotNil(t, r, "%s %s", typ, name)
	return r
}

func hostsText(v resource.PropertyValue) string {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Every host goes preflight → each preparation step → swarm join →
// containers, so nothing lands on an unprepared or refused host.
func TestHostsOrderPreflightPrepareJoinProviderContainers(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			cfgFile, res := hostsRun(t, stack)
			var hosts []map[string]any
			require.NoError(t, hostsJSON(cfgFile.Config["aurigraph:hosts"], &hosts))
			require.NotEmpty(t, hosts)
			containersSeen := 0
			for i, hc := range hosts {
				name := hc["name"].(string)
				pre := hostsNamed(t, res, hostsRemoteCommand, name+"-preflight")
				prev := pre
				for _, step := range host.Steps {
					s := hostsNamed(t, res, hostsRemoteCommand, name+"-prepare-"+step.Name)
					assert.Contains(t, s.DependsOn, prev.URN, "%s runs after %s", s.Name, prev.Name)
					prev = s
				}
				last := prev
				joinName := "swarm-join-" + name
				if i == 0 {
					joinName = "swarm-init-" + name
				}
				join := hostsNamed(t, res, hostsRemoteCommand, joinName)
				assert.True(t, harness.Closure(res, join.URN)[last.URN], "%s after %s's preparation", joinName, name)
				// The provider needs nothing (targeted runs, see targets_test.go):
				// the containers wait, through their images.
				prov := hostsNamed(t, res, hostsDockerProv, name+"-docker")
				assert.Empty(t, prov.DependsOn, "%s's Docker provider", name)
				for _, c := range res.OfType(hostsContainer) {
					if c.Provider == prov.URN {
						containersSeen++
						assert.True(t, harness.Closure(res, c.URN)[join.URN], "%s after %s's join", c.Name, name)
						assert.True(t, harness.Closure(res, c.URN)[last.URN], "%s after %s's preparation", c.Name, name)
						assert.True(t, harness.Closure(res, c.URN)[pre.URN], "%s after %s's preflight", c.Name, name)
					}
				}
			}
			assert.Len(t, res.OfType(hostsDockerProv), len(hosts))
			for _, c := range res.OfType(hostsContainer) {
				p := res.ByURN(c.Provider)
				require.NotNil(t, p, "container %s uses an explicit host provider", c.Name)
				assert.Equal(t, hostsDockerProv, p.Type)
			}
			assert.Equal(t, len(res.OfType(hostsContainer)), containersSeen)
		})
	}
}

func TestHostsConnectionsArePinnedAndKeysSecret(t *testing.T) {
	cfgFile, res := hostsRun(t, "prod")
	var hosts []map[string]any
	require.NoError(t, hostsJSON(cfgFile.Config["aurigraph:hosts"], &hosts))
	for _, hc := range hosts {
		name, key := hc["name"].(string), hc["hostKey"].(string)
		pre := hostsNamed(t, res, hostsRemoteCommand, name+"-preflight")
		conn := pre.Inputs["connection"]
		assert.True(t, conn.ContainsSecrets(), "the connection carries the private key as a secret")
		for conn.IsSecret() {
			conn = conn.SecretValue().Element
		}
		require.True(t, conn.IsObject())
		assert.Equal(t, key, hostsText(conn.ObjectValue()["hostKey"]))
		assert.True(t, conn.ObjectValue()["privateKey"].ContainsSecrets() || pre.Inputs["connection"].IsSecret())
		assert.True(t, conn.ObjectValue()["proxy"].IsObject(), "prod goes through its jump host")

		prov := hostsNamed(t, res, hostsDockerProv, name+"-docker")
		var opts []string
		for _, o := range prov.Inputs["sshOpts"].ArrayValue() {
			opts = append(opts, hostsText(o))
		}
		joined := strings.Join(opts, " ")
		assert.Contains(t, joined, "StrictHostKeyChecking=yes")
		assert.Contains(t, joined, "UserKnownHostsFile=/dev/null")
		assert.Contains(t, joined, "KnownHostsCommand=/bin/echo \""+hc["address"].(string)+" ", "pins the configured key")
		assert.Contains(t, joined, key+"\"", "pins the configured key")
		assert.Contains(t, joined, "IdentityAgent=SSH_AUTH_SOCK", "the key comes from the ssh-agent")
		assert.Contains(t, joined, "IdentityFile=none")
	}
}

func TestHostsFirewallAndSysctlsFollowPlacement(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			cfgFile, res := hostsRun(t, stack)
			var hosts []map[string]any
			require.NoError(t, hostsJSON(cfgFile.Config["aurigraph:hosts"], &hosts))
			edges, es := 0, 0
			for _, hc := range hosts {
				name := hc["name"].(string)
				roles := hc["roles"].([]any)
				isEdge, isLogging := false, false
				for _, r := range roles {
					isEdge = isEdge || r == "edge"
					isLogging = isLogging || r == "logging"
				}
				fw := hostsText(hostsNamed(t, res, hostsRemoteCommand, name+"-prepare-firewall").Inputs["stdin"])
				if strings.Contains(fw, "tcp dport { 80, 443 } accept") {
					edges++
					assert.True(t, isEdge, "%s opens 80/443 without the edge role", name)
				}
				sc := hostsText(hostsNamed(t, res, hostsRemoteCommand, name+"-prepare-sysctl").Inputs["stdin"])
				if strings.Contains(sc, "vm.max_map_count = 262144") {
					es++
					assert.True(t, isLogging, "%s gets Elasticsearch's setting without running it", name)
				}
			}
			assert.Equal(t, 1, edges, "exactly one host opens 80/443")
			assert.Equal(t, 1, es, "exactly one host gets vm.max_map_count")
		})
	}
}

func hostsJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// Behind prod's jump host, every host's sshd accepts only the jump host and
// the cluster peers; staging (no jump host) accepts its ssh.allowFrom ranges
// and the peers, never every source.
func TestHostsSSHIsLimitedToTheJumpHost(t *testing.T) {
	_, prod := hostsRun(t, "prod")
	fw := hostsText(hostsNamed(t, prod, hostsRemoteCommand, "prod-app-03-prepare-firewall").Inputs["stdin"])
	assert.Contains(t, fw, "203.0.113.5", "the jump host may reach sshd")
	assert.Contains(t, fw, "ip saddr @ssh_from_v4 tcp dport 22 accept")
	assert.NotContains(t, fw, "\t\ttcp dport 22 accept", "sshd is not open to every source")
	_, staging := hostsRun(t, "staging")
	fw = hostsText(hostsNamed(t, staging, hostsRemoteCommand, "stg-02-prepare-firewall").Inputs["stdin"])
	assert.Contains(t, fw, "elements = { 198.51.100.0/28 }", "the operators' range may reach sshd")
	assert.Contains(t, fw, "ip saddr @ssh_from_v4 tcp dport 22 accept")
	assert.NotContains(t, fw, "\t\ttcp dport 22 accept", "sshd is not open to every source")
}
