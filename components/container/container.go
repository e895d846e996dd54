// Package container is the one place where container defaults live: resource
// limits, restart policy, health check, log rotation and least privilege. Every
// service component builds its containers through New, so a rule changed here
// changes for the whole platform, and the policy pack checks the same rules.
package container

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/zones"
)

// Defaults shared by every container. Exported so tests and the policy pack
// can state them instead of repeating numbers.
const (
	RestartPolicy  = "unless-stopped"
	LogDriver      = "json-file"
	LogMaxSize     = "50m"
	LogMaxFile     = "5"
	NoNewPrivs     = "no-new-privileges:true"
	DefaultPIDs    = 4096 // nproc ulimit: the provider has no --pids-limit field
	NoFileLimit    = 65536
	StopTimeoutSec = 30
	// ManagedByLabel marks every container this program owns.
	ManagedByLabel = "com.aurigraph.managed-by"
	// ManagedByValue is ManagedByLabel's value on those containers.
	ManagedByValue = "pulumi"
	// ServiceLabel names the service kind; log lines carry it (json-file
	// "labels" option) so Logstash can tell the services apart.
	ServiceLabel = "com.aurigraph.service"
	// LogTag makes json-file write the container's name into every line's
	// attrs ("tag"): the hosts' rsyslog forwards it as container.name.
	LogTag = "{{.Name}}"
)

// Resources are a container's CPU and memory limits and reservations.
type Resources struct {
	CPUs                float64 `json:"cpus" doc:"CPU limit in cores, above 0 (fractions allowed)." range:"0-1024" example:"4" check:"validateResources"`
	CPUsReservation     float64 `json:"cpusReservation" doc:"CPU cores reserved; at most cpus." range:"0-1024" example:"2" check:"validateResources"`
	MemoryMB            int     `json:"memoryMb" doc:"Memory limit in MB." range:"1-16777216" example:"8192" check:"validateResources"`
	MemoryReservationMB int     `json:"memoryReservationMb" doc:"Memory reserved in MB; at most memoryMb." range:"0-16777216" example:"4096" check:"validateResources"`
}

// Health is a container health check.
type Health struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// HTTPHealth is the health check of a service that answers plain HTTP on
// localhost inside its container, probed with the image's wget: every 30 s,
// 5 s to answer, unhealthy after 3 failures once startPeriod has passed.
func HTTPHealth(port int, path string, startPeriod time.Duration) Health {
	return Health{
		Test:        []string{"CMD", "wget", "-q", "--spider", fmt.Sprintf("http://localhost:%d%s", port, path)},
		Interval:    30 * time.Second,
		Timeout:     5 * time.Second,
		StartPeriod: startPeriod,
		Retries:     3,
	}
}

// Port publishes a container port. IP must be a named address: the defaults
// never bind 0.0.0.0 unless the caller says so explicitly (only the gateway).
type Port struct {
	Internal int
	External int
	IP       string
	Protocol string // tcp (default) or udp
}

// Mount is a named volume or a host path mounted into the container.
type Mount struct {
	Volume   string // named docker volume; empty when HostPath is set
	HostPath string // bind mount from the host (config directories only)
	Target   string
	ReadOnly bool
}

// Networks are the networks a container joins and the role that chose them
// (labelled zones.RoleLabel, so the policy pack checks one against the other).
type Networks struct {
	Role string
	// Names are the networks' name outputs, so the container waits for each.
	Names []pulumi.StringInput
}

// SecretsMount is the container's read-only directory of secret files. The
// directory is mounted, not each file: a rotated file is renamed into place
// on the host, and a single-file bind mount would keep showing the old one.
const SecretsMount = "/run/secrets"

// SecretFile is one secret the container reads from a file, SecretPath(Name).
type SecretFile struct {
	Name    string             // file name, e.g. "postgres-password"
	Content pulumi.StringInput // kept secret end to end: stdin of the step that writes it
	// Env, when set, is the variable that tells the image where the file
	// is (POSTGRES_PASSWORD_FILE); empty when a command or a config file
	// names the path itself.
	Env string
}

