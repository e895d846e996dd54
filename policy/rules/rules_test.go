package rules

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
)

type resourceCase struct {
	name string
	res  policyx.AnalyzerResource
	fail bool
}

// c builds a container case from a kind and a mutation.
func c(name, kind string, fail bool, mutate func(M) M) resourceCase {
	m := goodContainer(kind)
	if mutate != nil {
		m = mutate(m)
	}
	return resourceCase{name: name, res: container(kind, m), fail: fail}
}

func keep(m M) M { return m }

// hex64 stands in for a digest: 64 lower-case hex digits.
var hex64 = strings.Repeat("0123456789abcdef", 4)

// cases are, per rule, a compliant and a violating resource, and the same
// with unknown (preview) and secret values.
var cases = map[string][]resourceCase{
	"container-resource-limits": {
		c("compliant", Redis, false, keep),
		c("no memory limit", Redis, true, func(m M) M { return del(m, "memory") }),
		c("zero CPU limit", Redis, true, func(m M) M { return set(m, "cpus", s("0")) }),
		c("unknown limits", Redis, false, func(m M) M { return set(set(m, "memory", computed()), "cpus", computed()) }),
		c("secret limits are read", Redis, false, func(m M) M { return set(m, "memory", secret(n(4096))) }),
		c("secret zero limit", Redis, true, func(m M) M { return set(m, "cpus", secret(s("0"))) }),
	},
	"container-reservations-within-limits": {
		c("compliant", Redis, false, keep),
		c("memory reservation above limit", Redis, true, func(m M) M { return set(m, "memoryReservation", n(8192)) }),
		c("CPU reservation above limit", Redis, true, func(m M) M { return set(m, "cpuShares", n(4096)) }),
		c("no memory reservation", Redis, true, func(m M) M { return del(m, "memoryReservation") }),
		c("unknown reservation", Redis, false, func(m M) M { return set(m, "memoryReservation", computed()) }),
		c("secret reservation above limit", Redis, true, func(m M) M { return set(m, "memoryReservation", secret(n(9000))) }),
	},
	"container-restart-policy": {
		c("compliant", Redis, false, keep),
		c("restart no", Redis, true, func(m M) M { return set(m, "restart", s("no")) }),
		c("restart missing", Redis, true, func(m M) M { return del(m, "restart") }),
		c("unknown", Redis, false, func(m M) M { return set(m, "restart", computed()) }),
		c("secret always", Redis, false, func(m M) M { return set(m, "restart", secret(s("always"))) }),
	},
	"container-health-check": {
		c("compliant", Redis, false, keep),
		c("missing", Redis, true, func(m M) M { return del(m, "healthcheck") }),
		c("NONE", Redis, true, func(m M) M { return set(m, "healthcheck", obj_(M{"tests": strArr("NONE")})) }),
		c("unknown tests", Redis, false, func(m M) M { return set(m, "healthcheck", obj_(M{"tests": computed()})) }),
		c("unknown healthcheck", Redis, false, func(m M) M { return set(m, "healthcheck", computed()) }),
		c("secret tests", Redis, false, func(m M) M { return set(m, "healthcheck", secret(obj_(M{"tests": strArr("CMD", "true")}))) }),
	},
	"container-log-rotation": {
		c("compliant", Redis, false, keep),
		c("journald", Redis, false, func(m M) M { return set(m, "logDriver", s("journald")) }),
		c("no driver", Redis, true, func(m M) M { return del(m, "logDriver") }),
		c("json-file without max-file", Redis, true, func(m M) M { return set(m, "logOpts", obj_(M{"max-size": s("10m")})) }),
		c("driver none", Redis, true, func(m M) M { return set(m, "logDriver", s("none")) }),
		c("unknown opts", Redis, false, func(m M) M { return set(m, "logOpts", obj_(M{"max-size": computed()})) }),
		c("secret opts", Redis, false, func(m M) M { return set(m, "logOpts", secret(obj_(M{"max-size": s("1m"), "max-file": s("2")}))) }),
	},
	"container-no-new-privileges": {
		c("compliant", Redis, false, keep),
		c("missing", Redis, true, func(m M) M { return set(m, "securityOpts", strArr("apparmor=docker-default")) }),
		c("unknown element", Redis, false, func(m M) M { return set(m, "securityOpts", arr_(computed())) }),
		c("secret element", Redis, false, func(m M) M { return set(m, "securityOpts", arr_(secret(s("no-new-privileges")))) }),
	},
	"container-pid-limit": {
		c("compliant", Redis, false, keep),
		c("no nproc", Redis, true, func(m M) M {
			return set(m, "ulimits", arr_(obj_(M{"name": s("nofile"), "soft": n(1), "hard": n(1)})))
		}),
		c("nproc zero", Redis, true, func(m M) M {
			return set(m, "ulimits", arr_(obj_(M{"name": s("nproc"), "soft": n(0), "hard": n(0)})))
		}),
		c("unknown hard", Redis, false, func(m M) M {
			return set(m, "ulimits", arr_(obj_(M{"name": s("nproc"), "soft": n(1), "hard": computed()})))
		}),
		c("secret ulimits", Redis, false, func(m M) M {
			return set(m, "ulimits", secret(arr_(obj_(M{"name": s("nproc"), "soft": n(10), "hard": n(10)}))))
		}),
	},
	"container-capabilities": {
		c("compliant", Vault, false, keep),
		c("no drop ALL", Redis, true, func(m M) M { return set(m, "capabilities", obj_(M{"drops": strArr("NET_RAW")})) }),
		c("SYS_ADMIN added", Redis, true, func(m M) M {
			return set(m, "capabilities", obj_(M{"drops": strArr("ALL"), "adds": strArr("SYS_ADMIN")}))
		}),
		c("IPC_LOCK on redis", Redis, true, func(m M) M {
			return set(m, "capabilities", obj_(M{"drops": strArr("ALL"), "adds": strArr("CAP_IPC_LOCK")}))
		}),
		c("unknown adds", Redis, false, func(m M) M {
			return set(m, "capabilities", obj_(M{"drops": strArr("ALL"), "adds": computed()}))
		}),
		c("secret drops", Redis, false, func(m M) M { return set(m, "capabilities", obj_(M{"drops": secret(strArr("all"))})) }),
	},
	"container-non-root-user": {
		c("compliant", Redis, false, keep),
		c("postgres is exempt", Postgres, false, func(m M) M { return del(m, "user") }),
		c("no user", Redis, true, func(m M) M { return del(m, "user") }),
		c("root uid", Redis, true, func(m M) M { return set(m, "user", s("0:0")) }),
		c("unknown user", Redis, false, func(m M) M { return set(m, "user", computed()) }),
		c("secret root", Redis, true, func(m M) M { return set(m, "user", secret(s("root"))) }),
	},
	"container-read-only-rootfs": {
		c("compliant", Redis, false, keep),
		c("elasticsearch writable", Elasticsearch, true, func(m M) M { return set(m, "readOnly", b(false)) }),
		c("logstash writable", Logstash, true, func(m M) M { return set(m, "readOnly", b(false)) }),
		c("kibana writable", Kibana, true, func(m M) M { return set(m, "readOnly", b(false)) }),
		c("writable", Redis, true, func(m M) M { return set(m, "readOnly", b(false)) }),
		c("missing", Redis, true, func(m M) M { return del(m, "readOnly") }),
		c("unknown", Redis, false, func(m M) M { return set(m, "readOnly", computed()) }),
		c("secret true", Redis, false, func(m M) M { return set(m, "readOnly", secret(b(true))) }),
	},
	"container-not-privileged": {
		c("compliant", Redis, false, keep),
		c("privileged", Redis, true, func(m M) M { return set(m, "privileged", b(true)) }),
		c("unknown", Redis, false, func(m M) M { return set(m, "privileged", computed()) }),
		c("secret privileged", Redis, true, func(m M) M { return set(m, "privileged", secret(b(true))) }),
	},
	"container-no-host-namespaces": {
		c("compliant", Redis, false, keep),
		c("host network", Redis, true, func(m M) M { return set(m, "networkMode", s("host")) }),
		c("host pid", Redis, true, func(m M) M { return set(m, "pidMode", s("host")) }),
		c("host ipc", Redis, true, func(m M) M { return set(m, "ipcMode", s("host")) }),
		c("unknown", Redis, false, func(m M) M { return set(m, "networkMode", computed()) }),
		c("secret host", Redis, true, func(m M) M { return set(m, "ipcMode", secret(s("host"))) }),
	},
	"container-no-sensitive-mounts": {
		c("compliant", Redis, false, keep),
		c("docker socket", Redis, true, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": s("/var/run/docker.sock"), "target": s("/var/run/docker.sock")})))
		}),
		c("root filesystem", Redis, true, func(m M) M {
			return set(m, "volumes", arr_(obj_(M{"hostPath": s("/"), "containerPath": s("/host")})))
		}),
		c("etc below", Redis, true, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": s("/etc/ssl/"), "target": s("/x")})))
		}),
		c("proc", Redis, true, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": s("/proc"), "target": s("/x")})))
		}),
		c("device", Redis, true, func(m M) M { return set(m, "devices", arr_(obj_(M{"hostPath": s("/dev/sda")}))) }),
		c("a volume named like a path is not a bind", Redis, false, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("volume"), "source": s("etc"), "target": s("/etc/x")})))
		}),
		c("unknown source", Redis, false, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": computed(), "target": s("/x")})))
		}),
		c("secret socket path", Redis, true, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": secret(s("/run/containerd/containerd.sock")), "target": s("/x")})))
		}),
	},
	"image-pinned": {
		c("compliant", Redis, false, keep),
		c("digest", Redis, false, func(m M) M { return set(m, "image", s("redis@sha256:"+"ab12")) }),
		c("registry port, no tag", Redis, true, func(m M) M { return set(m, "image", s("registry:5000/redis")) }),
		c("latest", Redis, true, func(m M) M { return set(m, "image", s("redis:latest")) }),
		c("untagged", Redis, true, func(m M) M { return set(m, "image", s("redis")) }),
		c("unknown", Redis, false, func(m M) M { return set(m, "image", computed()) }),
		c("secret latest", Redis, true, func(m M) M { return set(m, "image", secret(s("redis:latest"))) }),
		{name: "remote image latest", res: resourceOf(RemoteImageType, "img", M{"name": s("nginx:latest")}), fail: true},
		{name: "remote image pinned", res: resourceOf(RemoteImageType, "img", M{"name": s("nginx:1.27.3-alpine")}), fail: false},
	},
	"image-digest": {
		c("tag and digest", Redis, false, func(m M) M { return set(m, "image", s("redis:7.4.1-alpine@sha256:"+hex64)) }),
		c("digest only", Redis, false, func(m M) M { return set(m, "image", s("registry.example.com:5000/redis@sha256:"+hex64)) }),
		c("image ID", Redis, false, func(m M) M { return set(m, "image", s("sha256:"+hex64)) }),
		c("tag only", Redis, true, keep),
		c("short digest", Redis, true, func(m M) M { return set(m, "image", s("redis:7.4.1-alpine@sha256:"+hex64[:12])) }),
		c("upper-case digest", Redis, true, func(m M) M { return set(m, "image", s("redis:7.4.1-alpine@sha256:"+strings.ToUpper(hex64))) }),
		c("sha512", Redis, true, func(m M) M { return set(m, "image", s("redis:7.4.1-alpine@sha512:"+hex64+hex64)) }),
		c("unknown", Redis, false, func(m M) M { return set(m, "image", computed()) }),
		c("secret without digest", Redis, true, func(m M) M { return set(m, "image", secret(s("redis:7.4.1-alpine"))) }),
		{name: "remote image with digest", res: resourceOf(RemoteImageType, "img", M{"name": s("nginx:1.27.3-alpine@sha256:" + hex64)}), fail: false},
		{name: "remote image by tag", res: resourceOf(RemoteImageType, "img", M{"name": s("nginx:1.27.3-alpine")}), fail: true},
	},
	"data-services-internal": {
		c("compliant", Postgres, false, keep),
		c("postgres publishes 5432", Postgres, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(5432), "external": n(5432), "ip": s("127.0.0.1")})))
		}),
		c("redis publishes", Redis, true, func(m M) M { return set(m, "ports", arr_(obj_(M{"internal": n(6379)}))) }),
		c("grafana may publish (not a data service)", Grafana, false, keep),
		c("unknown ports", Vault, false, func(m M) M { return set(m, "ports", computed()) }),
		c("secret ports", Elasticsearch, true, func(m M) M { return set(m, "ports", secret(arr_(obj_(M{"internal": n(9200)})))) }),
	},
	"tracing-internal": {
		c("compliant", Jaeger, false, keep),
		c("OTLP published on loopback", Jaeger, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(4317), "external": n(4317), "ip": s("127.0.0.1")})))
		}),
		c("agent UDP published", Jaeger, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(6831), "protocol": s("udp"), "ip": s("10.0.0.5")})))
		}),
		c("another kind may publish", Grafana, false, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "external": n(3000), "ip": s("127.0.0.1")})))
		}),
		c("unknown ports", Jaeger, false, func(m M) M { return set(m, "ports", computed()) }),
		c("secret ports", Jaeger, true, func(m M) M { return set(m, "ports", secret(arr_(obj_(M{"internal": n(9411)})))) }),
	},
	"published-ports-bound": {
		c("gateway 80/443 on every address", Gateway, false, keep),
		c("named address", Grafana, false, keep),
		c("wildcard", Grafana, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "external": n(3000), "ip": s("0.0.0.0")})))
		}),
		c("no ip", Jaeger, true, func(m M) M { return set(m, "ports", arr_(obj_(M{"internal": n(16686)}))) }),
		c("non-gateway on 443", App, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(9003), "external": n(443), "ip": s("192.0.2.41")})))
		}),
		c("unknown ip", Grafana, false, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "external": n(3000), "ip": computed()})))
		}),
		c("secret wildcard", Grafana, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "external": n(3000), "ip": secret(s("::"))})))
		}),
	},
	"monitoring-not-public": {
		c("loopback", Grafana, false, keep),
		c("private", Grafana, false, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "ip": s("10.0.0.5")})))
		}),
		c("public address", Grafana, true, func(m M) M {
			return set(m, "ports", arr_(obj_(M{"internal": n(3000), "ip": s("8.8.4.4")})))
		}),
		c("kibana wildcard", Kibana, true, func(m M) M { return set(m, "ports", arr_(obj_(M{"internal": n(5601), "ip": s("0.0.0.0")}))) }),
		c("unknown ip", Prometheus, false, func(m M) M { return set(m, "ports", arr_(obj_(M{"internal": n(9090), "ip": computed()}))) }),
		c("secret public", Jaeger, true, func(m M) M { return set(m, "ports", arr_(obj_(M{"internal": n(16686), "ip": secret(s("1.1.1.1"))}))) }),
	},
	"no-weak-credentials": {
		c("compliant", Redis, false, keep),
		c("changeme in env", Redis, true, func(m M) M { return set(m, "envs", arr_(secret(s("REDIS_PASSWORD=changeme")))) }),
		c("admin", Grafana, true, func(m M) M { return set(m, "envs", arr_(s("GF_SECURITY_ADMIN_PASSWORD=admin"))) }),
		c("empty", Postgres, true, func(m M) M { return set(m, "envs", arr_(secret(s("POSTGRES_PASSWORD=")))) }),
		c("myroot in a URL", App, true, func(m M) M {
			return set(m, "envs", arr_(secret(s("DATA_SOURCE_NAME=postgresql://aurigraph:myroot@postgres:5432/aurigraph"))))
		}),
		c("a file reference is not a credential", Grafana, false, func(m M) M {
			return set(m, "envs", arr_(s("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/admin")))
		}),
		c("unknown credential", Redis, false, func(m M) M { return set(m, "envs", arr_(computed())) }),
		{name: "weak command password", res: resourceOf(RemoteCommandType, "cmd", M{"environment": obj_(M{"PGPASSWORD": secret(s("password"))})}), fail: true},
		{name: "strong key in secret connection", res: resourceOf(RemoteCommandType, "cmd", M{"connection": secret(obj_(M{"privateKey": s("-----BEGIN OPENSSH PRIVATE KEY-----xyz")}))}), fail: false},
		{name: "unknown private key", res: resourceOf(LocallySignedType, "cert", M{"caPrivateKeyPem": computed()}), fail: false},
	},
	"container-secrets-as-files": {
		c("compliant", Redis, false, keep),
		c("secret password env", Redis, true, func(m M) M { return set(m, "envs", arr_(secret(s("REDIS_PASSWORD=a-long-and-random-value")))) }),
		c("plain password env", Postgres, true, func(m M) M { return set(m, "envs", arr_(s("DATA_SOURCE_PASS=a-long-and-random-value"))) }),
		c("a path to the file is no credential", Postgres, false, func(m M) M { return set(m, "envs", arr_(s("PGPASSFILE=/run/secrets/pgpass"))) }),
		c("kibana is exempt", Kibana, false, func(m M) M { return set(m, "envs", arr_(secret(s("AURIGRAPH_ES_PASSWORD=a-long-and-random-value")))) }),
		c("unknown env", Redis, false, func(m M) M { return set(m, "envs", arr_(computed())) }),
		c("writable secret files", Redis, true, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": s("/srv/x"), "target": s(SecretsMount + "/"), "readOnly": b(false)})))
		}),
		c("unknown read-only", Redis, false, func(m M) M {
			return set(m, "mounts", arr_(obj_(M{"type": s("bind"), "source": s("/srv/x"), "target": s(SecretsMount), "readOnly": computed()})))
		}),
	},
	"credentials-are-secrets": {
		c("compliant", Redis, false, keep),
		c("plain password env", Redis, true, func(m M) M { return set(m, "envs", arr_(s("REDIS_PASSWORD=a-long-and-random-value"))) }),
		c("plain URL password", App, true, func(m M) M {
			return set(m, "envs", arr_(s("DSN=postgresql://u:a-long-and-random-value@postgres/db")))
		}),
		c("secret array of envs", Redis, false, func(m M) M { return set(m, "envs", secret(arr_(s("REDIS_PASSWORD=a-long-and-random-value")))) }),
		c("unknown value", Redis, false, func(m M) M { return set(m, "envs", arr_(computed())) }),
		{name: "plain private key input", res: resourceOf(LocallySignedType, "cert", M{"caPrivateKeyPem": s("-----BEGIN PRIVATE KEY-----")}), fail: true},
		{name: "secret private key input", res: resourceOf(LocallySignedType, "cert", M{"caPrivateKeyPem": secret(s("-----BEGIN PRIVATE KEY-----"))}), fail: false},
		{name: "unknown secret private key", res: resourceOf(LocallySignedType, "cert", M{"caPrivateKeyPem": secret(computed())}), fail: false},
		{name: "plain command password", res: resourceOf(RemoteCommandType, "cmd", M{"environment": obj_(M{"PGPASSWORD": s("a-long-and-random-value")})}), fail: true},
	},
	"no-database-superuser-logins": {
		c("compliant", App, false, func(m M) M {
			return set(m, "envs", arr_(s("QUARKUS_DATASOURCE_USERNAME=aurigraph_app"), s("QUARKUS_REDIS_USERNAME=aurigraph")))
		}),
		c("the database creates its superuser", Postgres, false, func(m M) M { return set(m, "envs", arr_(s("POSTGRES_USER=aurigraph"))) }),
		c("app as the superuser", App, true, func(m M) M { return set(m, "envs", arr_(s("QUARKUS_DATASOURCE_USERNAME=aurigraph"))) }),
		c("exporter as postgres", Postgres, true, func(m M) M { return set(m, "envs", arr_(s("DATA_SOURCE_USER=postgres"))) }),
		c("libpq user", Exporter, true, func(m M) M { return set(m, "envs", arr_(s("PGUSER=Aurigraph"))) }),
		c("superuser in a URL", App, true, func(m M) M {
			return set(m, "envs", arr_(secret(s("DATA_SOURCE_NAME=postgresql://aurigraph:a-long-and-random-value@postgres:5432/aurigraph"))))
		}),
		c("unknown user", App, false, func(m M) M { return set(m, "envs", arr_(computed())) }),
		c("unknown envs", App, false, func(m M) M { return set(m, "envs", computed()) }),
	},
	"vault-no-dev-mode": {
		c("compliant", Vault, false, keep),
		c("dev flag", Vault, true, func(m M) M { return set(m, "command", strArr("server", "-dev")) }),
		c("image default (no command)", Vault, true, func(m M) M { return del(m, "command") }),
		c("dev token env", Vault, true, func(m M) M { return set(m, "envs", arr_(secret(s("VAULT_DEV_ROOT_TOKEN_ID=abcdefabcdefabcdef")))) }),
		c("unknown command", Vault, false, func(m M) M { return set(m, "command", computed()) }),
		c("secret command", Vault, false, func(m M) M { return set(m, "command", secret(strArr("server", "-config=/v"))) }),
		c("not vault", Redis, false, func(m M) M { return set(m, "command", strArr("-dev")) }),
	},
	"elasticsearch-security": {
		c("compliant", Elasticsearch, false, keep),
		c("disabled", Elasticsearch, true, func(m M) M { return set(m, "envs", arr_(s("xpack.security.enabled=false"))) }),
		c("not stated", Elasticsearch, true, func(m M) M { return set(m, "envs", arr_(s("discovery.type=single-node"))) }),
		c("TLS off", Elasticsearch, true, func(m M) M {
			return set(m, "envs", arr_(s("XPACK_SECURITY_ENABLED=true"), s("xpack.security.http.ssl.enabled=false")))
		}),
		c("unknown env", Elasticsearch, false, func(m M) M { return set(m, "envs", arr_(computed())) }),
		c("secret element", Elasticsearch, false, func(m M) M { return set(m, "envs", arr_(secret(s("xpack.security.enabled=true")))) }),
	},
	"ssh-not-open-to-all": {
		{name: "allow-list and peers", res: firewallCommand(s(firewallWith("198.51.100.0/28", `ip saddr @ssh_from_v4 tcp dport 22 accept comment "ssh"`)))},
		{name: "IPv4 everyone", res: firewallCommand(s(firewallWith("0.0.0.0/0", `ip saddr @ssh_from_v4 tcp dport 22 accept comment "ssh"`))), fail: true},
		{name: "IPv6 everyone", res: firewallCommand(s(strings.Replace(firewallWith("198.51.100.0/28", `ip saddr @ssh_from_v4 tcp dport 22 accept comment "ssh"`), "set ssh_from_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}", "set ssh_from_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\telements = { ::/0 }\n\t}", 1))), fail: true},
		{name: "no source named", res: firewallCommand(s(firewallWith("198.51.100.0/28", `tcp dport 2222 accept comment "ssh"`))), fail: true},
		{name: "secret script open to all", res: firewallCommand(secret(s(firewallWith("0.0.0.0/0", `tcp dport 22 accept comment "ssh"`)))), fail: true},
		{name: "unknown script", res: firewallCommand(computed())},
		{name: "not a firewall", res: firewallCommand(s("tcp dport 22 accept comment \"ssh\""))},
	},
	"tls-key-strength": {
		{name: "P256", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("ECDSA"), "ecdsaCurve": s("P256")})},
		{name: "RSA 4096", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("RSA"), "rsaBits": n(4096)})},
		{name: "RSA default 2048", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("RSA")})},
		{name: "RSA 1024", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("RSA"), "rsaBits": n(1024)}), fail: true},
		{name: "ECDSA default P224", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("ECDSA")}), fail: true},
		{name: "unknown curve", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("ECDSA"), "ecdsaCurve": computed()})},
		{name: "secret weak bits", res: resourceOf(PrivateKeyType, "k", M{"algorithm": s("RSA"), "rsaBits": secret(n(1024))}), fail: true},
	},
	"tls-certificate-validity": {
		{name: "90 days", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": n(2160), "earlyRenewalHours": n(720)})},
		{name: "10-year CA", res: resourceOf(SelfSignedType, "ca", M{"validityPeriodHours": n(87600), "isCaCertificate": b(true)})},
		{name: "5-year server cert", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": n(43800)}), fail: true},
		{name: "1-hour cert", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": n(1)}), fail: true},
		{name: "100-year CA", res: resourceOf(SelfSignedType, "ca", M{"validityPeriodHours": n(876000), "isCaCertificate": b(true)}), fail: true},
		{name: "renewal window longer than life", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": n(720), "earlyRenewalHours": n(720)}), fail: true},
		{name: "unknown validity", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": computed()})},
		{name: "secret too long", res: resourceOf(LocallySignedType, "c", M{"validityPeriodHours": secret(n(100000))}), fail: true},
	},
}

func TestRulesCompliantAndViolating(t *testing.T) {
	prodParams := map[string]any{"minValidityHours": 168.0, "maxValidityHours": 9528.0, "maxCaValidityHours": 87600.0}
	for name, cs := range cases {
		r := rule(t, name)
		for _, tc := range cs {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				var got []Finding
				assert.NotPanics(t, func() { got = r.Resource(tc.res, prodEnv(prodParams)) }, "a rule must never panic")
				if tc.fail {
					assert.NotEmpty(t, got, "want a violation")
					for _, f := range got {
						assert.NotEmpty(t, f.Message)
					}
				} else {
					assert.Empty(t, got, "want no violation")
				}
			})
		}
	}
}

// Every resource rule has a compliant and a violating case, one with an
// unknown value and one with a secret value.
func TestEveryResourceRuleHasCases(t *testing.T) {
	for _, r := range All() {
		if r.Resource == nil {
			continue
		}
		cs := cases[r.Name]
		var pass, fail, unk, sec bool
		for _, tc := range cs {
			pass = pass || !tc.fail
			fail = fail || tc.fail
			tc.res.Properties.All(func(_ string, v property.Value) bool {
				unk = unk || v.HasComputed()
				sec = sec || v.HasSecrets()
				return true
			})
		}
		assert.True(t, pass && fail && unk && sec, "rule %s needs compliant, violating, unknown and secret cases", r.Name)
	}
}

// Any property replaced by an unknown, a null, a secret or a value of the
// wrong kind never crashes a rule, and an unknown never makes a compliant
// resource fail.
func TestRulesReadDefensively(t *testing.T) {
	kinds := []string{Redis, Postgres, Vault, Elasticsearch, Gateway, Grafana, App}
	odd := map[string]func(property.Value) property.Value{
		"unknown":    func(property.Value) property.Value { return computed() },
		"null":       func(property.Value) property.Value { return property.Value{} },
		"number":     func(property.Value) property.Value { return n(7) },
		"string":     func(property.Value) property.Value { return s("x") },
		"array":      func(property.Value) property.Value { return arr_(computed(), n(1)) },
		"map":        func(property.Value) property.Value { return obj_(M{"x": computed()}) },
		"secret":     func(v property.Value) property.Value { return secret(v) },
		"secret-unk": func(property.Value) property.Value { return secret(computed()) },
	}
	for _, r := range All() {
		if r.Resource == nil {
			continue
		}
		for _, kind := range kinds {
			good := goodContainer(kind)
			base := r.Resource(container(kind, good), prodEnv(nil))
			for key, v := range good {
				for oddName, f := range odd {
					m := set(good, key, f(v))
					assert.NotPanics(t, func() { r.Resource(container(kind, m), prodEnv(nil)) }, "%s on %s with %s %s", r.Name, kind, oddName, key)
					if oddName == "unknown" || oddName == "secret" || oddName == "secret-unk" {
						got := r.Resource(container(kind, m), prodEnv(nil))
						if len(base) == 0 {
							assert.Empty(t, got, "%s on %s: %s %s must not fail a compliant container", r.Name, kind, oddName, key)
						}
					}
				}
			}
		}
	}
}

func TestCredentialMessagesNeverShowValues(t *testing.T) {
	m := set(goodContainer(Redis), "envs", arr_(s("REDIS_PASSWORD=changeme"), s("API_TOKEN=super-secret-token-value")))
	for _, name := range []string{"no-weak-credentials", "credentials-are-secrets"} {
		got := rule(t, name).Resource(container("redis", m), prodEnv(nil))
		assert.NotEmpty(t, got)
		for _, f := range got {
			assert.NotContains(t, f.Message, "changeme")
			assert.NotContains(t, f.Message, "super-secret-token-value")
		}
	}
}

func TestPanicsBecomeFindings(t *testing.T) {
	r := Rule{Name: "x", Resource: func(policyx.AnalyzerResource, Env) []Finding { panic("boom") }}
	got := r.CheckResource(container("c", M{}), Env{})
	assert.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "boom")
}

// firewallWith is a host firewall as components/host renders it, with the
// given IPv4 SSH sources and SSH rule.
func firewallWith(sources, sshRule string) string {
	return "table inet aurigraph {\n\tset ssh_from_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { " + sources +
		" }\n\t}\n\tset ssh_from_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n\tchain input {\n\t\t" + sshRule + "\n\t}\n}\n"
}

func firewallCommand(stdin property.Value) policyx.AnalyzerResource {
	return resourceOf(RemoteCommandType, "prod-app-01-prepare-firewall", M{"create": s("bash -s -- apply"), "stdin": stdin})
}

// Every exception names a known service kind and says why; the read-only
// root has none left (Elasticsearch, Logstash and Kibana get tmpfs and host
// directories for what they write instead).
func TestExceptionsAreKnownKindsWithReasons(t *testing.T) {
	for table, exceptions := range map[string]map[string]string{"NonRootExceptions": NonRootExceptions, "ReadOnlyExceptions": ReadOnlyExceptions} {
		for kind, reason := range exceptions {
			assert.Contains(t, knownKinds, kind, "%s: %s", table, kind)
			assert.NotEmpty(t, strings.TrimSpace(reason), "%s: %s has no reason", table, kind)
		}
	}
	assert.Empty(t, ReadOnlyExceptions)
}
