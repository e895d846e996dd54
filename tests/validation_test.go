package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// prodHostsJSON is prod's inventory as the program receives it.
func prodHostsJSON(t *testing.T) string {
	return harness.Stack(t, "prod").Config["aurigraph:hosts"]
}

func TestInvalidConfigsAreRefusedWithKeyAndFix(t *testing.T) {
	prod := harness.Stack(t, "prod")
	hosts := prodHostsJSON(t)
	prodSSH := prod.Config["aurigraph:ssh"]
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
		{"replicas beyond the app hosts' capacity", func(s *stackfile.Stack) *stackfile.Stack {
			// 12 replicas of 8 reserved cores on each of 5 app hosts of 64.
			return s.Set("tiers", `{"validator":{"replicas":40,"groups":[20,20]},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`).
				Set("postgres", `{"maxConnections":4000}`)
		}, []string{
			`aurigraph:tiers 60 replicas reserve 480 cores and 960 GB (8 cores, 16384 MB each), but the app hosts have room for 40: 320 cores and 1280 GB left after the services placed on them`,
			`prod-app-01 with 12 replicas reserves 96 of 64 cores, 192 of 256 GB`,
			`raise hosts[3].capacity, hosts[4].capacity, hosts[5].capacity, … (cpus, memoryGb), lower resources.aurigraph-v11.cpusReservation or memoryReservationMb, or lower tiers.*.replicas`,
		}},
		{"memory reservation above limit", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("resources", `{"redis":{"cpus":2,"cpusReservation":1,"memoryMb":4096,"memoryReservationMb":8192}}`)
		}, []string{`aurigraph:resources.redis.memoryReservationMb 8192 is above the limit 4096; lower the reservation or raise memoryMb`}},
		{"negative CPU reservation, named by its own key", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("resources", `{"redis":{"cpus":2,"cpusReservation":-1,"memoryMb":4096,"memoryReservationMb":2048}}`)
		}, []string{`aurigraph:resources.redis.cpusReservation -1 is negative; use 0-1024 cores, at most cpus`}},
		{"log store too small for its heap", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("resources", `{"elasticsearch":{"cpus":2,"cpusReservation":1,"memoryMb":3000,"memoryReservationMb":2048},"logstash":{"cpus":1,"cpusReservation":0.5,"memoryMb":1024,"memoryReservationMb":512}}`)
		}, []string{
			`aurigraph:resources.elasticsearch.memoryMb 3000 MB cannot hold elasticsearch's 2048 MB heap; raise it to at least 4096`,
			`aurigraph:resources.logstash.memoryMb 1024 MB cannot hold logstash's 1024 MB heap; raise it to at least 1025`,
		}},
		{"database too small for the pooler's server pool", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("postgres", `{"maxConnections":180}`)
		}, []string{"aurigraph:pooler.defaultPoolSize 150 + pooler.reservePoolSize 25 = 175 server connections do not fit postgres.maxConnections 180 minus the 20 reserved (3 superuser_reserved_connections, 2 postgres-exporter, 3 backup, restore and drill scripts, 5 Vault's database secrets engine, 7 operators' psql sessions and migrations); lower pooler.defaultPoolSize + pooler.reservePoolSize to at most 160, or raise postgres.maxConnections to at least 195 (PostgreSQL applies it on its next restart)"}},
		{"pooler too small for the application", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("pooler", `{"maxClientConn":1000,"defaultPoolSize":150,"reservePoolSize":25}`)
		}, []string{"aurigraph:pooler.maxClientConn 1000 is below the 1500 client connections the application can open (50 replicas of both slots x app.datasourceMaxSize 30); raise pooler.maxClientConn to at least 1500, or lower app.datasourceMaxSize or the tiers' replicas"}},
		{"pooler image without prepared statements", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], "edoburu/pgbouncer:v1.25.2-p0", "edoburu/pgbouncer:v1.20.1-p0"))
		}, []string{`aurigraph:images.pgbouncer "edoburu/pgbouncer:v1.20.1-p0" is not PgBouncer 1.21 or later`}},
		{"bad SSH source", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", `{"allowFrom":["198.51.100.0/33"]}`)
		}, []string{`aurigraph:ssh.allowFrom[0] "198.51.100.0/33" is neither an address nor a CIDR`}},
		{"database password initdb cannot read", func(s *stackfile.Stack) *stackfile.Stack {
			return s.SetSecret("postgresPassword", "first-line-of-it\nsecond-line-of-it")
		}, []string{"aurigraph:postgresPassword holds a line break or NUL, which initdb's password file cannot carry; choose a password on one line"}},
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
		}, []string{`aurigraph:hosts[0].hostKey is not one SSH public key line`}},
		{"unknown image key and missing image", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `"redis":`, `"rediss":`))
		}, []string{`aurigraph:images.redis is not set`, `aurigraph:images.rediss is not an image key`}},
		{"redis exporter image without a shell", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `redis_exporter:v1.66.0-alpine"`, `redis_exporter:v1.66.0"`))
		}, []string{`aurigraph:images.redisExporter "oliver006/redis_exporter:v1.66.0" is not the exporter's -alpine variant: its health check needs a shell and wget; use the same version's -alpine tag`}},
		// Hostile and out-of-range values (issue 12): every one is refused by
		// key with its fix before any resource exists.
		{"address with an IPv6 zone ID", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"address":"203.0.113.10"`, `"address":"fe80::1%eth0;touch /tmp/x"`))
		}, []string{`aurigraph:hosts[0].address "fe80::1%eth0;touch /tmp/x" is not an IP address; set it to the host's IPv4 or IPv6 address (a plain IPv4 or IPv6 literal, no zone)`}},
		{"private address with an IPv6 zone ID", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"privateAddress":"192.0.2.10"`, `"privateAddress":"fe80::1%eth0"`))
		}, []string{`aurigraph:hosts[0].privateAddress "fe80::1%eth0" is not an IP address; set it to the host's IPv4 or IPv6 address (a plain IPv4 or IPv6 literal, no zone)`}},
		{"loopback host address", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"address":"203.0.113.10"`, `"address":"127.0.0.1"`))
		}, []string{`aurigraph:hosts[0].address "127.0.0.1" is not a host's address; set it to the host's IPv4 or IPv6 address`}},
		{"SSH source with an IPv6 zone ID", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"allowFrom":["203.0.113.5"]`, `"allowFrom":["fe80::1%eth0"]`))
		}, []string{`aurigraph:ssh.allowFrom[0] "fe80::1%eth0" is neither an address nor a CIDR; use e.g. 198.51.100.7 or 198.51.100.0/24`}},
		{"no SSH sources", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"allowFrom":["203.0.113.5"],`, ``))
		}, []string{`aurigraph:ssh.allowFrom is not set; list the addresses or CIDRs the operator and CI connect from`}},
		{"jump host user with a command", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"user":"deploy"`, `"user":"deploy$(touch /tmp/pwned)"`))
		}, []string{`aurigraph:ssh.jumpHost.user "deploy$(touch /tmp/pwned)" is not a user name; use a POSIX user name: a lower-case letter or _, then up to 31 lower-case letters, digits, _ or -`}},
		{"jump host address that is an ssh option", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"address":"203.0.113.5"`, `"address":"-oProxyCommand=touch /tmp/pwned"`))
		}, []string{`aurigraph:ssh.jumpHost.address "-oProxyCommand=touch /tmp/pwned" is neither an IP address nor a host name; use the jump host's IPv4 or IPv6 address (no zone) or its DNS name`}},
		{"jump host address with a zone ID", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"address":"203.0.113.5"`, `"address":"fe80::5%eth0"`))
		}, []string{`aurigraph:ssh.jumpHost.address "fe80::5%eth0" is neither an IP address nor a host name`}},
		{"jump host port out of range", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"user":"deploy"`, `"user":"deploy","port":65536`))
		}, []string{`aurigraph:ssh.jumpHost.port 65536 is not a port; use 1-65535 (default 22)`}},
		{"multi-line jump host key", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `vyrCA"`, `vyrCA\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEa6VwRiOnpY86laDLZ3zW6DHd7PPzGxmeYTpw+vyrCA"`))
		}, []string{`aurigraph:ssh.jumpHost.hostKey is not one SSH public key line; pin the jump host's key; exactly one line "<type> <base64> [comment]"`}},
		{"multi-line host key", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `CBLh+"`, `CBLh+\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINAOPsMyeri7MBXHGdO181nyNhbL/m1TxMfqCqQXn4wa"`))
		}, []string{`aurigraph:hosts[0].hostKey is not one SSH public key line; pin the host key`}},
		{"host key with an authorized_keys option", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+"`, `"hostKey":"restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+"`))
		}, []string{`aurigraph:hosts[0].hostKey is not one SSH public key line`}},
		{"SSH user with shell syntax", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"name":"prod-edge-01","privateAddress":"192.0.2.10","roles":["manager","edge"],"sshUser":"deploy"`, `"name":"prod-edge-01","privateAddress":"192.0.2.10","roles":["manager","edge"],"sshUser":"root;id"`))
		}, []string{`aurigraph:hosts[0].sshUser "root;id" is not a user name; use a POSIX user name`}},
		{"SSH port out of range", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"address":"203.0.113.10"`, `"address":"203.0.113.10","sshPort":70000`))
		}, []string{`aurigraph:hosts[0].sshPort 70000 is not a port; use 1-65535 (default 22)`}},
		{"data path /tmp", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"/tmp","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "/tmp" is in the system directory /tmp; use an absolute, clean path of letters, digits, '.', '_' and '-' outside system directories, such as /srv/aurigraph`}},
		{"data path under /etc", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"/etc/aurigraph","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "/etc/aurigraph" is in the system directory /etc; use an absolute, clean path`}},
		{"data path root", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"/","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "/" is a top-level directory; use an absolute, clean path`}},
		{"data path climbing out with ..", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"/srv/aurigraph/../../etc","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "/srv/aurigraph/../../etc" is not a clean path; use an absolute, clean path`}},
		{"data path with shell syntax", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"/srv/$(reboot)","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "/srv/$(reboot)" is not a clean path; use an absolute, clean path`}},
		{"relative data path", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("preflight", `{"dataPath":"srv/aurigraph","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`)
		}, []string{`aurigraph:preflight.dataPath "srv/aurigraph" is not absolute; use an absolute, clean path`}},
		{"replica count that overflows", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":9223372036854775807},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`)
		}, []string{`aurigraph:tiers.validator.replicas is 9223372036854775807; run at most 500 replicas per tier`}},
		{"rolling group that overflows", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":5},"business":{"replicas":15,"groups":[9223372036854775807,-9223372036854775793]},"slim":{"replicas":5}}`)
		}, []string{`aurigraph:tiers.business.groups has a group of 9223372036854775807; every rolling group needs 1-500 replicas`}},
		{"public overlay subnet", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("network", `{"name":"aurigraph-network","subnet":"8.8.0.0/16"}`)
		}, []string{`aurigraph:network.subnet "8.8.0.0/16" is not a usable subnet; use a private IPv4 network of /8 to /24, e.g. 172.28.0.0/16`}},
		{"overlay subnet too small for the trust zones", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("network", `{"name":"aurigraph-network","subnet":"172.28.0.0/24"}`)
		}, []string{`aurigraph:network.subnet 172.28.0.0/24 gives each trust zone a /27 of 29 addresses, but the app zone needs`, `; use a larger network.subnet (a shorter prefix), e.g. 172.28.0.0/16`}},
		{"network name with shell syntax", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("network", `{"name":"net;reboot","subnet":"172.28.0.0/16"}`)
		}, []string{`aurigraph:network.name "net;reboot" is not a Docker network name; use letters, digits, '.', '_' and '-'`}},
		{"image reference with a command", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `"redis":"redis:7.4.1-alpine"`, `"redis":"redis:7.4.1$(id)"`))
		}, []string{`aurigraph:images.redis "redis:7.4.1$(id)" is not an image reference; use [registry/]repository:tag or …@sha256:<digest>, lower-case, no spaces`}},
		{"short image digest", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("images", replaceOnce(t, s.Config["aurigraph:images"], `"redis":"redis:7.4.1-alpine"`, `"redis":"redis:7.4.1-alpine@sha256:0123456789ab"`))
		}, []string{"aurigraph:images.redis has the digest \"sha256:0123456789ab\", not sha256: and 64 lower-case hex digits; run `make pin` to write the digest the registry serves; never type or shorten one"}},
		{"upper-case image digest", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("release", `{"blue":{"image":"aurigraph/v11:11.4.2@sha256:`+strings.Repeat("ABCDEF01", 8)+`","weight":100},"green":{"image":"","weight":0}}`)
		}, []string{"aurigraph:release.blue.image has the digest \"sha256:" + strings.Repeat("ABCDEF01", 7) + "A\"… (71 bytes), not sha256: and 64 lower-case hex digits; run `make pin`"}},
		{"sha512 image digest", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("tiers", `{"validator":{"replicas":5,"image":"aurigraph/v11:11.4.2@sha512:`+strings.Repeat("ab", 64)+`"},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`)
		}, []string{"aurigraph:tiers.validator.image has the digest \"sha512:"}},
		{"monitoring CIDR with a zone ID", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("edge", replaceOnce(t, s.Config["aurigraph:edge"], `"198.51.100.0/24"`, `"fe80::%eth0/64"`))
		}, []string{`aurigraph:edge.allowedMonitoringCidrs[0] "fe80::%eth0/64" is not a CIDR; use a network such as 198.51.100.0/24`}},
		{"unknown monitoring UI", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("edge", replaceOnce(t, s.Config["aurigraph:edge"], `"grafana":`, `"x;reboot":"x.example.com","grafana":`))
		}, []string{`aurigraph:edge.monitoringHostnames."x;reboot" is not a monitoring UI; use grafana, kibana, jaeger, prometheus`}},
		{"rate limit without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("edge", replaceOnce(t, s.Config["aurigraph:edge"], `"rateLimitPerSecond":500`, `"rateLimitPerSecond":2000000000`))
		}, []string{`aurigraph:edge.rateLimitPerSecond is 2000000000; use 1-1000000`}},
		{"retention without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("retention", `{"backups":{"daily":7,"hourly":1000000,"monthly":12,"weekly":4},"elasticsearchDays":30,"prometheusDays":100000}`)
		}, []string{`aurigraph:retention.prometheusDays is 100000; use 1-3650`, `aurigraph:retention.backups.hourly is 1000000; use 0-1000`}},
		{"database ceiling without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("postgres", `{"maxConnections":10000000}`)
		}, []string{`aurigraph:postgres.maxConnections is 10000000; use 1-100000`}},
		{"pool without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("app", `{"batchSize":100000,"datasourceMaxSize":9223372036854775807,"datasourceMinSize":10,"parallelThreads":256,"targetTps":2000000}`)
		}, []string{`aurigraph:app.datasourceMaxSize is 9223372036854775807; use 20-30`}},
		{"pool outside the SPEC's ranges", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("app", `{"batchSize":100000,"datasourceMaxSize":40,"datasourceMinSize":4,"parallelThreads":256,"targetTps":2000000}`)
		}, []string{`aurigraph:app.datasourceMaxSize is 40; use 20-30`, `aurigraph:app.datasourceMinSize is 4; use 5-10`}},
		{"SSH dial limits without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("ssh", sshJSON(t, prodSSH, `"dialErrorLimit":5`, `"dialErrorLimit":100000`))
		}, []string{`aurigraph:ssh.dialErrorLimit is 100000; use 1-100`}},
		{"logging host disk too small", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"capacity":{"cpus":32,"diskGb":2000,"memoryGb":128},"hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKuFFePdS`, `"capacity":{"cpus":32,"diskGb":20,"memoryGb":128},"hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKuFFePdS`))
		}, []string{`aurigraph:hosts[2].capacity.diskGb 20 GB is below the 30 GB Elasticsearch keeps logs in; raise it or place elasticsearch on a host with a larger disk`}},
		{"reboot time that is not a time of day", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("updates", `{"automaticReboot":true,"rebootTime":"3:30am"}`)
		}, []string{`aurigraph:updates.rebootTime "3:30am" is not a time of day; use HH:MM on 24 hours, e.g. 03:30`}},
		{"host capacity without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("hosts", replaceOnce(t, hosts, `"capacity":{"cpus":32,"diskGb":200,"memoryGb":64}`, `"capacity":{"cpus":100000,"diskGb":200,"memoryGb":64}`))
		}, []string{`aurigraph:hosts[0].capacity.cpus is 100000; use 1-1024`}},
		// Each time server lands in chrony.conf as one server directive.
		{"time server with a directive in it", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"servers":["ntp1.example.net\nallow all","ntp1.example.net iburst"]}`)
		}, []string{
			`aurigraph:time.servers[0] "ntp1.example.net\nallow all" is neither a DNS name nor a usable IP address; use a lower-case DNS name such as ntp1.example.net or a plain IPv4/IPv6 address`,
			`aurigraph:time.servers[1] "ntp1.example.net iburst" is neither a DNS name nor a usable IP address`,
		}},
		{"time server that is not an address", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"servers":["203.0.113.300","127.0.0.1","fe80::1%eth0"]}`)
		}, []string{`aurigraph:time.servers[0] "203.0.113.300" is neither`, `aurigraph:time.servers[1] "127.0.0.1" is neither`, `aurigraph:time.servers[2] "fe80::1%eth0" is neither`}},
		{"duplicate time server", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"servers":["192.0.2.123","192.0.2.123"]}`)
		}, []string{`aurigraph:time.servers[1] "192.0.2.123" duplicates time.servers[0]; list every server once`}},
		{"no time server", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"servers":[]}`)
		}, []string{`aurigraph:time.servers lists 0 servers; list 1-16 NTP servers the hosts reach on UDP port 123, or leave it out for Debian's pool`}},
		{"clock offset bound not positive", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"maxOffsetMs":-5}`)
		}, []string{`aurigraph:time.maxOffsetMs is -5; use 1-10000`}},
		{"clock offset bound without bound", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"maxOffsetMs":3600000}`)
		}, []string{`aurigraph:time.maxOffsetMs is 3600000; use 1-10000`}},
		{"prod without an alert receiver", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("alerting", `{}`)
		}, []string{`aurigraph:alerting has no receiver: prod alerts would reach no one; configure at least one of alerting.webhook, alerting.email, alerting.pagerduty or alerting.opsgenie`}},
		{"receivers without their secrets", func(s *stackfile.Stack) *stackfile.Stack {
			s = s.Set("alerting", `{"webhook":{},"pagerduty":{},"opsgenie":{},"email":{"to":["oncall@example.com"],"from":"am@example.com","smarthost":"smtp.example.com:587","username":"am"}}`)
			for _, k := range stacks.AlertingSecrets {
				s = s.Set(k, "")
			}
			return s
		}, []string{
			"aurigraph:alertWebhookUrl is not set, but alerting.webhook is configured and needs the URL it posts to; run `pulumi config set --secret alertWebhookUrl <value>`, or remove alerting.webhook",
			"aurigraph:smtpPassword is not set, but alerting.email is configured",
			"aurigraph:pagerdutyRoutingKey is not set, but alerting.pagerduty is configured",
			"aurigraph:opsgenieApiKey is not set, but alerting.opsgenie is configured",
		}},
		{"receiver secret in plain text", func(s *stackfile.Stack) *stackfile.Stack {
			s = s.Set("alerting", `{"pagerduty":{}}`).Set("pagerdutyRoutingKey", "plain-routing-key-0123")
			s.SecretKeys = without(s.SecretKeys, "aurigraph:pagerdutyRoutingKey")
			return s
		}, []string{"aurigraph:pagerdutyRoutingKey is stored in plain text; set it with `pulumi config set --secret pagerdutyRoutingKey <value>`"}},
		{"bad e-mail receiver and timing", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("alerting", `{"email":{"to":["Ops <ops@example.com>"],"from":"","smarthost":"smtp.example.com"},"groupWait":"soon","opsgenie":{"apiUrl":"http://api.opsgenie.com/"}}`)
		}, []string{
			`aurigraph:alerting.email.to[0] "Ops <ops@example.com>" is not a plain e-mail address`,
			`aurigraph:alerting.email.from`, `aurigraph:alerting.email.smarthost "smtp.example.com" is not host:port`,
			`aurigraph:alerting.groupWait "soon" is not a duration`, `aurigraph:alerting.opsgenie.apiUrl "http://api.opsgenie.com/" is not an https URL`,
		}},
		{"misspelt time setting", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("time", `{"maxOffsetSeconds":1}`)
		}, []string{`aurigraph:time has unknown field "maxOffsetSeconds"`}},
		// A misspelt service would silently take the default threshold.
		{"watchdog threshold for an unknown service, and out of bounds", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("selfHealing", `{"intervalSeconds":1,"unhealthyChecks":{"postgre":5,"redis":0},"backoffSeconds":0,"maxRestartsPerHour":1000}`)
		}, []string{
			`aurigraph:selfHealing.intervalSeconds is 1; use 5-300`,
			`aurigraph:selfHealing.unhealthyChecks."postgre" is not a service of this stack; use default or one of postgres, redis`,
			`aurigraph:selfHealing.unhealthyChecks."redis" is 0; use 1-100`,
			`aurigraph:selfHealing.maxRestartsPerHour is 1000; use 1-60`,
		}},
		// Without backupTarget there is no copy for a drill host to fetch.
		{"drill host without an off-host copy, bad schedule and allowance", func(s *stackfile.Stack) *stackfile.Stack {
			return s.Set("backupDrill", `{"host":"prod-obs-01","schedule":"first sunday; reboot","maxAgeHours":12}`)
		}, []string{
			`aurigraph:backupDrill.host is prod-obs-01, but neither backupTarget nor backupObjectStore is set: without an off-host copy the drill restores the local dumps on the PostgreSQL host; set backupTarget or backupObjectStore, or remove backupDrill.host`,
			`aurigraph:backupDrill.schedule "first sunday; reboot" is not a systemd OnCalendar expression; use one such as Sun *-*-01..07 04:00:00`,
			`aurigraph:backupDrill.maxAgeHours is 12; use 24-8784`,
		}},
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
	res, err := harness.Try(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has 3 configuration problem(s)")
	assert.Contains(t, err.Error(), "aurigraph:postgresPassword")
	assert.Contains(t, err.Error(), "aurigraph:release.blue.image")
	assert.Contains(t, err.Error(), "aurigraph:tiers.validator.replicas")
	assert.Empty(t, res.Resources, "validation runs before any resource is created")
}