// SecretsDir is the host directory of a container's secret files, beside
// the service's other directories.
func SecretsDir(serviceDir, containerName string) string {
	return path.Join(serviceDir, "secrets", containerName)
}

// SecretPath is where the container finds its secret file name.
func SecretPath(name string) string { return SecretsMount + "/" + name }

// SecretOwner is the uid:gid that owns a container's secret files: its
// user, which must be numeric (the image's names are not the host's).
func (s Spec) SecretOwner() (string, error) {
	uid, gid, found := strings.Cut(s.User, ":")
	if !found {
		gid = uid
	}
	if !numeric.MatchString(uid) || !numeric.MatchString(gid) {
		return "", fmt.Errorf("secret files need a numeric user (uid or uid:gid) to own them, got %q", s.User)
	}
	return uid + ":" + gid, nil
}

var (
	numeric        = regexp.MustCompile(`^[0-9]+$`)
	secretFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Spec describes one container. Fields left zero get the platform defaults.
type Spec struct {
	Service string // service kind, e.g. "postgres"; labels the container and its logs
	Name    string // container name, unique in the cluster, also a DNS name
	Image   pulumi.StringInput
	// Networks are the trust zones the container joins, chosen for its
	// role (network.Zones.For).
	Networks Networks
	Aliases  []string // extra DNS names on every network it joins
	Resource Resources
	Health   Health

	Env map[string]string // plain environment
	// EnvFrom are plain variables whose values are other resources'
	// outputs (a service's address): the container waits for them.
	EnvFrom map[string]pulumi.StringInput
	// SecretEnv are secret variables, for images that can read a secret
	// only from the environment (the policy pack lists which): every other
	// secret is a SecretFile.
	SecretEnv map[string]pulumi.StringInput
	// SecretFiles are written by configfile.NewContainerSecrets into
	// SecretsDir on the host (owned by User, mode 0400) and reach the
	// container in one read-only directory, SecretsMount.
	SecretFiles []SecretFile
	SecretsDir  string

	Command        []string
	Entrypoint     []string
	User           string // non-root user where the image supports one
	ReadOnlyRootFS bool
	CapAdd         []string // capabilities added back after dropping ALL
	Tmpfs          map[string]string
	Ports          []Port
	Mounts         []Mount
	Ulimits        map[string]int // extra ulimits (soft = hard)
	Sysctls        map[string]string
	Labels         map[string]string
	ShmSizeMB      int
	// WaitHealthy makes the provider wait for a healthy container, so resources
	// that depend on this one (the next rolling group) start only after it.
	WaitHealthy bool
	WaitTimeout time.Duration
}

// Validate reports what would make a container unsafe or unmanaged.
func (s Spec) Validate() error {
	var problems []string
	if s.Name == "" {
		problems = append(problems, "name is empty")
	}
	if s.Service == "" {
		problems = append(problems, "service is empty")
	}
	if s.Image == nil {
		problems = append(problems, "image is not set")
	}
	if len(s.Networks.Names) == 0 || slices.Contains(s.Networks.Names, nil) {
		problems = append(problems, "network is not set")
	}
	if s.Networks.Role == "" {
		problems = append(problems, "network role is not set")
	}
	r := s.Resource
	if r.CPUs <= 0 || r.MemoryMB <= 0 {
		problems = append(problems, "CPU and memory limits are required")
	}
	if r.CPUsReservation > r.CPUs || r.MemoryReservationMB > r.MemoryMB {
		problems = append(problems, "a reservation is above its limit")
	}
	if len(s.Health.Test) == 0 {
		problems = append(problems, "health check is missing")
	}
	for _, p := range s.Ports {
		if p.IP == "" {
			problems = append(problems, fmt.Sprintf("port %d is not bound to a named address", p.Internal))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.EnvFrom)) {
		_, plain := s.Env[k]
		_, secret := s.SecretEnv[k]
		switch {
		case s.EnvFrom[k] == nil:
			problems = append(problems, fmt.Sprintf("variable %s has no value", k))
		case plain || secret:
			problems = append(problems, fmt.Sprintf("variable %s is set twice", k))
		}
	}
	problems = append(problems, s.secretFileProblems()...)
	for _, m := range s.Mounts {
		if m.HostPath != "" && IsSensitiveHostPath(m.HostPath) {
			problems = append(problems, fmt.Sprintf("host path %s is sensitive", m.HostPath))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("container %q: %s", s.Name, strings.Join(problems, "; "))
	}
	return nil
}

func (s Spec) secretFileProblems() []string {
	if len(s.SecretFiles) == 0 {
		return nil
	}
	var problems []string
	if !path.IsAbs(s.SecretsDir) || IsSensitiveHostPath(s.SecretsDir) {
		problems = append(problems, fmt.Sprintf("secret files need a host directory of their own, got %q", s.SecretsDir))
	}
	if _, err := s.SecretOwner(); err != nil {
		problems = append(problems, err.Error())
	}
	names, vars := map[string]bool{}, map[string]bool{}
	for _, f := range s.SecretFiles {
		_, plain := s.Env[f.Env]
		_, from := s.EnvFrom[f.Env]
		_, secret := s.SecretEnv[f.Env]
		switch {
		case !secretFileName.MatchString(f.Name) || names[f.Name]:
			problems = append(problems, fmt.Sprintf("secret file name %q is not a plain, unique file name", f.Name))
		case f.Content == nil:
			problems = append(problems, fmt.Sprintf("secret file %s has no content", f.Name))
		case f.Env != "" && (plain || from || secret || vars[f.Env]):
			problems = append(problems, fmt.Sprintf("variable %s is set twice", f.Env))
		}
		names[f.Name] = true
		if f.Env != "" {
			vars[f.Env] = true
		}
	}
	for _, m := range s.Mounts {
		if path.Clean(m.Target) == SecretsMount {
			problems = append(problems, fmt.Sprintf("%s is the secret files' mount", SecretsMount))
		}
	}
	return problems
}

// IsSensitiveHostPath reports host paths no container may mount (CIS 5.5, 5.31).
func IsSensitiveHostPath(p string) bool {
	clean := strings.TrimRight(p, "/")
	if clean == "" {
		return true
	}
	for _, s := range []string{"/etc", "/proc", "/sys", "/var/run", "/run", "/boot", "/dev", "/var/lib/docker", "/usr", "/root"} {
		if clean == s || strings.HasPrefix(clean, s+"/") {
			return true
		}
	}
	return strings.HasSuffix(clean, "docker.sock")
}

// Args turns a Spec into provider arguments with every default applied.
func (s Spec) Args() (*docker.ContainerArgs, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	labels := map[string]string{ManagedByLabel: ManagedByValue, ServiceLabel: s.Service, zones.RoleLabel: s.Networks.Role}
	for k, v := range s.Labels {
		labels[k] = v
	}
	args := &docker.ContainerArgs{
		Name:              pulumi.String(s.Name),
		Image:             s.Image,
		Hostname:          pulumi.String(s.Name),
		Restart:           pulumi.String(RestartPolicy),
		Memory:            pulumi.Int(s.Resource.MemoryMB),
		MemoryReservation: pulumi.Int(s.Resource.MemoryReservationMB),
		// Swap equal to memory: the limit is a hard limit, no swap headroom.
		MemorySwap: pulumi.Int(s.Resource.MemoryMB),
		Cpus:       pulumi.String(FormatCPUs(s.Resource.CPUs)),
		CpuShares:  pulumi.Int(cpuShares(s.Resource.CPUsReservation)),
		LogDriver:  pulumi.String(LogDriver),
		LogOpts: pulumi.StringMap{
			"max-size": pulumi.String(LogMaxSize),
			"max-file": pulumi.String(LogMaxFile),
			"compress": pulumi.String("true"),
			"labels":   pulumi.String(ServiceLabel),
			"tag":      pulumi.String(LogTag),
		},
		SecurityOpts: pulumi.StringArray{pulumi.String(NoNewPrivs)},
		Privileged:   pulumi.Bool(false),
		Init:         pulumi.Bool(true),
		ReadOnly:     pulumi.Bool(s.ReadOnlyRootFS),
		StopTimeout:  pulumi.Int(StopTimeoutSec),
		Capabilities: &docker.ContainerCapabilitiesArgs{
			Drops: pulumi.StringArray{pulumi.String("ALL")},
			Adds:  pulumi.ToStringArray(sortedCopy(s.CapAdd)),
		},
		NetworksAdvanced: s.networks(),
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests:       pulumi.ToStringArray(s.Health.Test),
			Interval:    pulumi.String(durationOr(s.Health.Interval, 30*time.Second)),
			Timeout:     pulumi.String(durationOr(s.Health.Timeout, 10*time.Second)),
			StartPeriod: pulumi.String(durationOr(s.Health.StartPeriod, 30*time.Second)),
			Retries:     pulumi.Int(intOr(s.Health.Retries, 3)),
		},
		Ulimits: ulimits(s.Ulimits),
		Labels:  containerLabels(labels),
		Envs:    envs(s.envWithSecretPaths(), s.EnvFrom, s.SecretEnv),
		Mounts:  mounts(s.mountsWithSecrets()),
		Ports:   ports(s.Ports),
	}
	if s.User != "" {
		args.User = pulumi.String(s.User)
	}
	if len(s.Command) > 0 {
		args.Command = pulumi.ToStringArray(s.Command)
	}
	if len(s.Entrypoint) > 0 {
		args.Entrypoints = pulumi.ToStringArray(s.Entrypoint)
	}
	if len(s.Tmpfs) > 0 {
		args.Tmpfs = pulumi.ToStringMap(s.Tmpfs)
	}
	if len(s.Sysctls) > 0 {
		args.Sysctls = pulumi.ToStringMap(s.Sysctls)
	}
	if s.ShmSizeMB > 0 {
		args.ShmSize = pulumi.Int(s.ShmSizeMB)
	}
	if s.WaitHealthy {
		args.Wait = pulumi.Bool(true)
		args.WaitTimeout = pulumi.Int(int(durationOrDur(s.WaitTimeout, 5*time.Minute).Seconds()))
	}
	return args, nil
}

// envWithSecretPaths is the plain environment plus each secret file's
// variable, which holds its path (never its content).
func (s Spec) envWithSecretPaths() map[string]string {
	out := maps.Clone(s.Env)
	for _, f := range s.SecretFiles {
		if f.Env != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[f.Env] = SecretPath(f.Name)
		}
	}
	return out
}

