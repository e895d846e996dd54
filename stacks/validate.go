package stacks

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/components/redis"
)

// Problem is one invalid config value: the key, what is wrong, and the fix.
type Problem struct {
	Key     string
	Message string
	Fix     string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%s %s; %s", Namespace, p.Key, p.Message, p.Fix)
}

// Problems collects every problem so one run reports them all.
type Problems []Problem

// Add records a problem.
func (ps *Problems) Add(key, message, fix string) {
	*ps = append(*ps, Problem{Key: key, Message: message, Fix: fix})
}

// Err is nil without problems, else one error listing them all, sorted.
func (ps Problems) Err(stack string) error {
	if len(ps) == 0 {
		return nil
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  - " + p.String()
	}
	sort.Strings(lines)
	return fmt.Errorf("stack %q has %d configuration problem(s):\n%s", stack, len(ps), strings.Join(lines, "\n"))
}

var (
	hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	dnsNameRE  = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	// weakValues are the documents' defaults and other values no credential may have.
	weakValues = []string{"changeme", "admin", "myroot", "password", "secret", "root", "aurigraph", "123456", "default", "test"}
)

// IsWeakCredential reports a value that must never be a credential.
func IsWeakCredential(v string) bool {
	t := strings.ToLower(strings.TrimSpace(v))
	if len(t) < 12 {
		return true
	}
	for _, w := range weakValues {
		if t == w {
			return true
		}
	}
	return false
}

// Validate checks the configuration; raw holds the secret values that are set.
func Validate(c *Config, raw map[string]string) Problems {
	var ps Problems
	if c.Environment != "staging" && c.Environment != "prod" {
		ps.Add("environment", fmt.Sprintf("is %q", c.Environment), "set it to staging or prod")
	}
	validateHosts(c, &ps)
	validatePlacement(c, &ps)
	validateTiers(c, &ps)
	validateRelease(c, &ps)
	validateImages(c, &ps)
	validateResources(c, &ps)
	validateEdge(c, &ps)
	validateMisc(c, &ps)
	validateSecrets(c, raw, &ps)
	return ps
}

func validateHosts(c *Config, ps *Problems) {
	if len(c.Hosts) == 0 {
		ps.Add("hosts", "is empty", "list at least one host with name, address, sshUser, hostKey, kind and roles")
		return
	}
	names, addrs := map[string]int{}, map[string]int{}
	for i, h := range c.Hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		if !hostnameRE.MatchString(h.Name) {
			ps.Add(key+".name", fmt.Sprintf("%q is not a valid host name", h.Name), "use lower-case letters, digits and dashes")
		} else if j, dup := names[h.Name]; dup {
			ps.Add(key+".name", fmt.Sprintf("%q duplicates hosts[%d]", h.Name, j), "give every host a unique name")
		} else {
			names[h.Name] = i
		}
		for field, a := range map[string]string{"address": h.Address, "privateAddress": h.Private} {
			if a == "" && field == "privateAddress" {
				continue
			}
			if _, err := netip.ParseAddr(a); err != nil {
				ps.Add(key+"."+field, fmt.Sprintf("%q is not an IP address", a), "set it to the host's IPv4 or IPv6 address")
			}
		}
		endpoint := fmt.Sprintf("%s:%d", h.Address, h.SSHPort)
		if j, dup := addrs[endpoint]; dup {
			ps.Add(key+".address", fmt.Sprintf("%s duplicates hosts[%d]", endpoint, j), "give every host its own address or SSH port")
		} else {
			addrs[endpoint] = i
		}
		if h.SSHPort < 1 || h.SSHPort > 65535 {
			ps.Add(key+".sshPort", fmt.Sprintf("%d is not a port", h.SSHPort), "use 1-65535 (default 22)")
		}
		if h.SSHUser == "" {
			ps.Add(key+".sshUser", "is empty", "set the SSH user the program logs in as")
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKey)); err != nil {
			ps.Add(key+".hostKey", "is not an SSH public key", "pin the host key, e.g. the output of `ssh-keyscan -t ed25519 <address>` without the host name")
		}
		if h.Kind != "bare-metal" && h.Kind != "cloud" {
			ps.Add(key+".kind", fmt.Sprintf("is %q", h.Kind), "set it to bare-metal or cloud")
		}
		if len(h.Roles) == 0 {
			ps.Add(key+".roles", "is empty", "give the host at least one role: manager, edge, app, data, monitoring, logging")
		}
		for _, r := range h.Roles {
			if !knownRole(r) {
				ps.Add(key+".roles", fmt.Sprintf("has unknown role %q", r), "use manager, edge, app, data, monitoring or logging")
			}
		}
		if h.Capacity.CPUs < 1 || h.Capacity.MemoryGB < 1 || h.Capacity.DiskGB < 1 {
			ps.Add(key+".capacity", "is missing cpus, memoryGb or diskGb", "state the host's cores, memory and data disk")
		}
	}
	if !anyHost(c, RoleManager) {
		ps.Add("hosts", "has no host with role manager", "give one to three hosts the manager role (the Swarm control plane)")
	}
	if !anyHost(c, RoleApp) {
		ps.Add("hosts", "has no host with role app", "give at least one host the app role")
	}
	if n := countHosts(c, RoleEdge); n != 1 && c.Placement[Nginx] == "" {
		ps.Add("hosts", fmt.Sprintf("has %d hosts with role edge", n), "give exactly one host the edge role")
	}
}

