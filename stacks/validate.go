package stacks

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/logstash"
	"github.com/aurigraph/infra/components/offsite"
	"github.com/aurigraph/infra/components/pgbouncer"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/prometheus"
	"github.com/aurigraph/infra/components/redis"
	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/zones"
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
	validatePooler(c, &ps)
	validateSecrets(c, raw, &ps)
	validateAlerting(c, raw, &ps)
	validateBackupTarget(c, raw, &ps)
	validateBackupObjectStore(c, raw, &ps)
	validateBackupDrill(c, &ps)
	return ps
}

// validateBackupObjectStore checks the off-host copies' bucket: an endpoint
// restic may send the keys' signatures to (https; http to loopback only),
// S3's bucket naming rules, a plain prefix, not on the PostgreSQL host
// itself, and keys that fit the one-line files restic's environment is set
// from. Its secrets being set is validateSecrets'.
func validateBackupObjectStore(c *Config, raw map[string]string, ps *Problems) {
	o := c.BackupObjectStore
	if !o.Configured() {
		if o.Bucket != "" || o.Prefix != "" || o.Region != "" {
			ps.Add("backupObjectStore.endpoint", "is not set, but other backupObjectStore fields are", "set the S3 API's URL, such as https://s3.eu-central-1.amazonaws.com, or remove backupObjectStore")
		}
		return
	}
	if err := offsite.CheckEndpoint(o.Endpoint); err != nil {
		ps.Add("backupObjectStore.endpoint", fmt.Sprintf("%s %s", describe(o.Endpoint), err), "use https://host[:port] of the S3 API; plain http only to 127.0.0.1 or localhost (a gateway on the data host)")
	} else if u, err := url.Parse(o.Endpoint); err == nil {
		if pg := placedHost(c, Postgres); pg != "" && hostAt(c, u.Hostname()) == pg {
			ps.Add("backupObjectStore.endpoint", fmt.Sprintf("%s is %s, the PostgreSQL host itself: a copy there is lost with it", u.Hostname(), pg),
				"use object storage in another failure domain")
		}
	}
	if err := offsite.CheckBucket(o.Bucket); err != nil {
		ps.Add("backupObjectStore.bucket", fmt.Sprintf("%s %s", describe(o.Bucket), err), "name the bucket as S3 requires, such as aurigraph-backups")
	}
	if err := offsite.CheckPrefix(o.Prefix); err != nil {
		ps.Add("backupObjectStore.prefix", fmt.Sprintf("%s %s", describe(o.Prefix), err), "use a plain prefix such as prod or aurigraph/prod, or leave it empty")
	}
	if err := offsite.CheckRegion(o.Region); err != nil {
		ps.Add("backupObjectStore.region", fmt.Sprintf("%s %s", describe(o.Region), err), "use the bucket's region name, or leave it empty")
	}
	for _, key := range BackupObjectStoreSecrets {
		if v := raw[key]; v != "" && (strings.ContainsAny(v, " \t\r\n\x00") || !utf8.ValidString(v)) {
			ps.Add(key, "holds white space, a line break or NUL: restic reads the key from a one-line file",
				fmt.Sprintf("set the key alone: `pulumi config set --secret %s <value>`", key))
		}
	}
	if v := raw[SecretBackupObjectStoreSecretAccessKey]; v != "" && IsWeakCredential(v) {
		ps.Add(SecretBackupObjectStoreSecretAccessKey, "is a weak or default credential", "create a key pair at the object storage; its secret key has at least 12 characters")
	}
}

// validateBackupDrill: a schedule systemd takes, an allowance no shorter
// than a day, and with an off-host copy a drill host of the stack that is not
// the PostgreSQL host (a drill there proves nothing about losing it).
func validateBackupDrill(c *Config, ps *Problems) {
	d := c.BackupDrill
	// backupjob's check of OnCalendar's characters; the allowance is checked below.
	probe := postgres.Drill{Every: d.Schedule, MaxAge: time.Hour}
	if err := postgres.DrillJob("drill", "/drill.sh", probe).Validate(); err != nil || strings.TrimSpace(d.Schedule) == "" {
		ps.Add("backupDrill.schedule", fmt.Sprintf("%s is not a systemd OnCalendar expression", describe(d.Schedule)),
			"use one such as Sun *-*-01..07 04:00:00 (the first Sunday of the month); check it with systemd-analyze calendar")
	}
	checkRange(ps, "backupDrill.maxAgeHours", d.MaxAgeHours, 24, 8784)
	if !c.OffHostCopies() {
		if d.Host != "" {
			ps.Add("backupDrill.host", fmt.Sprintf("is %s, but neither backupTarget nor backupObjectStore is set: without an off-host copy the drill restores the local dumps on the PostgreSQL host", d.Host),
				"set backupTarget or backupObjectStore, or remove backupDrill.host")
		}
		return
	}
	if d.Host == "" {
		return // a one-host stack: the drill stays on the data host
	}
	known := false
	for _, h := range c.Hosts {
		known = known || h.Name == d.Host
	}
	if !known {
		ps.Add("backupDrill.host", fmt.Sprintf("%s is not a host of the stack", describe(d.Host)), "use the name of a host in hosts, other than the PostgreSQL host")
		return
	}
	if pg := placedHost(c, Postgres); pg == d.Host {
		ps.Add("backupDrill.host", fmt.Sprintf("%s is the PostgreSQL host: a drill there does not prove a recovery without it", d.Host),
			"set backupDrill.host to another host of the stack, such as a monitoring host")
	}
}