func (s Spec) mountsWithSecrets() []Mount {
	if len(s.SecretFiles) == 0 {
		return s.Mounts
	}
	return append(slices.Clone(s.Mounts), Mount{HostPath: s.SecretsDir, Target: SecretsMount, ReadOnly: true})
}

// New creates the container with every default applied. Pass the host's
// Docker provider and the parent component in opts.
func New(ctx *pulumi.Context, name string, s Spec, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	args, err := s.Args()
	if err != nil {
		return nil, err
	}
	// Every container has a fixed name (its DNS name on the network), so a
	// replacement must remove the old one before Docker accepts the new one.
	opts = append(opts, pulumi.DeleteBeforeReplace(true))
	return docker.NewContainer(ctx, name, args, opts...)
}

// FormatCPUs writes a CPU limit (rounded to 0.01 core) exactly as the
// Docker provider reads it back from the engine's NanoCPUs
// (nanoInt64ToDecimalString in terraform-provider-docker v3.9.0, which
// pulumi-docker 4.11 wraps): "2.0" for 2, "0.5", "1.25", and "10." for
// whole numbers with a zero digit. The provider compares the input with
// what it read, without normalising either: "2" would differ from "2.0" on
// every preview after a refresh, and cpus replaces the container.
func FormatCPUs(c float64) string {
	nanos := int64(math.Round(c*100)) * 1e7
	if nanos == 0 {
		return "0"
	}
	r := new(big.Rat).SetFrac64(nanos, 1e9)
	s := r.FloatString(9)
	if strings.Count(s, "0") == 9 {
		return r.FloatString(1)
	}
	return strings.TrimRight(s, "0")
}

