package rules

import (
	"path"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/aurigraph/infra/internal/imageref"
)

// Container rules follow the CIS Docker Benchmark's container runtime
// section (5.x) and image section (4.x); each names its CIS item.

// NonRootExceptions are the service kinds allowed to start as root, and why.
// Every other container must name a non-root user (CIS 4.1).
var NonRootExceptions = map[string]string{
	Postgres: "the official image's entrypoint runs initdb and fixes PGDATA ownership as root, then drops to the postgres user with su-exec",
	Gateway:  "the NGINX master process reads the TLS key and binds 80/443 as root; its workers run as the nginx user",
}

// ReadOnlyExceptions are the service kinds that cannot run on a read-only
// root filesystem, and why. Every other container must (CIS 5.13). None
// is left: Elasticsearch, Logstash and Kibana, which write their keystore,
// settings, logs and temporary files under their home at start, get tmpfs
// and host directories for exactly those paths (components/elasticsearch,
// logstash, kibana: Tmpfs, Dirs). A kind added here needs its reason.
var ReadOnlyExceptions = map[string]string{}

// AllowedCapabilities are the only capabilities a service kind may add back
// after dropping ALL (CIS 5.3); kinds not listed may add none.
var AllowedCapabilities = map[string][]string{
	Postgres:      {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"},
	Gateway:       {"CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE", "SETGID", "SETUID"},
	Redis:         {"SETGID", "SETUID"},
	Vault:         {"IPC_LOCK", "SETGID", "SETUID"},
	Elasticsearch: {"SETGID", "SETUID"},
}

// SensitiveHostPaths may never be mounted into a container (CIS 5.5, 5.31),
// nor anything below them; a Docker or containerd socket anywhere neither.
var SensitiveHostPaths = []string{"/", "/etc", "/proc", "/sys", "/var/run", "/run", "/boot", "/dev", "/usr", "/lib", "/root", "/var/lib/docker"}

func containerRules() []Rule {
	c := func(name, desc string, check func(r policyx.AnalyzerResource, p property.Map, env Env) []Finding) Rule {
		return Rule{Name: name, Description: desc, Types: []string{ContainerType},
			Resource: func(r policyx.AnalyzerResource, env Env) []Finding { return check(r, r.Properties, env) }}
	}
	return []Rule{
		c("container-resource-limits", "Every container has a memory limit and a CPU limit (CIS 5.10, 5.11).", checkLimits),
		c("container-reservations-within-limits", "Every container states memory and CPU reservations (cpuShares/1024 cores), none above its limit.", checkReservations),
		c("container-restart-policy", "Every container restarts by itself: always, unless-stopped or on-failure (CIS 5.14).", checkRestart),
		c("container-health-check", "Every container has a health check (CIS 4.6).", checkHealth),
		c("container-log-rotation", "Every container's logs rotate: json-file with max-size and max-file, local, or a remote log driver.", checkLogRotation),
		c("container-no-new-privileges", "Every container runs with no-new-privileges (CIS 5.25).", checkNoNewPrivileges),
		c("container-pid-limit", "Every container has a PID limit: the nproc ulimit, since the docker provider (pulumi-docker v4.11.2) has no pids-limit field (CIS 5.28).", checkPIDLimit),
		c("container-capabilities", "Every container drops ALL capabilities and adds back only those its service kind needs (CIS 5.3).", checkCapabilities),
		c("container-non-root-user", "Every container runs as a named non-root user, except the documented kinds whose image needs a root entrypoint (CIS 4.1).", checkNonRoot),
		c("container-read-only-rootfs", "Every container has a read-only root filesystem, except the documented kinds that cannot (CIS 5.13).", checkReadOnly),
		c("container-not-privileged", "No container is privileged (CIS 5.5).", checkNotPrivileged),
		c("container-no-host-namespaces", "No container shares the host's network, PID, IPC or user namespace (CIS 5.10, 5.16, 5.17, 5.31).", checkHostNamespaces),
		c("container-no-sensitive-mounts", "No container mounts the Docker socket, a host device or a sensitive host path (/, /etc, /proc, /sys, /var/run, …) (CIS 5.6, 5.18, 5.32).", checkMounts),
		{
			Name:        "image-pinned",
			Description: "Every image is pinned by a version tag or digest, never latest or untagged (CIS 5.27).",
			Types:       []string{ContainerType, RemoteImageType},
			Resource:    checkImagePinned,
		},
		{
			Name: "image-digest",
			Description: "Every image is pinned by digest (name:tag@sha256:…, written by `make pin`), so a tag moved in its registry changes nothing deployed (CIS 5.27). " +
				"Advisory until a stack is pinned; its policy config then makes it mandatory.",
			Types:    []string{ContainerType, RemoteImageType},
			Resource: checkImageDigest,
			OptIn:    "a stack's images carry digests only once `make pin` has written them",
		},
	}
}

func checkLimits(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	var out []Finding
	name := displayName(p, r.URN)
	if mem, s := num(p.Get("memory")); s == absent || s == invalid || (s == known && mem <= 0) {
		out = append(out, found(r, "container %s has no memory limit: set memory (MB)", name))
	}
	if cpus, s := num(p.Get("cpus")); s == absent || s == invalid || (s == known && cpus <= 0) {
		out = append(out, found(r, "container %s has no CPU limit: set cpus", name))
	}
	return out
}

// cpuReservation is the reserved cores a container states: components/container
// encodes the reservation as cpuShares = cores × 1024.
func cpuReservation(p property.Map) (float64, state) {
	shares, s := num(p.Get("cpuShares"))
	return shares / 1024, s
}

func checkReservations(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	var out []Finding
	name := displayName(p, r.URN)
	mem, ms := num(p.Get("memory"))
	res, rs := num(p.Get("memoryReservation"))
	switch {
	case rs == absent || rs == invalid || (rs == known && res <= 0):
		out = append(out, found(r, "container %s states no memory reservation: set memoryReservation (MB)", name))
	case rs == known && ms == known && res > mem:
		out = append(out, found(r, "container %s reserves %g MB of memory, above its %g MB limit", name, res, mem))
	}
	cpus, cs := num(p.Get("cpus"))
	cres, crs := cpuReservation(p)
	switch {
	case crs == absent || crs == invalid || (crs == known && cres <= 0):
		out = append(out, found(r, "container %s states no CPU reservation: set cpuShares (1024 per reserved core)", name))
	case crs == known && cs == known && cres > cpus+1e-9:
		out = append(out, found(r, "container %s reserves %.2f cores (cpuShares %g), above its %g-core limit", name, cres, cres*1024, cpus))
	}
	return out
}

func checkRestart(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	v, s := str(p.Get("restart"))
	if s == unknown {
		return nil
	}
	switch v {
	case "always", "unless-stopped", "on-failure":
		return nil
	}
	return []Finding{found(r, "container %s has restart policy %q: use unless-stopped, always or on-failure", displayName(p, r.URN), v)}
}

func checkHealth(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	hc, s := obj(p.Get("healthcheck"))
	if s == unknown {
		return nil
	}
	tests, ts := strs(hc.Get("tests"))
	if ts == unknown {
		return nil
	}
	if len(tests) == 0 || strings.EqualFold(tests[0], "NONE") {
		return []Finding{found(r, "container %s has no health check: set healthcheck.tests", displayName(p, r.URN))}
	}
	return nil
}

// remoteLogDrivers ship logs off the host, where rotation is the collector's job.
var remoteLogDrivers = []string{"journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "gcplogs"}

func checkLogRotation(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	name := displayName(p, r.URN)
	driver, s := str(p.Get("logDriver"))
	switch {
	case s == unknown:
		return nil
	case s != known || driver == "":
		return []Finding{found(r, "container %s has no log driver: set logDriver json-file with logOpts max-size and max-file", name)}
	case driver == "local" || isOneOf(driver, remoteLogDrivers):
		return nil
	case driver != "json-file":
		return []Finding{found(r, "container %s logs with driver %q, which does not rotate: use json-file with max-size and max-file", name, driver)}
	}
	opts, unknownOpt, os := strMap(p.Get("logOpts"))
	if os == unknown || unknownOpt {
		return nil
	}
	var missing []string
	for _, k := range []string{"max-size", "max-file"} {
		if opts[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return []Finding{found(r, "container %s does not rotate its json-file logs: set logOpts %s", name, strings.Join(missing, " and "))}
	}
	return nil
}

func checkNoNewPrivileges(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	opts, s := strs(p.Get("securityOpts"))
	if s == unknown {
		return nil
	}
	for _, o := range opts {
		switch strings.ReplaceAll(strings.TrimSpace(o), "=", ":") {
		case "no-new-privileges", "no-new-privileges:true":
			return nil
		}
	}
	return []Finding{found(r, "container %s may gain new privileges: add securityOpts no-new-privileges:true", displayName(p, r.URN))}
}

// checkPIDLimit wants the nproc ulimit. Docker's --pids-limit (the pids
// cgroup) is what CIS 5.28 names, but pulumi-docker v4.11.2's ContainerArgs
// cannot set it: its fields are Attach, Capabilities, CgroupParent,
// CgroupnsMode, Command, ContainerReadRefreshTimeoutMilliseconds, CpuPeriod,
// CpuQuota, CpuSet, CpuShares, Cpus, DestroyGraceSeconds, Devices, Dns,
// DnsOpts, DnsSearches, Domainname, Entrypoints, Envs, Gpus, GroupAdds,
// Healthcheck, Hostname, Hosts, Image, Init, IpcMode, Labels, LogDriver,
// LogOpts, Logs, MaxRetryCount, Memory, MemoryReservation, MemorySwap,
// Mounts, MustRun, Name, NetworkMode, NetworksAdvanced, PidMode, Ports,
// Privileged, PublishAllPorts, ReadOnly, RemoveVolumes, Restart, Rm, Runtime,
// SecurityOpts, ShmSize, Start, StdinOpen, StopSignal, StopTimeout,
// StorageOpts, Sysctls, Tmpfs, Tty, Ulimits, Uploads, User, UsernsMode,
// Volumes, Wait, WaitTimeout, WorkingDir. The closest enforced control is
// RLIMIT_NPROC: it counts the processes and threads of the container's user
// (per user, not per container), so it stops a fork bomb of a non-root
// service; root in a container is not bound by it.
func checkPIDLimit(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	limits, s := arr(p.Get("ulimits"))
	if s == unknown {
		return nil
	}
	for _, l := range limits {
		m, ms := obj(l)
		if ms == unknown {
			return nil
		}
		if n, _ := str(m.Get("name")); n != "nproc" {
			continue
		}
		soft, ss := num(m.Get("soft"))
		hard, hs := num(m.Get("hard"))
		if ss == unknown || hs == unknown {
			return nil
		}
		if ss == known && hs == known && soft > 0 && hard > 0 {
			return nil
		}
	}
	return []Finding{found(r, "container %s has no PID limit: add ulimit nproc with soft and hard limits (the provider has no pids-limit field)", displayName(p, r.URN))}
}

func capName(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}

func checkCapabilities(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	name, kind := displayName(p, r.URN), kindOf(p)
	caps, s := obj(p.Get("capabilities"))
	if s == unknown {
		return nil
	}
	var out []Finding
	drops, ds := strs(caps.Get("drops"))
	if ds != unknown {
		all := false
		for _, d := range drops {
			all = all || capName(d) == "ALL"
		}
		if !all {
			out = append(out, found(r, "container %s does not drop ALL capabilities: set capabilities.drops [ALL]", name))
		}
	}
	adds, as := strs(caps.Get("adds"))
	if as == unknown {
		return out
	}
	allowed := AllowedCapabilities[kind]
	var extra []string
	for _, a := range adds {
		if !isOneOf(capName(a), allowed) {
			extra = append(extra, capName(a))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		allowedText := "none"
		if len(allowed) > 0 {
			allowedText = strings.Join(allowed, ", ")
		}
		out = append(out, found(r, "container %s (%s) adds capabilities %s; this kind may add only: %s", name, kind, strings.Join(extra, ", "), allowedText))
	}
	return out
}

// isRootUser reports a user spec that runs as root ("", root, 0, 0:0, root:…).
func isRootUser(u string) bool {
	user := strings.TrimSpace(u)
	if i := strings.Index(user, ":"); i >= 0 {
		user = user[:i]
	}
	return user == "" || user == "root" || user == "0"
}

func checkNonRoot(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	kind := kindOf(p)
	if _, exempt := NonRootExceptions[kind]; exempt {
		return nil
	}
	u, s := str(p.Get("user"))
	if s == unknown || (s == known && !isRootUser(u)) {
		return nil
	}
	return []Finding{found(r, "container %s (%s) runs as root: set user to the image's non-root user (uid:gid)", displayName(p, r.URN), kind)}
}

func checkReadOnly(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	kind := kindOf(p)
	if _, exempt := ReadOnlyExceptions[kind]; exempt {
		return nil
	}
	ro, s := boolean(p.Get("readOnly"))
	if s == unknown || (s == known && ro) {
		return nil
	}
	return []Finding{found(r, "container %s (%s) has a writable root filesystem: set readOnly and mount tmpfs or volumes where it writes", displayName(p, r.URN), kind)}
}

func checkNotPrivileged(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	if priv, s := boolean(p.Get("privileged")); s == known && priv {
		return []Finding{found(r, "container %s is privileged", displayName(p, r.URN))}
	}
	return nil
}

func checkHostNamespaces(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	var out []Finding
	for _, ns := range []struct{ key, what string }{
		{"networkMode", "network"}, {"pidMode", "PID"}, {"ipcMode", "IPC"}, {"usernsMode", "user"},
	} {
		if v, s := str(p.Get(ns.key)); s == known && strings.EqualFold(strings.TrimSpace(v), "host") {
			out = append(out, found(r, "container %s shares the host's %s namespace (%s: host)", displayName(p, r.URN), ns.what, ns.key))
		}
	}
	return out
}

// IsSensitiveHostPath reports a host path no container may mount.
func IsSensitiveHostPath(hostPath string) bool {
	if strings.HasSuffix(hostPath, ".sock") && (strings.Contains(hostPath, "docker") || strings.Contains(hostPath, "containerd")) {
		return true
	}
	clean := path.Clean("/" + strings.TrimSpace(hostPath))
	for _, s := range SensitiveHostPaths {
		if clean == s || (s != "/" && strings.HasPrefix(clean, s+"/")) {
			return true
		}
	}
	return false
}

func checkMounts(r policyx.AnalyzerResource, p property.Map, _ Env) []Finding {
	name := displayName(p, r.URN)
	var out []Finding
	check := func(source, via string) {
		if IsSensitiveHostPath(source) {
			out = append(out, found(r, "container %s mounts the sensitive host path %s (%s)", name, source, via))
		}
	}
	if mounts, s := arr(p.Get("mounts")); s == known {
		for _, m := range mounts {
			mm, _ := obj(m)
			typ, _ := str(mm.Get("type"))
			src, ss := str(mm.Get("source"))
			if ss == known && (typ == "bind" || typ == "") {
				check(src, "mounts")
			}
		}
	}
	if vols, s := arr(p.Get("volumes")); s == known {
		for _, v := range vols {
			vm, _ := obj(v)
			if hp, hs := str(vm.Get("hostPath")); hs == known && hp != "" {
				check(hp, "volumes")
			}
		}
	}
	if devs, s := arr(p.Get("devices")); s == known && len(devs) > 0 {
		out = append(out, found(r, "container %s maps %d host device(s) into the container", name, len(devs)))
	}
	return out
}

// PinnedImage reports whether ref names an immutable image: a digest, an
// image ID, or a tag other than latest.
func PinnedImage(ref string) bool {
	ref = strings.TrimSpace(ref)
	if strings.Contains(ref, "@sha256:") || strings.HasPrefix(ref, "sha256:") {
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

// checkImageDigest refuses an image without a digest. An image ID
// ("sha256:…", what a container may name instead of a reference) is as
// immutable as a digest.
func checkImageDigest(r policyx.AnalyzerResource, _ Env) []Finding {
	key := "image"
	if r.Type == RemoteImageType {
		key = "name"
	}
	ref, s := str(r.Properties.Get(key))
	if s == unknown || (s == known && (imageref.HasDigest(ref) || imageref.ValidDigest(ref))) {
		return nil
	}
	return []Finding{found(r, "%s uses image %q, which has no digest: its registry can move the tag; run `make pin STACK=<stack>` to write name:tag@sha256:…", displayName(r.Properties, r.URN), ref)}
}

func checkImagePinned(r policyx.AnalyzerResource, env Env) []Finding {
	key := "image"
	if r.Type == RemoteImageType {
		key = "name"
	}
	ref, s := str(r.Properties.Get(key))
	if s == unknown || (s == known && PinnedImage(ref)) {
		return nil
	}
	return []Finding{found(r, "%s uses image %q, which is not pinned: use a version tag or a digest, never latest", displayName(r.Properties, r.URN), ref)}
}