// validateBackupTarget checks the off-host copies' target: reachable as
// restic's SFTP back end needs it (IPv4 or a host name, a plain path, one
// pinned key), not the PostgreSQL host itself (a copy there dies with it),
// nor another store's host unless the object store holds those stores'
// copies, and a login key that parses. Its secrets being set is
// validateSecrets'.
func validateBackupTarget(c *Config, raw map[string]string, ps *Problems) {
	t := c.BackupTarget
	checkPort(ps, "backupTarget.port", t.Port, "set the SFTP server's SSH port (1-65535)")
	if !t.Configured() {
		if t.User != "" || t.Path != "" || t.HostKey != "" {
			ps.Add("backupTarget.host", "is not set, but other backupTarget fields are", "set the SFTP server's address, or remove backupTarget")
		}
		return
	}
	if a, err := parseAddr(t.Host); err == nil {
		if !a.Is4() {
			ps.Add("backupTarget.host", fmt.Sprintf("%s is an IPv6 address", describe(t.Host)), "use its IPv4 address or a host name")
		} else {
			checkAddress(ps, "backupTarget.host", t.Host, "set it to the SFTP server's address")
		}
	} else if !isHostName(t.Host) {
		ps.Add("backupTarget.host", fmt.Sprintf("%s is neither an IPv4 address nor a host name", describe(t.Host)), "set it to the SFTP server's address or name")
	}
	if on := hostAt(c, t.Host); on != "" {
		stores := storesOn(c, on)
		switch {
		case slices.Contains(stores, Postgres):
			ps.Add("backupTarget.host", fmt.Sprintf("%s is %s, the PostgreSQL host itself: a copy there is lost with it", t.Host, on),
				"use another host of the stack or a machine outside it")
		case len(stores) > 0 && !c.BackupObjectStore.Configured():
			// Their copies skip a target on their own host: they would have none.
			ps.Add("backupTarget.host", fmt.Sprintf("%s is %s, which holds %s: their backups would have no copy off their host", t.Host, on, strings.Join(stores, ", ")),
				"use a host that holds no store (an application host) or a machine outside the stack, or add backupObjectStore for them")
		}
	}
	checkUser(ps, "backupTarget.user", t.User)
	if !backupPathRE.MatchString(t.Path) || path.Clean(t.Path) != t.Path || t.Path == "/" {
		ps.Add("backupTarget.path", fmt.Sprintf("%s is not an absolute plain path", describe(t.Path)), "use an absolute, clean path of letters, digits, '.', '_', '-', such as /srv/restic/aurigraph-prod")
	}
	checkHostKey(ps, "backupTarget.hostKey", t.HostKey, "pin the target's key: ssh-keyscan -t ed25519 <host>, without the host name")
	if v := raw[SecretBackupTargetSSHKey]; v != "" {
		if _, err := ssh.ParseRawPrivateKey([]byte(v)); err != nil {
			ps.Add(SecretBackupTargetSSHKey, "is not an unencrypted SSH private key", fmt.Sprintf("generate one with ssh-keygen -t ed25519 -N '' and `pulumi config set --secret %s < key`", SecretBackupTargetSSHKey))
		}
	}
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
		checkAddress(ps, key+".address", h.Address, "set it to the host's IPv4 or IPv6 address")
		if h.Private != "" {
			checkAddress(ps, key+".privateAddress", h.Private, "set it to the host's IPv4 or IPv6 address")
		}
		endpoint := fmt.Sprintf("%s:%d", h.Address, h.SSHPort)
		if j, dup := addrs[endpoint]; dup {
			ps.Add(key+".address", fmt.Sprintf("%s duplicates hosts[%d]", endpoint, j), "give every host its own address or SSH port")
		} else {
			addrs[endpoint] = i
		}
		checkPort(ps, key+".sshPort", h.SSHPort, "use 1-65535 (default 22)")
		if h.SSHUser == "" {
			ps.Add(key+".sshUser", "is empty", "set the SSH user the program logs in as")
		} else {
			checkUser(ps, key+".sshUser", h.SSHUser)
		}
		checkHostKey(ps, key+".hostKey", h.HostKey, "pin the host key, e.g. the output of `ssh-keyscan -t ed25519 <address>` without the host name")
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
		} else {
			checkRange(ps, key+".capacity.cpus", h.Capacity.CPUs, 1, maxCPUs)
			checkRange(ps, key+".capacity.memoryGb", h.Capacity.MemoryGB, 1, maxMemoryGB)
			checkRange(ps, key+".capacity.diskGb", h.Capacity.DiskGB, 1, maxDiskGB)
		}
	}
	if len(c.Hosts) > maxHosts {
		ps.Add("hosts", fmt.Sprintf("lists %d hosts", len(c.Hosts)), fmt.Sprintf("list at most %d hosts", maxHosts))
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
			ps.Add("placement."+keyName(svc), "is not a service", "use one of "+strings.Join(Services, ", "))
			continue
		}
		if !hostExists(c, hostName) {
			ps.Add("placement."+svc, fmt.Sprintf("names unknown host %s", describe(hostName)), "name a host from the hosts list")
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
		if t.Replicas > maxReplicas {
			ps.Add(key+".replicas", fmt.Sprintf("is %d", t.Replicas), fmt.Sprintf("run at most %d replicas per tier", maxReplicas))
			continue
		}
		sum := 0
		for _, g := range t.Groups {
			if g < 1 || g > maxReplicas {
				ps.Add(key+".groups", fmt.Sprintf("has a group of %d", g), fmt.Sprintf("every rolling group needs 1-%d replicas", maxReplicas))
				continue
			}
			sum += g
		}
		if sum != t.Replicas && len(t.Groups) <= maxReplicas {
			ps.Add(key+".groups", fmt.Sprintf("sum to %d, replicas is %d", sum, t.Replicas), "make the groups add up to the replica count")
		}
		if t.Image != "" {
			checkImage(key+".image", t.Image, ps)
		}
		switch {
		case t.ImageGroups < 0 || t.ImageGroups > maxReplicas:
			ps.Add(key+".imageGroups", fmt.Sprintf("is %d", t.ImageGroups), fmt.Sprintf("use 0 (every group) to %d", maxReplicas))
		case t.ImageGroups > 0 && t.Image == "":
			ps.Add(key+".imageGroups", fmt.Sprintf("is %d but %s.image is not set", t.ImageGroups, key), "set the tier's image, or remove imageGroups")
		case t.ImageGroups > len(t.Groups) && len(t.Groups) > 0:
			ps.Add(key+".imageGroups", fmt.Sprintf("is %d but the tier has %d rolling groups", t.ImageGroups, len(t.Groups)), fmt.Sprintf("use at most %d, or 0 for every group", len(t.Groups)))
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
		scale := s.ScalePercent()
		if scale < 0 || scale > FullScale {
			ps.Add("release."+slot+".scale", fmt.Sprintf("is %d", scale), "use 0-100: the percent of every tier's replicas the slot runs")
		} else if scale == 0 && s.Weight > 0 {
			ps.Add("release."+slot+".scale", fmt.Sprintf("is 0 but the slot has weight %d", s.Weight), "give the slot a scale above 0, or move its weight to the other slot first")
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
	if name, digest, ok := strings.Cut(ref, "@"); ok && len(ref) <= 255 && imageRefRE.MatchString(name) && !imageref.ValidDigest(digest) {
		ps.Add(key, fmt.Sprintf("has the digest %s, not sha256: and 64 lower-case hex digits", describe(digest)),
			"run `make pin` to write the digest the registry serves; never type or shorten one")
		return
	}
	if len(ref) > 255 || !imageRefRE.MatchString(ref) {
		ps.Add(key, fmt.Sprintf("%s is not an image reference", describe(ref)), "use [registry/]repository:tag or …@sha256:<digest>, lower-case, no spaces")
		return
	}
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
			ps.Add("images."+keyName(k), "is not an image key", "use one of "+strings.Join(RequiredImages, ", "))
		}
	}
}