// networks joins every network of the spec, answering on each to the
// container's name and aliases.
func (s Spec) networks() docker.ContainerNetworksAdvancedArray {
	var out docker.ContainerNetworksAdvancedArray
	for _, n := range s.Networks.Names {
		out = append(out, &docker.ContainerNetworksAdvancedArgs{
			Name:    n,
			Aliases: pulumi.ToStringArray(append([]string{s.Name}, s.Aliases...)),
		})
	}
	return out
}

// cpuShares weighs CPU under contention by the reservation (1024 per core).
func cpuShares(reservedCores float64) int {
	if reservedCores <= 0 {
		return 1024
	}
	return int(reservedCores * 1024)
}

func durationOr(d, def time.Duration) string { return durationOrDur(d, def).String() }

func durationOrDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func intOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func sortedCopy(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

func ulimits(extra map[string]int) docker.ContainerUlimitArray {
	all := map[string]int{"nproc": DefaultPIDs, "nofile": NoFileLimit}
	for k, v := range extra {
		all[k] = v
	}
	var out docker.ContainerUlimitArray
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, &docker.ContainerUlimitArgs{Name: pulumi.String(k), Soft: pulumi.Int(all[k]), Hard: pulumi.Int(all[k])})
	}
	return out
}

func containerLabels(m map[string]string) docker.ContainerLabelArray {
	var out docker.ContainerLabelArray
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, &docker.ContainerLabelArgs{Label: pulumi.String(k), Value: pulumi.String(m[k])})
	}
	return out
}