// Hostile values in many keys at once: every one is reported, by key, in
// one error, and nothing is created.
func TestHostileValuesAreAllReportedBeforeAnyResource(t *testing.T) {
	prod := harness.Stack(t, "prod")
	hosts := replaceOnce(t, prodHostsJSON(t), `"address":"203.0.113.10"`, `"address":"fe80::1%eth0;id"`)
	s := prod.
		Set("hosts", hosts).
		Set("ssh", replaceOnce(t, prod.Config["aurigraph:ssh"], `"user":"deploy"`, `"user":"x$(id)"`)).
		Set("preflight", `{"dataPath":"/tmp","minCpus":32,"minDiskGb":200,"minMemoryGb":64}`).
		Set("tiers", `{"validator":{"replicas":9223372036854775807},"business":{"replicas":15,"groups":[8,7]},"slim":{"replicas":5}}`).
		Set("network", `{"name":"n;id","subnet":"172.28.0.0/16"}`)
	res, err := harness.Try(s)
	require.Error(t, err)
	for _, key := range []string{"hosts[0].address", "ssh.jumpHost.user", "preflight.dataPath", "tiers.validator.replicas", "network.name"} {
		assert.Contains(t, err.Error(), "aurigraph:"+key+" ")
	}
	assert.Contains(t, err.Error(), "has 5 configuration problem(s)")
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

// sshJSON is prod's ssh object with one change.
func sshJSON(t *testing.T, ssh, old, new string) string { return replaceOnce(t, ssh, old, new) }