func validateResources(c *Config, ps *Problems) {
	// The JVM services' heaps are fixed (wire_elasticsearch.go,
	// wire_logstash.go): their memory limits must hold them.
	for _, j := range []struct {
		svc        string
		heap, need int
	}{
		{Elasticsearch, elasticsearch.DefaultHeapMB, elasticsearch.MinMemoryMB(elasticsearch.DefaultHeapMB)},
		{Logstash, logstash.DefaultHeapMB, logstash.MinMemoryMB(logstash.DefaultHeapMB)},
	} {
		if m := c.ResourcesFor(j.svc).MemoryMB; m > 0 && m < j.need {
			ps.Add("resources."+j.svc+".memoryMb", fmt.Sprintf("%d MB cannot hold %s's %d MB heap", m, j.svc, j.heap),
				fmt.Sprintf("raise it to at least %d", j.need))
		}
	}
	for svc, r := range c.Resources {
		key := "resources." + keyName(svc)
		if _, ok := DefaultResources[svc]; !ok {
			ps.Add(key, "is not a service", "use a service name, aurigraph-v11 or exporter")
			continue
		}
		if r.CPUs <= 0 || r.MemoryMB <= 0 {
			ps.Add(key, "has no CPU or memory limit", "set cpus and memoryMb above 0")
			continue
		}
		if r.CPUs > maxCPUs {
			ps.Add(key+".cpus", fmt.Sprintf("%g is out of range", r.CPUs), fmt.Sprintf("use 0-%d cores", maxCPUs))
		}
		if r.CPUsReservation < 0 {
			ps.Add(key+".cpusReservation", fmt.Sprintf("%g is negative", r.CPUsReservation), fmt.Sprintf("use 0-%d cores, at most cpus", maxCPUs))
		}
		checkRange(ps, key+".memoryMb", r.MemoryMB, 1, maxMemoryGB*1024)
		checkRange(ps, key+".memoryReservationMb", r.MemoryReservationMB, 0, maxMemoryGB*1024)
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
	for ui := range e.MonitoringHosts {
		if !contains(MonitoringUIs, ui) {
			ps.Add("edge.monitoringHostnames."+keyName(ui), "is not a monitoring UI", "use "+strings.Join(MonitoringUIs, ", "))
		}
	}
	if !dnsNameRE.MatchString(e.APIHostname) {
		ps.Add("edge.apiHostname", fmt.Sprintf("%q is not a DNS name", e.APIHostname), "set the public API name, e.g. api.example.com")
	}
	if e.GRPCHostname != "" && !dnsNameRE.MatchString(e.GRPCHostname) {
		ps.Add("edge.grpcHostname", fmt.Sprintf("%q is not a DNS name", e.GRPCHostname), "set the public gRPC name or leave it empty")
	}
	seen := map[string]string{e.APIHostname: "apiHostname"}
	for _, ui := range MonitoringUIs {
		name := e.MonitoringHosts[ui]
		key := "edge.monitoringHostnames." + ui
		if !dnsNameRE.MatchString(name) {
			ps.Add(key, fmt.Sprintf("%s is not a DNS name", describe(name)), "set the name the gateway serves "+ui+" on")
			continue
		}
		if other, dup := seen[name]; dup {
			ps.Add(key, fmt.Sprintf("%q is also %s", name, other), "give every name its own host name")
		}
		seen[name] = key
	}
	for i, cidr := range e.AllowedMonitoringCIDRs {
		if _, err := parsePrefix(cidr); err != nil {
			ps.Add(fmt.Sprintf("edge.allowedMonitoringCidrs[%d]", i), fmt.Sprintf("%s is not a CIDR", describe(cidr)), "use a network such as 198.51.100.0/24")
		}
	}
	if e.RateLimitPerSecond < 1 || e.RateLimitBurst < 1 {
		ps.Add("edge", "rate limit or burst is below 1", "set rateLimitPerSecond and rateLimitBurst to at least 1")
	} else {
		checkRange(ps, "edge.rateLimitPerSecond", e.RateLimitPerSecond, 1, maxRate)
		checkRange(ps, "edge.rateLimitBurst", e.RateLimitBurst, 1, maxRate)
	}
}

func validateMisc(c *Config, ps *Problems) {
	if _, ok := parseClock(c.Updates.RebootTime); !ok {
		ps.Add("updates.rebootTime", fmt.Sprintf("%s is not a time of day", describe(c.Updates.RebootTime)), "use HH:MM on 24 hours, e.g. 03:30")
	}
	if p, err := parsePrefix(c.Network.Subnet); err != nil || !p.Addr().Is4() || !p.Addr().IsPrivate() || p.Bits() > 24 || p.Bits() < 8 || p.Masked() != p {
		ps.Add("network.subnet", fmt.Sprintf("%s is not a usable subnet", describe(c.Network.Subnet)), "use a private IPv4 network of /8 to /24, e.g. 172.28.0.0/16")
	} else {
		validateZoneSubnets(c, p, ps)
	}
	if !networkNameRE.MatchString(c.Network.Name) {
		ps.Add("network.name", fmt.Sprintf("%s is not a Docker network name", describe(c.Network.Name)), "use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters")
	}
	pf := c.Preflight
	if pf.MinCPUs < 1 || pf.MinMemoryGB < 1 || pf.MinDiskGB < 1 {
		ps.Add("preflight", "thresholds are missing", "set minCpus, minMemoryGb and minDiskGb (prod: 32, 64, 200)")
	} else {
		checkRange(ps, "preflight.minCpus", pf.MinCPUs, 1, maxCPUs)
		checkRange(ps, "preflight.minMemoryGb", pf.MinMemoryGB, 1, maxMemoryGB)
		checkRange(ps, "preflight.minDiskGb", pf.MinDiskGB, 1, maxDiskGB)
	}
	checkDataPath(ps, "preflight.dataPath", pf.DataPath)
	r := c.Retention
	if r.PrometheusDays < 1 || r.ElasticsearchDays < 1 {
		ps.Add("retention", "a retention is below 1 day", "set prometheusDays and elasticsearchDays to at least 1")
	} else {
		checkRange(ps, "retention.prometheusDays", r.PrometheusDays, 1, maxRetentionDays)
		checkRange(ps, "retention.elasticsearchDays", r.ElasticsearchDays, 1, maxRetentionDays)
	}
	b := r.Backups
	if b.Hourly < 0 || b.Daily < 1 || b.Weekly < 0 || b.Monthly < 0 {
		ps.Add("retention.backups", "keeps no daily backup or a negative count", "keep at least 1 daily backup")
	} else {
		for k, v := range map[string]int{"hourly": b.Hourly, "daily": b.Daily, "weekly": b.Weekly, "monthly": b.Monthly} {
			checkRange(ps, "retention.backups."+k, v, 0, maxBackupsKept)
		}
	}
	validateSSH(c, ps)
	p := c.PKI
	checkRange(ps, "pki.validityHours", p.ValidityHours, 1, maxCertHours)
	checkRange(ps, "pki.earlyRenewalHours", p.EarlyRenewalHours, 1, maxCertHours)
	checkRange(ps, "pki.caValidityHours", p.CAValidityHours, 1, maxCertHours)
	if p.ValidityHours <= p.EarlyRenewalHours {
		ps.Add("pki.validityHours", fmt.Sprintf("%d is not above earlyRenewalHours %d", p.ValidityHours, p.EarlyRenewalHours), "make certificates live longer than their renewal window")
	}
	if p.Rotation < 0 {
		ps.Add("pki.rotation", "is negative", "use 0 and increase it by one to rotate every certificate")
	} else {
		checkRange(ps, "pki.rotation", p.Rotation, 0, maxRotation)
	}
	a := c.App
	checkRange(ps, "app.targetTps", a.TargetTPS, 1, maxTargetTPS)
	checkRange(ps, "app.batchSize", a.BatchSize, 1, maxBatchSize)
	checkRange(ps, "app.parallelThreads", a.ParallelThreads, 1, maxThreads)
	// The SPEC's ranges for every replica's pool; with them the minimum is
	// always below the maximum.
	checkRange(ps, "app.datasourceMaxSize", a.DatasourceMaxSize, minPoolMax, maxPoolMax)
	checkRange(ps, "app.datasourceMinSize", a.DatasourceMinSize, minPoolMin, maxPoolMin)
	checkRange(ps, "postgres.maxConnections", c.Postgres.MaxConnections, 1, maxPostgresConnections)
	// Below 10 s each switch archives a 16 MB segment for little gain.
	checkRange(ps, "postgres.archiveTimeoutSeconds", c.Postgres.ArchiveTimeoutSeconds, 10, 3600)
	validateLogDisk(c, ps)
	validatePlacementCapacity(c, ps)
	validateTime(c, ps)
	validateSelfHealing(c, ps)
}

// validateSelfHealing: the watchdog's bounds, and per-service thresholds
// only for services this program deploys (a misspelt service would
// silently take the default).
func validateSelfHealing(c *Config, ps *Problems) {
	s := c.SelfHealing
	checkRange(ps, "selfHealing.intervalSeconds", s.IntervalSeconds, host.MinWatchdogIntervalSeconds, host.MaxWatchdogIntervalSeconds)
	checkRange(ps, "selfHealing.backoffSeconds", s.BackoffSeconds, 1, host.MaxWatchdogBackoffSeconds)
	checkRange(ps, "selfHealing.maxRestartsPerHour", s.MaxRestartsPerHour, 1, host.MaxWatchdogMaxPerHour)
	known := map[string]bool{host.WatchdogDefaultKey: true, App: true}
	for _, svc := range Services {
		known[svc] = true
	}
	for _, k := range slices.Sorted(maps.Keys(s.UnhealthyChecks)) {
		key := fmt.Sprintf("selfHealing.unhealthyChecks.%q", k)
		if !known[k] {
			ps.Add(key, "is not a service of this stack", fmt.Sprintf("use %s or one of %s, %s", host.WatchdogDefaultKey, strings.Join(Services, ", "), App))
			continue
		}
		checkRange(ps, key, s.UnhealthyChecks[k], 1, host.MaxWatchdogChecks)
	}
}

// validateTime: chrony's servers are names or addresses and nothing else
// (each lands in chrony.conf), and the offset bound is a real bound.
func validateTime(c *Config, ps *Problems) {
	t := c.Time
	if len(t.Servers) == 0 || len(t.Servers) > host.MaxTimeServers {
		ps.Add("time.servers", fmt.Sprintf("lists %d servers", len(t.Servers)), fmt.Sprintf("list 1-%d NTP servers the hosts reach on UDP port 123, or leave it out for Debian's pool", host.MaxTimeServers))
	}
	seen := map[string]int{}
	for i, s := range t.Servers {
		key := fmt.Sprintf("time.servers[%d]", i)
		if err := host.CheckTimeServer(s); err != nil {
			ps.Add(key, fmt.Sprintf("%s is neither a DNS name nor a usable IP address", describe(s)), "use a lower-case DNS name such as ntp1.example.net or a plain IPv4/IPv6 address (not loopback, multicast or unspecified)")
		} else if j, dup := seen[s]; dup {
			ps.Add(key, fmt.Sprintf("%s duplicates time.servers[%d]", describe(s), j), "list every server once")
		} else {
			seen[s] = i
		}
	}
	checkRange(ps, "time.maxOffsetMs", t.MaxOffsetMs, 1, host.MaxClockOffsetBoundMs)
}

// validateZoneSubnets: each trust zone gets one of 2^zones.SlotBits shares
// of network.subnet (internal/zones), which must hold an address for every
// container on the zone (the application replicas of both slots, as a
// release runs both) and for every host's endpoint on the overlay.
func validateZoneSubnets(c *Config, base netip.Prefix, ps *Problems) {
	_, replicas, ok := poolerClientsNeeded(c)
	if !ok {
		return // the replica counts are reported elsewhere
	}
	bits := base.Bits() + zones.SlotBits
	room := zones.Capacity(bits)
	for _, info := range zones.All {
		need := len(c.Hosts)
		for _, role := range zones.Members(info.Zone) {
			if role == App {
				need += replicas
			} else {
				need++
			}
		}
		if need > room {
			ps.Add("network.subnet", fmt.Sprintf("%s gives each trust zone a /%d of %d addresses, but the %s zone needs %d (%d application replicas of both slots, its other services and %d hosts)",
				base, bits, room, info.Zone, need, replicas, len(c.Hosts)),
				"use a larger network.subnet (a shorter prefix), e.g. 172.28.0.0/16")
			return
		}
	}
}

// poolerClientsNeeded is what the application can open at most: every
// replica of both slots (a release runs both) with a full JDBC pool, each
// connection a client of the pooler. ok is false while the figures it
// multiplies are out of range (reported elsewhere), so the product never
// overflows.
func poolerClientsNeeded(c *Config) (need, replicas int, ok bool) {
	for _, name := range TierOrder {
		r := c.Tiers.ByName(name).Replicas
		if r < 0 || r > maxReplicas {
			return 0, 0, false
		}
		replicas += r
	}
	if c.App.DatasourceMaxSize < minPoolMax || c.App.DatasourceMaxSize > maxPoolMax {
		return 0, 0, false
	}
	return 2 * replicas * c.App.DatasourceMaxSize, 2 * replicas, true
}

// validatePooler checks the pool arithmetic. Clients: every replica's JDBC
// pool fits the pooler's max_client_conn. Servers: the pooler's server pool
// and its reserve fit PostgreSQL's max_connections once the connections
// reserved for others (postgresReserved) are set aside. Each problem says
// which number to change.
func validatePooler(c *Config, ps *Problems) {
	p := c.Pooler
	clientsOK := inRange(ps, "pooler.maxClientConn", p.MaxClientConn, 1, maxPoolerClients)
	poolOK := inRange(ps, "pooler.defaultPoolSize", p.DefaultPoolSize, 1, maxPostgresConnections)
	reserveOK := inRange(ps, "pooler.reservePoolSize", p.ReservePoolSize, 0, maxPostgresConnections)
	if need, replicas, ok := poolerClientsNeeded(c); ok && clientsOK && p.MaxClientConn < need {
		ps.Add("pooler.maxClientConn", fmt.Sprintf("%d is below the %d client connections the application can open (%d replicas of both slots x app.datasourceMaxSize %d)", p.MaxClientConn, need, replicas, c.App.DatasourceMaxSize),
			fmt.Sprintf("raise pooler.maxClientConn to at least %d, or lower app.datasourceMaxSize or the tiers' replicas", need))
	}
	maxConn := c.Postgres.MaxConnections
	if poolOK && reserveOK && maxConn >= 1 && maxConn <= maxPostgresConnections {
		reserved := postgresReservedTotal()
		server := p.DefaultPoolSize + p.ReservePoolSize
		if avail := maxConn - reserved; server > avail {
			ps.Add("pooler.defaultPoolSize", fmt.Sprintf("%d + pooler.reservePoolSize %d = %d server connections do not fit postgres.maxConnections %d minus the %d reserved (%s)",
				p.DefaultPoolSize, p.ReservePoolSize, server, maxConn, reserved, postgresReservedList()),
				fmt.Sprintf("lower pooler.defaultPoolSize + pooler.reservePoolSize to at most %d, or raise postgres.maxConnections to at least %d (PostgreSQL applies it on its next restart)", max(avail, 0), server+reserved))
		}
	}
	if ref := c.Images[ImagePgBouncer]; ref != "" && !pgbouncer.ImageSupportsPreparedStatements(ref) {
		v := pgbouncer.MinPreparedStatementsVersion
		ps.Add("images."+ImagePgBouncer, fmt.Sprintf("%q is not PgBouncer %d.%d or later: pgbouncer.ini sets max_prepared_statements, which JDBC's prepared statements need in transaction mode", ref, v[0], v[1]),
			"pin an edoburu/pgbouncer tag of that version or later, e.g. edoburu/pgbouncer:v1.25.2-p0")
	}
}

// validatePlacementCapacity: the replicas of both slots, at their scales,
// fit the app hosts' stated capacity, less what the services placed there reserve, as the
// policy pack's host-capacity rule counts it (Place, HostLoad). Skipped while the
// tiers, hosts or the application's resources are invalid (reported
// elsewhere), so the placement only runs on figures in range.
func validatePlacementCapacity(c *Config, ps *Problems) {
	app := c.ResourcesFor(App)
	if !tiersValid(c) || len(c.Hosts) == 0 || len(c.Hosts) > maxHosts || app.CPUsReservation < 0 || app.MemoryReservationMB < 0 {
		return
	}
	for _, h := range c.Hosts {
		if h.Capacity.CPUs < 1 || h.Capacity.MemoryGB < 1 {
			return // validateHosts asks for it
		}
	}
	// Every replica that runs must fit, both slots' during a release: the
	// policy pack's host-capacity rule counts them all. A release on hosts
	// sized for one slot runs the slots at scales that fit (release.*.scale).
	p := Place(c)
	validatePrometheusLimits(c, p, ps)
	var over []string
	var overKeys []string
	freeCores, freeMB, fit := 0.0, 0, 0
	for _, l := range p.Loads {
		if !l.App {
			continue
		}
		freeCores += max(float64(l.Capacity.CPUs)-l.ServiceCores, 0)
		freeMB += max(l.Capacity.MemoryGB*1024-l.ServiceMemoryMB, 0)
		fit += room(l, app)
		if l.Over() {
			over = append(over, fmt.Sprintf("%s with %d replicas reserves %g of %d cores, %d of %d GB", l.Host, l.Replicas,
				l.Cores, l.Capacity.CPUs, ceilGB(l.MemoryMB), l.Capacity.MemoryGB))
			overKeys = append(overKeys, fmt.Sprintf("hosts[%d].capacity", l.Index))
		}
	}
	if len(over) == 0 {
		return
	}
	n := len(p.Replicas)
	shown := over
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(over)-5))
	}
	keys := overKeys
	if len(keys) > 3 {
		keys = append(keys[:3:3], "…")
	}
	key, what, also := "tiers", fmt.Sprintf("%d replicas", n), ""
	if c.Release.Green.Image != "" {
		key = "release"
		what = fmt.Sprintf("%d replicas of both slots (blue at scale %d%%, green at %d%%)", n, c.Release.Blue.ScalePercent(), c.Release.Green.ScalePercent())
		also = ", or run the slots at lower scales (release.blue.scale, release.green.scale: the release controller plans scales that fit)"
	}
	ps.Add(key, fmt.Sprintf("%s reserve %g cores and %d GB (%g cores, %d MB each), but the app hosts have room for %d: %g cores and %d GB left after the services placed on them; over capacity: %s",
		what, float64(n)*app.ReservedCores(), ceilGB(n*app.MemoryReservationMB), app.ReservedCores(), app.MemoryReservationMB,
		fit, freeCores, freeMB/1024, strings.Join(shown, "; ")),
		fmt.Sprintf("add hosts with the app role, raise %s (cpus, memoryGb), lower resources.%s.cpusReservation or memoryReservationMb, or lower tiers.*.replicas%s", strings.Join(keys, ", "), App, also))
}