// envs keeps each secret variable wrapped as a secret on its own element, so
// the plain ones stay readable in previews and the secret ones never show.
// Plain values and outputs are one sorted list: a value that becomes an
// output keeps its place, and the container's environment does not change.
func envs(plain map[string]string, from, secret map[string]pulumi.StringInput) pulumi.StringArray {
	all := map[string]pulumi.StringInput{}
	for k, v := range plain {
		all[k] = pulumi.String(v)
	}
	for k, v := range from {
		all[k] = v
	}
	var out pulumi.StringArray
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if v, ok := plain[k]; ok {
			out = append(out, pulumi.String(k+"="+v))
			continue
		}
		out = append(out, pulumi.Sprintf("%s=%s", k, all[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(secret)) {
		out = append(out, pulumi.ToSecret(pulumi.Sprintf("%s=%s", k, secret[k])).(pulumi.StringOutput))
	}
	return out
}

func mounts(ms []Mount) docker.ContainerMountArray {
	var out docker.ContainerMountArray
	for _, m := range ms {
		kind, source := "volume", m.Volume
		if m.HostPath != "" {
			kind, source = "bind", m.HostPath
		}
		out = append(out, &docker.ContainerMountArgs{
			Type:     pulumi.String(kind),
			Source:   pulumi.String(source),
			Target:   pulumi.String(m.Target),
			ReadOnly: pulumi.Bool(m.ReadOnly),
		})
	}
	return out
}

// ports are listed by internal port, the order in which the Docker
// provider reads them back (flattenContainerPorts sorts the engine's port
// map), so a refresh records them in the program's order.
func ports(ps []Port) docker.ContainerPortArray {
	sorted := append([]Port{}, ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Internal < sorted[j].Internal })
	var out docker.ContainerPortArray
	for _, p := range sorted {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		ext := p.External
		if ext == 0 {
			ext = p.Internal
		}
		out = append(out, &docker.ContainerPortArgs{
			Internal: pulumi.Int(p.Internal),
			External: pulumi.Int(ext),
			Ip:       pulumi.String(p.IP),
			Protocol: pulumi.String(proto),
		})
	}
	return out
}

// ReservedCores is the reservation as Docker and the policy pack count it:
// the cpuShares the container states, 1024 per core (no reservation weighs
// as one core).
func (r Resources) ReservedCores() float64 { return float64(cpuShares(r.CPUsReservation)) / 1024 }