func knownRole(r string) bool {
	switch r {
	case RoleManager, RoleEdge, RoleApp, RoleData, RoleMonitoring, RoleLogging:
		return true
	}
	return false
}

func anyHost(c *Config, role string) bool { return countHosts(c, role) > 0 }

func countHosts(c *Config, role string) int {
	n := 0
	for _, h := range c.Hosts {
		if h.HasRole(role) {
			n++
		}
	}
	return n
}

func validatePlacement(c *Config, ps *Problems) {
	for svc, hostName := range c.Placement {
		if _, ok := ServiceRole[svc]; !ok {
			ps.Add("placement."+svc, "is not a service", "use one of "+strings.Join(Services, ", "))
		}
		if !hostExists(c, hostName) {
			ps.Add("placement."+svc, fmt.Sprintf("names unknown host %q", hostName), "name a host from the hosts list")
		}
	}
	for _, svc := range Services {
		if c.Placement[svc] != "" {
			continue
		}
		if !anyHost(c, ServiceRole[svc]) {
			ps.Add("hosts", fmt.Sprintf("places %s on no host", svc), fmt.Sprintf("give a host the %s role or set placement.%s", ServiceRole[svc], svc))
		}
	}
}

func hostExists(c *Config, name string) bool {
	for _, h := range c.Hosts {
		if h.Name == name {
			return true
		}
	}
	return false
}

func validateTiers(c *Config, ps *Problems) {
	for _, name := range TierOrder {
		t := c.Tiers.ByName(name)
		key := "tiers." + name
		if t.Replicas < 1 {
			ps.Add(key+".replicas", fmt.Sprintf("is %d", t.Replicas), "run at least 1 replica")
			continue
		}
		sum := 0
		for _, g := range t.Groups {
			if g < 1 {
				ps.Add(key+".groups", "has an empty group", "every rolling group needs at least 1 replica")
			}
			sum += g
		}
		if sum != t.Replicas {
			ps.Add(key+".groups", fmt.Sprintf("sum to %d, replicas is %d", sum, t.Replicas), "make the groups add up to the replica count")
		}
		if t.Image != "" {
			checkImage(key+".image", t.Image, ps)
		}
	}
}

func validateRelease(c *Config, ps *Problems) {
	b, g := c.Release.Blue, c.Release.Green
	if b.Image == "" {
		ps.Add("release.blue.image", "is empty", "set the current application image, pinned by tag or digest")
	} else {
		checkImage("release.blue.image", b.Image, ps)
	}
	if g.Image != "" {
		checkImage("release.green.image", g.Image, ps)
	}
	for slot, s := range map[string]Slot{"blue": b, "green": g} {
		if s.Weight < 0 || s.Weight > 100 {
			ps.Add("release."+slot+".weight", fmt.Sprintf("is %d", s.Weight), "use 0-100")
		}
		if s.Image == "" && s.Weight > 0 {
			ps.Add("release."+slot+".weight", fmt.Sprintf("is %d but the slot has no image", s.Weight), "set the slot's image or give it weight 0")
		}
	}
	if b.Weight+g.Weight != 100 {
		ps.Add("release", fmt.Sprintf("weights sum to %d", b.Weight+g.Weight), "make blue.weight + green.weight = 100 (canary steps: 95/5, 80/20, 50/50, 0/100)")
	}
}