// validatePrometheusLimits: Prometheus's memory limit holds the active
// series of every target the placement gives it, and its host's disk the
// samples it keeps (components/prometheus, Series).
func validatePrometheusLimits(c *Config, p Placement, ps *Problems) {
	v := prometheusScrapeConfig(c, p)
	series := prometheus.Series(v)
	targets := fmt.Sprintf("%d targets (%d replicas, %d hosts with 3 exporters each, %d services)",
		len(v.Replicas)+3*len(v.Hosts)+len(v.Services)+len(v.Alertmanagers)+2, len(v.Replicas), len(v.Hosts), len(v.Services)+len(v.Alertmanagers)+2)
	if mem, need := c.ResourcesFor(Prometheus).MemoryMB, prometheus.MemoryMBNeeded(series); mem > 0 && mem < need {
		ps.Add("resources."+Prometheus+".memoryMb", fmt.Sprintf("%d MB is below the %d MB Prometheus needs for about %d active series from %s, %d KiB per series",
			mem, need, series, targets, prometheus.BytesPerSeries>>10),
			fmt.Sprintf("raise it to at least %d (with cpus and the reservations) on a monitoring host with room for it", need))
	}
	days := c.Retention.PrometheusDays
	if days < 1 || days > maxRetentionDays {
		return
	}
	for i, h := range c.Hosts {
		if h.Name != p.Services[Prometheus] || h.Capacity.DiskGB < 1 {
			continue
		}
		disk := h.Capacity.DiskGB
		if p.Services[Elasticsearch] == h.Name {
			disk -= elasticsearch.MinDataDiskGB // validateLogDisk's share
		}
		need := prometheus.DiskGBNeeded(series, prometheus.DefaultScrapeInterval, days)
		if need > disk {
			perDay := max(prometheus.DiskGBNeeded(series, prometheus.DefaultScrapeInterval, 1), 1)
			ps.Add("retention.prometheusDays", fmt.Sprintf("%d days of about %d active series from %s take about %d GB, above the %d GB %s has for them",
				days, series, targets, need, disk, h.Name),
				fmt.Sprintf("lower it to at most %d or raise hosts[%d].capacity.diskGb to at least %d", max(disk/perDay, 1), i, h.Capacity.DiskGB+need-disk))
		}
	}
}

