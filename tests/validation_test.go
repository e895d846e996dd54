package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/tests/harness"
)

// prodHostsJSON is prod's inventory as the program receives it.
func prodHostsJSON(t *testing.T) string {
	return harness.Stack(t, "prod").Config["aurigraph:hosts"]
}

func TestInvalidConfigsAreRefusedWithKeyAndFix(t *testing.T) {
	prod := harness.Stack(t, "prod")
	hosts := prodHostsJSON(t)
	cases := []struct {
		name   string
		change func(*stackfile.Stack) *stackfile.Stack
		want   []string
	}{
		{"bad address", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"address":"203.0.113.10"`, `"address":"203.0.113.300"`))
		}, []string{`aurigraph:hosts[0].address "203.0.113.300" is not an IP address; set it to the host's IPv4 or IPv6 address`}},
		{"duplicate host", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"name":"prod-app-02"`, `"name":"prod-app-01"`))
		}, []string{`aurigraph:hosts[4].name "prod-app-01" duplicates hosts[3]; give every host a unique name`}},
		{"duplicate address and port", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"address":"198.51.100.42"`, `"address":"198.51.100.41"`))
		}, []string{`aurigraph:hosts[4].address 198.51.100.41:22 duplicates hosts[3]; give every host its own address or SSH port`}},
		{"replica count below one", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":0},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`)
		}, []string{`aurigraph:tiers.validator.replicas is 0; run at least 1 replica`}},
		{"unknown tier", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":5},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5},"archive":{"replicas":2}}`)
		}, []string{`aurigraph:tiers has unknown field "archive"; use only the tiers validator, business and slim`}},
		{"groups do not add up", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":5},"business":{"replicas":15,"groups":[8,8]},"slim":{"replicas":5}}`)
		}, []string{`aurigraph:tiers.business.groups sum to 16, replicas is 15; make the groups add up to the replica count`}},
		{"service placed on no host", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"roles":["manager","monitoring","logging"]`, `"roles":["manager","monitoring"]`))
		}, []string{
			`aurigraph:hosts places elasticsearch on no host; give a host the logging role or set placement.elasticsearch`,
			`aurigraph:hosts places kibana on no host`, `aurigraph:hosts places logstash on no host`,
		}},
		{"memory reservation above limit", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("resources", `{"redis":{"cpus":2,"cpusReservation":1,"memoryMb":4096,"memoryReservationMb":8192}}`)
		}, []string{`aurigraph:resources.redis.memoryReservationMb 8192 is above the limit 4096; lower the reservation or raise memoryMb`}},
		{"database too small for the application", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("postgres", `{"maxConnections":1000}`)
		}, []string{`aurigraph:postgres.maxConnections 1000 is below the 1520 connections the application can open`, `raise it to at least 1520`}},
		{"bad SSH source", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", `{"allowFrom":["198.51.100.0/33"]}`)
		}, []string{`aurigraph:ssh.allowFrom[0] "198.51.100.0/33" is neither an address nor a CIDR`}},
		{"missing required secret", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Delete("postgresPassword")
		}, []string{"aurigraph:postgresPassword required secret is not set; run `pulumi config set --secret postgresPassword <value>`"}},
		{"default password", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("grafanaAdminPassword", "admin")
		}, []string{`aurigraph:grafanaAdminPassword is a weak or default credential`}},
		{"secret in plain text", func(s *stackfile.Stack) *stackfile.Stack {
			c := s.Set("redisPassword", "a-long-enough-redis-password")
			c.SecretKeys = without(c.SecretKeys, "aurigraph:redisPassword")
			return c
		}, []string{"aurigraph:redisPassword is stored in plain text; set it with `pulumi config set --secret redisPassword <value>`"}},
		{"latest image", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("release", `{"blue":{"image":"aurigraph/v11:latest","weight":100},"green":{"image":"","weight":0}}`)
		}, []string{`aurigraph:release.blue.image "aurigraph/v11:latest" is not pinned; pin it to a version tag or a digest, never latest`}},
		{"weights not summing to 100", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("release", `{"blue":{"image":"aurigraph/v11:11.4.2","weight":90},"green":{"image":"aurigraph/v11:11.5.0","weight":5}}`)
		}, []string{`aurigraph:release weights sum to 95; make blue.weight + green.weight = 100`}},
		{"empty slot with weight", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("release", `{"blue":{"image":"aurigraph/v11:11.4.2","weight":95},"green":{"image":"","weight":5}}`)
		}, []string{`aurigraph:release.green.weight is 5 but the slot has no image; set the slot's image or give it weight 0`}},
		{"no edge host", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"roles":["manager","edge"]`, `"roles":["manager"]`))
		}, []string{`aurigraph:hosts has 0 hosts with role edge; give exactly one host the edge role`}},
		{"bad host key", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+"`, `"hostKey":"TOFU"`))
		}, []string{`aurigraph:hosts[0].hostKey is not an SSH public key`}},
		{"unknown image key and missing image", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `"redis":`, `"rediss":`))
		}, []string{`aurigraph:images.redis is not set`, `aurigraph:images.rediss is not an image key`}},
		{"redis exporter image without a shell", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `redis_exporter:v1.66.0-alpine"`, `redis_exporter:v1.66.0"`))
		}, []string{`aurigraph:images.redisExporter "oliver006/redis_exporter:v1.66.0" is not the exporter's -alpine variant: its health check needs a shell and wget; use the same version's -alpine tag`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := harness.RunErr(tc.change(prod))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	s := harness.Stack(t, "prod").
		Delete("postgresPassword").
		Set("release", `{"blue":{"image":"aurigraph/v11","weight":100},"green":{"image":"","weight":0}}`).
		Set("tiers", `{"validator":{"replicas":0},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`)
	res, err := runRecording(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has 3 configuration problem(s)")
	assert.Contains(t, err.Error(), "aurigraph:postgresPassword")
	assert.Contains(t, err.Error(), "aurigraph:release.blue.image")
	assert.Contains(t, err.Error(), "aurigraph:tiers.validator.replicas")
	assert.Empty(t, res.Resources, "validation runs before any resource is created")
}

func TestCommittedStacksAreValid(t *testing.T) {
	for _, name := range []string{"prod", "staging"} {
		require.NoError(t, harness.RunErr(harness.Stack(t, name)), name)
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "%s must occur exactly once", old)
	return strings.Replace(s, old, new, 1)
}

func without(list []string, v string) []string {
	var out []string
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