// PinnedImage reports whether ref names a tag other than latest or a digest.
func PinnedImage(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return false
	}
	tag := ref[colon+1:]
	return tag != "" && tag != "latest"
}

func checkImage(key, ref string, ps *Problems) {
	if !PinnedImage(ref) {
		ps.Add(key, fmt.Sprintf("%q is not pinned", ref), "pin it to a version tag or a digest, never latest")
	}
}

func validateImages(c *Config, ps *Problems) {
	for _, k := range RequiredImages {
		ref, ok := c.Images[k]
		if !ok || ref == "" {
			ps.Add("images."+k, "is not set", "pin the image, e.g. by tag or digest")
			continue
		}
		checkImage("images."+k, ref, ps)
	}
	if ref := c.Images[ImageRedisExporter]; ref != "" && !redis.ExporterImageProbes(ref) {
		ps.Add("images."+ImageRedisExporter, fmt.Sprintf("%q is not the exporter's %s variant: its health check needs a shell and wget", ref, redis.ExporterImageVariant),
			"use the same version's "+redis.ExporterImageVariant+" tag, e.g. oliver006/redis_exporter:v1.66.0"+redis.ExporterImageVariant)
	}
	for k := range c.Images {
		if !contains(RequiredImages, k) {
			ps.Add("images."+k, "is not an image key", "use one of "+strings.Join(RequiredImages, ", "))
		}
	}
}

func validateResources(c *Config, ps *Problems) {
	for svc, r := range c.Resources {
		key := "resources." + svc
		if _, ok := DefaultResources[svc]; !ok {
			ps.Add(key, "is not a service", "use a service name, aurigraph-v11 or exporter")
			continue
		}
		if r.CPUs <= 0 || r.MemoryMB <= 0 {
			ps.Add(key, "has no CPU or memory limit", "set cpus and memoryMb above 0")
		}
		if r.MemoryReservationMB > r.MemoryMB {
			ps.Add(key+".memoryReservationMb", fmt.Sprintf("%d is above the limit %d", r.MemoryReservationMB, r.MemoryMB), "lower the reservation or raise memoryMb")
		}
		if r.CPUsReservation > r.CPUs {
			ps.Add(key+".cpusReservation", fmt.Sprintf("%g is above the limit %g", r.CPUsReservation, r.CPUs), "lower the reservation or raise cpus")
		}
	}
}

func validateEdge(c *Config, ps *Problems) {
	e := c.Edge
	if !dnsNameRE.MatchString(e.APIHostname) {
		ps.Add("edge.apiHostname", fmt.Sprintf("%q is not a DNS name", e.APIHostname), "set the public API name, e.g. api.example.com")
	}
	if e.GRPCHostname != "" && !dnsNameRE.MatchString(e.GRPCHostname) {
		ps.Add("edge.grpcHostname", fmt.Sprintf("%q is not a DNS name", e.GRPCHostname), "set the public gRPC name or leave it empty")
	}
	seen := map[string]string{e.APIHostname: "apiHostname"}
	for _, ui := range []string{Grafana, Kibana, Jaeger, Prometheus} {
		name := e.MonitoringHosts[ui]
		key := "edge.monitoringHostnames." + ui
		if !dnsNameRE.MatchString(name) {
			ps.Add(key, fmt.Sprintf("%q is not a DNS name", name), "set the name the gateway serves "+ui+" on")
			continue
		}
		if other, dup := seen[name]; dup {
			ps.Add(key, fmt.Sprintf("%q is also %s", name, other), "give every name its own host name")
		}
		seen[name] = key
	}
	for i, cidr := range e.AllowedMonitoringCIDRs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			ps.Add(fmt.Sprintf("edge.allowedMonitoringCidrs[%d]", i), fmt.Sprintf("%q is not a CIDR", cidr), "use a network such as 198.51.100.0/24")
		}
	}
	if e.RateLimitPerSecond < 1 || e.RateLimitBurst < 1 {
		ps.Add("edge", "rate limit or burst is below 1", "set rateLimitPerSecond and rateLimitBurst to at least 1")
	}
}