// tiersValid reports tiers whose figures validateTiers accepts.
func tiersValid(c *Config) bool {
	for _, name := range TierOrder {
		t := c.Tiers.ByName(name)
		if t.Replicas < 1 || t.Replicas > maxReplicas || len(t.Groups) > maxReplicas {
			return false
		}
		sum := 0
		for _, g := range t.Groups {
			if g < 1 || g > maxReplicas {
				return false
			}
			sum += g
		}
		if sum != t.Replicas {
			return false
		}
	}
	return true
}

func ceilGB(mb int) int { return (mb + 1023) / 1024 }

// validateLogDisk: Elasticsearch keeps the logs on its host's data disk.
func validateLogDisk(c *Config, ps *Problems) {
	name := placedHost(c, Elasticsearch)
	for i, h := range c.Hosts {
		if h.Name == name && h.Capacity.DiskGB > 0 && h.Capacity.DiskGB < elasticsearch.MinDataDiskGB {
			ps.Add(fmt.Sprintf("hosts[%d].capacity.diskGb", i), fmt.Sprintf("%d GB is below the %d GB Elasticsearch keeps logs in", h.Capacity.DiskGB, elasticsearch.MinDataDiskGB),
				"raise it or place elasticsearch on a host with a larger disk (the logging role or placement.elasticsearch)")
		}
	}
}

func validateSSH(c *Config, ps *Problems) {
	s := c.SSH
	checkRange(ps, "ssh.dialErrorLimit", s.DialErrorLimit, 1, 100)
	checkRange(ps, "ssh.perDialTimeoutSeconds", s.PerDialTimeoutSeconds, 1, 600)
	checkRange(ps, "ssh.stepTimeoutMinutes", s.StepTimeoutMinutes, 1, 1440)
	if len(s.AllowFrom) == 0 {
		ps.Add("ssh.allowFrom", "is not set", "list the addresses or CIDRs the operator and CI connect from (the host firewalls allow SSH only from there, the jump host and the cluster peers)")
	}
	for i, src := range s.AllowFrom {
		if _, err := parsePrefix(src); err != nil {
			if _, err := parseAddr(src); err != nil {
				ps.Add(fmt.Sprintf("ssh.allowFrom[%d]", i), fmt.Sprintf("%s is neither an address nor a CIDR", describe(src)), "use e.g. 198.51.100.7 or 198.51.100.0/24")
			}
		}
	}
	j := s.Jump
	if j == nil {
		return
	}
	if j.User == "" {
		ps.Add("ssh.jumpHost.user", "is empty", "set the SSH user the program logs in to the jump host as")
	} else {
		checkUser(ps, "ssh.jumpHost.user", j.User)
	}
	checkPort(ps, "ssh.jumpHost.port", j.Port, "use 1-65535 (default 22)")
	// A name is fine: ssh.allowFrom (required) says where it connects from.
	if _, err := parseAddr(j.Address); err != nil && !isHostName(j.Address) {
		ps.Add("ssh.jumpHost.address", fmt.Sprintf("%s is neither an IP address nor a host name", describe(j.Address)), "use the jump host's IPv4 or IPv6 address (no zone) or its DNS name")
	}
	checkHostKey(ps, "ssh.jumpHost.hostKey", j.HostKey, "pin the jump host's key")
}