func validateMisc(c *Config, ps *Problems) {
	if p, err := netip.ParsePrefix(c.Network.Subnet); err != nil || p.Bits() > 24 {
		ps.Add("network.subnet", fmt.Sprintf("%q is not a usable subnet", c.Network.Subnet), "use a private CIDR of /24 or larger, e.g. 172.28.0.0/16")
	}
	pf := c.Preflight
	if pf.MinCPUs < 1 || pf.MinMemoryGB < 1 || pf.MinDiskGB < 1 {
		ps.Add("preflight", "thresholds are missing", "set minCpus, minMemoryGb and minDiskGb (prod: 32, 64, 200)")
	}
	if !strings.HasPrefix(pf.DataPath, "/") {
		ps.Add("preflight.dataPath", fmt.Sprintf("%q is not absolute", pf.DataPath), "use an absolute path such as /srv/aurigraph")
	}
	r := c.Retention
	if r.PrometheusDays < 1 || r.ElasticsearchDays < 1 {
		ps.Add("retention", "a retention is below 1 day", "set prometheusDays and elasticsearchDays to at least 1")
	}
	b := r.Backups
	if b.Hourly < 0 || b.Daily < 1 || b.Weekly < 0 || b.Monthly < 0 {
		ps.Add("retention.backups", "keeps no daily backup or a negative count", "keep at least 1 daily backup")
	}
	for i, src := range c.SSH.AllowFrom {
		if _, err := netip.ParsePrefix(src); err != nil {
			if _, err := netip.ParseAddr(src); err != nil {
				ps.Add(fmt.Sprintf("ssh.allowFrom[%d]", i), fmt.Sprintf("%q is neither an address nor a CIDR", src), "use e.g. 198.51.100.7 or 198.51.100.0/24")
			}
		}
	}
	if j := c.SSH.Jump; j != nil {
		if _, err := netip.ParseAddr(j.Address); err != nil && len(c.SSH.AllowFrom) == 0 {
			ps.Add("ssh.jumpHost.address", fmt.Sprintf("%q is a name", j.Address), "use the jump host's IP address, or list where it connects from in ssh.allowFrom (the firewalls allow SSH only from there)")
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(j.HostKey)); err != nil {
			ps.Add("ssh.jumpHost.hostKey", "is not an SSH public key", "pin the jump host's key")
		}
	}
	if c.PKI.ValidityHours <= c.PKI.EarlyRenewalHours {
		ps.Add("pki.validityHours", fmt.Sprintf("%d is not above earlyRenewalHours %d", c.PKI.ValidityHours, c.PKI.EarlyRenewalHours), "make certificates live longer than their renewal window")
	}
	if c.PKI.Rotation < 0 {
		ps.Add("pki.rotation", "is negative", "use 0 and increase it by one to rotate every certificate")
	}
	if need := postgresConnectionsNeeded(c); c.Postgres.MaxConnections < need {
		ps.Add("postgres.maxConnections", fmt.Sprintf("%d is below the %d connections the application can open (every replica of both slots with a pool of %d, plus headroom)", c.Postgres.MaxConnections, need, c.App.DatasourceMaxSize),
			fmt.Sprintf("raise it to at least %d (PostgreSQL applies it on its next restart) or lower app.datasourceMaxSize", need))
	}
	a := c.App
	if a.DatasourceMinSize > a.DatasourceMaxSize {
		ps.Add("app.datasourceMinSize", fmt.Sprintf("%d is above datasourceMaxSize %d", a.DatasourceMinSize, a.DatasourceMaxSize), "keep the pool minimum at or below its maximum")
	}
}

func validateSecrets(c *Config, raw map[string]string, ps *Problems) {
	required := append([]string{}, RequiredSecrets...)
	if c.PKI.OperatorCertificate {
		required = append(required, OperatorCertificateSecrets...)
	}
	for _, key := range required {
		v, ok := raw[key]
		switch {
		case !ok || v == "":
			ps.Add(key, "required secret is not set", fmt.Sprintf("run `pulumi config set --secret %s <value>`", key))
		case isPassword(key) && IsWeakCredential(v):
			ps.Add(key, "is a weak or default credential", "use at least 12 characters that are not a well-known default")
		}
	}
}

func isPassword(key string) bool { return strings.HasSuffix(key, "Password") }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