func validateSecrets(c *Config, raw map[string]string, ps *Problems) {
	// The alert receivers' secrets are checked by validateAlerting, which
	// can say which receiver needs them.
	for _, key := range configuredSecrets(c) {
		v, ok := raw[key]
		switch {
		case !ok || v == "":
			ps.Add(key, "required secret is not set", fmt.Sprintf("run `pulumi config set --secret %s <value>`", key))
		case isPassword(key) && IsWeakCredential(v):
			ps.Add(key, "is a weak or default credential", "use at least 12 characters that are not a well-known default")
		}
	}
	// initdb reads the superuser's password from a file, up to the first
	// line break (the image's entrypoint): the rest would be lost.
	if v := raw[SecretPostgresPassword]; strings.ContainsAny(v, "\n\r\x00") {
		ps.Add(SecretPostgresPassword, "holds a line break or NUL, which initdb's password file cannot carry",
			fmt.Sprintf("choose a password on one line: `pulumi config set --secret %s <value>`", SecretPostgresPassword))
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

// Upper bounds: no figure is unbounded, so no arithmetic on config overflows
// and no script or file gets a figure its reader cannot take.
const (
	maxHosts         = 1000
	maxReplicas      = 500 // per tier
	maxCPUs          = 1024
	maxMemoryGB      = 16384
	maxDiskGB        = 1 << 20
	maxRetentionDays = 3650
	maxBackupsKept   = 1000
	maxCertHours     = 87600 // 10 years
	maxRotation      = 1 << 20
	maxRate          = 1000000
	maxTargetTPS     = 100000000
	maxBatchSize     = 10000000
	maxThreads       = 4096
	// The SPEC's JDBC pool of each replica: maximum 20-30, minimum 5-10.
	minPoolMax, maxPoolMax = 20, 30
	minPoolMin, maxPoolMin = 5, 10
	maxPostgresConnections = 100000 // PostgreSQL's own ceiling is 262143
	maxPoolerClients       = 100000 // 1,000 replicas of both slots at a pool of 50
)

var (
	// backupPathRE: the repository path goes into restic's sftp: URL and
	// the unit's command line, so plain characters only.
	backupPathRE = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	// userRE is a portable POSIX user name (useradd's default check).
	userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// labelRE is one RFC 1123 host name label.
	labelRE       = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	networkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	// imageRefRE is [registry[:port]/]path[:tag][@sha256:digest], the
	// characters Docker allows and nothing a shell or file treats specially.
	imageRefRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	// keyCommentRE: a host key's optional comment, plain words only.
	keyCommentRE = regexp.MustCompile(`^[A-Za-z0-9@._:+=/-]+$`)
	// pathRE: the characters a data path may hold.
	pathRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
	// systemPaths are directories a data path may be neither equal to nor below.
	systemPaths = []string{"/tmp", "/var/tmp", "/etc", "/proc", "/sys", "/dev", "/run", "/boot", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/root", "/var/run", "/var/lock", "/var/lib/docker", "/lost+found"}
	// topPaths may hold a data path but may not be one.
	topPaths = []string{"/", "/srv", "/opt", "/var", "/var/lib", "/home", "/mnt", "/media", "/data"}
)

// describe quotes a value for a message, cut short when long.
func describe(v string) string {
	if len(v) > 64 {
		return fmt.Sprintf("%q… (%d bytes)", v[:64], len(v))
	}
	return fmt.Sprintf("%q", v)
}

// keyName is a map key as part of a problem's key: quoted unless plain.
func keyName(k string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`).MatchString(k) {
		return k
	}
	return describe(k)
}

func checkRange(ps *Problems, key string, v, lo, hi int) {
	inRange(ps, key, v, lo, hi)
}

// inRange is checkRange that also says whether v is in range, for checks
// that go on to compute with it.
func inRange(ps *Problems, key string, v, lo, hi int) bool {
	if v < lo || v > hi {
		ps.Add(key, fmt.Sprintf("is %d", v), fmt.Sprintf("use %d-%d", lo, hi))
		return false
	}
	return true
}

func checkPort(ps *Problems, key string, v int, fix string) {
	if v < 1 || v > 65535 {
		ps.Add(key, fmt.Sprintf("%d is not a port", v), fix)
	}
}

func checkUser(ps *Problems, key, v string) {
	if !userRE.MatchString(v) {
		ps.Add(key, fmt.Sprintf("%s is not a user name", describe(v)), "use a POSIX user name: a lower-case letter or _, then up to 31 lower-case letters, digits, _ or -")
	}
}

// parseAddr accepts a plain IPv4 or IPv6 literal: no zone (fe80::1%eth0
// would reach nftables, unit files and daemon.json as is), no 4-in-6 form.
func parseAddr(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return a, err
	}
	if a.Zone() != "" || a.Is4In6() {
		return a, fmt.Errorf("%q is not a plain address", v)
	}
	return a, nil
}

// parsePrefix accepts a CIDR of a plain address.
func parsePrefix(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return p, err
	}
	if _, err := parseAddr(p.Addr().String()); err != nil {
		return p, err
	}
	return p, nil
}

func checkAddress(ps *Problems, key, v, fix string) {
	a, err := parseAddr(v)
	if err != nil {
		ps.Add(key, fmt.Sprintf("%s is not an IP address", describe(v)), fix+" (a plain IPv4 or IPv6 literal, no zone)")
		return
	}
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		ps.Add(key, fmt.Sprintf("%s is not a host's address", describe(v)), fix)
	}
}

// isHostName reports an RFC 1123 host name (at most 253 characters).
func isHostName(v string) bool {
	if v == "" || len(v) > 253 {
		return false
	}
	for _, l := range strings.Split(v, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// checkHostKey accepts exactly one public key line, "<type> <base64>" with
// an optional plain comment: a second line or an authorized_keys option
// would turn the pin into something else (a line that matches any key).
func checkHostKey(ps *Problems, key, v, fix string) {
	fields := strings.Split(v, " ")
	ok := len(fields) == 2 || len(fields) == 3
	if ok {
		pk, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(v))
		ok = err == nil && len(rest) == 0 && pk.Type() == fields[0] &&
			fields[1] == base64.StdEncoding.EncodeToString(pk.Marshal()) &&
			(len(fields) == 2 || keyCommentRE.MatchString(fields[2]))
	}
	if !ok {
		ps.Add(key, "is not one SSH public key line", fix+"; exactly one line \"<type> <base64> [comment]\"")
	}
}

// checkDataPath: an absolute, clean path of plain characters, not a system
// directory nor below one, nor a top-level directory itself.
func checkDataPath(ps *Problems, key, v string) {
	fix := "use an absolute, clean path of letters, digits, '.', '_' and '-' outside system directories, such as /srv/aurigraph"
	switch {
	case !strings.HasPrefix(v, "/"):
		ps.Add(key, fmt.Sprintf("%s is not absolute", describe(v)), fix)
	case contains(topPaths, v):
		ps.Add(key, fmt.Sprintf("%s is a top-level directory", describe(v)), fix)
	case len(v) > 200 || !pathRE.MatchString(v) || path.Clean(v) != v || strings.Contains(v+"/", "/../") || strings.Contains(v+"/", "/./"):
		ps.Add(key, fmt.Sprintf("%s is not a clean path", describe(v)), fix)
	default:
		for _, sys := range systemPaths {
			if v == sys || strings.HasPrefix(v, sys+"/") {
				ps.Add(key, fmt.Sprintf("%s is in the system directory %s", describe(v), sys), fix)
				return
			}
		}
	}
}

// validateAlerting: prod must send alerts somewhere, every configured
// receiver needs its credential (a secret) and its plain settings, and the
// timing is in Alertmanager's duration syntax.
func validateAlerting(c *Config, raw map[string]string, ps *Problems) {
	a := c.Alerting
	if c.Environment == "prod" && !a.HasReceiver() {
		ps.Add("alerting", "has no receiver: prod alerts would reach no one",
			"configure at least one of alerting.webhook, alerting.email, alerting.pagerduty or alerting.opsgenie (with its secret)")
	}
	needs := func(receiver, secret, what string) {
		if raw[secret] == "" {
			ps.Add(secret, "is not set, but alerting."+receiver+" is configured and needs "+what,
				fmt.Sprintf("run `pulumi config set --secret %s <value>`, or remove alerting.%s", secret, receiver))
		}
	}
	if a.Webhook != nil {
		needs("webhook", SecretAlertWebhookURL, "the URL it posts to")
	}
	if e := a.Email; e != nil {
		if len(e.To) == 0 {
			ps.Add("alerting.email.to", "is empty", "list the addresses alerts are sent to")
		}
		for i, to := range e.To {
			checkMailAddress(ps, fmt.Sprintf("alerting.email.to[%d]", i), to)
		}
		checkMailAddress(ps, "alerting.email.from", e.From)
		if h, p, err := net.SplitHostPort(e.Smarthost); err != nil || !(isHostName(h) || isIP(h)) || !isPort(p) {
			ps.Add("alerting.email.smarthost", fmt.Sprintf("%s is not host:port", describe(e.Smarthost)), "set the SMTP relay, e.g. smtp.example.com:587 (STARTTLS)")
		}
		if e.Username != "" {
			if !plainTokenRE.MatchString(e.Username) {
				ps.Add("alerting.email.username", fmt.Sprintf("%s is not a plain user name", describe(e.Username)), "use the relay's user name (letters, digits, @._+-)")
			}
			needs("email", SecretSMTPPassword, "the relay's password for "+e.Username)
		}
	}
	if a.PagerDuty != nil {
		needs("pagerduty", SecretPagerDutyRoutingKey, "an Events API v2 routing key")
	}
	if o := a.Opsgenie; o != nil {
		needs("opsgenie", SecretOpsgenieAPIKey, "an API key")
		if o.APIURL != "" {
			if u, err := url.Parse(o.APIURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
				ps.Add("alerting.opsgenie.apiUrl", fmt.Sprintf("%s is not an https URL", describe(o.APIURL)), "use https://api.eu.opsgenie.com/ for the EU, or leave it empty")
			}
		}
	}
	for _, d := range []struct{ key, v string }{
		{"groupWait", a.GroupWait}, {"groupInterval", a.GroupInterval},
		{"repeatInterval", a.RepeatInterval}, {"criticalRepeatInterval", a.CriticalRepeatInterval},
	} {
		if !alertmanager.ValidDuration(d.v) {
			ps.Add("alerting."+d.key, fmt.Sprintf("%s is not a duration", describe(d.v)), "use Alertmanager's syntax, e.g. 30s, 5m or 4h")
		}
	}
}

var plainTokenRE = regexp.MustCompile(`^[A-Za-z0-9@._+-]{1,128}$`)

func checkMailAddress(ps *Problems, key, v string) {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		ps.Add(key, fmt.Sprintf("%s is not a plain e-mail address", describe(v)), "use an address such as oncall@example.com")
	}
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}
