package plan

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/policy/check"
	"github.com/aurigraph/infra/stacks"
)

// Type tokens the text form reads.
const (
	ContainerType  = "docker:index/container:Container"
	hostType       = "aurigraph:host:Host"
	dockerProvider = "pulumi:providers:docker"
	serviceLabel   = "com.aurigraph.service"
)

// containerRow is what the text form shows of one docker container.
type containerRow struct {
	Name, Image, Service string
	Tier, Slot           string // application containers only
	CPUs, CPUsReserved   float64
	MemMB, MemReservedMB float64
	Ports                []string
	Env, SecretEnv       int
}

// replicaName is the application container naming of stacks.Place.
var replicaName = regexp.MustCompile(`^` + regexp.QuoteMeta(stacks.App) + `-(blue|green)-([a-z]+)-\d+$`)

func (p *Plan) byURN() map[string]*Resource {
	m := make(map[string]*Resource, len(p.Resources))
	for i := range p.Resources {
		m[p.Resources[i].URN] = &p.Resources[i]
	}
	return m
}

// hostOf finds the host a resource belongs to by walking its parents to a
// host component; "" when none.
func hostOf(urn string, byURN map[string]*Resource) string {
	for seen := 0; urn != "" && seen < 64; seen++ {
		r := byURN[urn]
		if r == nil {
			return ""
		}
		if r.Type == hostType {
			return r.Name
		}
		urn = r.Parent
	}
	return ""
}

// containersByHost attributes every container to a host through its Docker
// provider (named "<host>-docker"; a child of the host component in older
// programs, top-level now), falling back to the container's own parents.
func (p *Plan) containersByHost(hosts []string) map[string][]containerRow {
	byURN := p.byURN()
	known := map[string]bool{}
	for _, h := range hosts {
		known[h] = true
	}
	out := map[string][]containerRow{}
	for _, r := range p.Resources {
		if r.Type != ContainerType {
			continue
		}
		h := containerHost(r, byURN)
		if !known[h] {
			h = ""
		}
		out[h] = append(out[h], toContainer(r))
	}
	for h := range out {
		sort.Slice(out[h], func(i, j int) bool { return NaturalLess(out[h][i].Name, out[h][j].Name) })
	}
	return out
}

// containerHost is the host a container runs on: its Docker provider's
// host, falling back to the container's own parents; "" when none.
func containerHost(r Resource, byURN map[string]*Resource) string {
	h := ""
	if r.Provider != "" {
		h = hostOf(r.Provider, byURN)
		if h == "" {
			if pr := byURN[r.Provider]; pr != nil && strings.HasPrefix(pr.Type, dockerProvider) {
				h = strings.TrimSuffix(pr.Name, "-docker")
			}
		}
	}
	if h == "" {
		h = hostOf(r.Parent, byURN)
	}
	return h
}

// ContainerHosts maps every container's URN to the name of the host it runs
// on ("" when none can be told), as the text form attributes them.
func (p *Plan) ContainerHosts() map[string]string {
	byURN := p.byURN()
	out := map[string]string{}
	for _, r := range p.Resources {
		if r.Type == ContainerType {
			out[r.URN] = containerHost(r, byURN)
		}
	}
	return out
}

// NaturalLess orders names with numbers by value: business-5 before business-10.
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		ca, cb := chunk(a, da), chunk(b, db)
		if da && db && ca != cb {
			na, _ := strconv.Atoi(ca)
			nb, _ := strconv.Atoi(cb)
			if na != nb {
				return na < nb
			}
		}
		if ca != cb {
			return ca < cb
		}
		a, b = a[len(ca):], b[len(cb):]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// chunk is the leading run of digits (or of non-digits) of s.
func chunk(s string, digits bool) string {
	i := 0
	for i < len(s) && isDigit(s[i]) == digits {
		i++
	}
	return s[:i]
}

func toContainer(r Resource) containerRow {
	in := r.Inputs
	c := containerRow{
		Name:          str(in["name"], r.Name),
		Image:         str(in["image"], "?"),
		CPUs:          num(in["cpus"]),
		MemMB:         num(in["memory"]),
		MemReservedMB: num(in["memoryReservation"]),
	}
	// container.Spec turns the CPU reservation into cpuShares (1024 per core).
	if shares := num(in["cpuShares"]); shares > 0 {
		c.CPUsReserved = shares / 1024
	}
	labels := map[string]string{}
	for _, l := range arr(in["labels"]) {
		if m, ok := l.(map[string]any); ok {
			labels[str(m["label"], "")] = str(m["value"], "")
		}
	}
	c.Service = labels[serviceLabel]
	if m := replicaName.FindStringSubmatch(c.Name); m != nil {
		c.Slot, c.Tier = m[1], m[2]
		if c.Service == "" {
			c.Service = stacks.App
		}
	}
	if c.Service == "" {
		c.Service = "(unlabelled)"
	}
	for _, e := range arr(in["envs"]) {
		if e == Secret {
			c.SecretEnv++
		} else {
			c.Env++
		}
	}
	c.Ports = PublishedPorts(in)
	return c
}

// PublishedPorts are a container's published ports as "ip:external→internal/proto"
// (external defaults to internal, ip to 0.0.0.0, proto to tcp).
func PublishedPorts(in map[string]any) []string {
	var out []string
	for _, pt := range arr(in["ports"]) {
		m, ok := pt.(map[string]any)
		if !ok {
			continue
		}
		ip := str(m["ip"], "0.0.0.0")
		proto := str(m["protocol"], "tcp")
		ext := fmtNum(num(m["external"]))
		if ext == "0" {
			ext = fmtNum(num(m["internal"]))
		}
		out = append(out, fmt.Sprintf("%s:%s→%s/%s", ip, ext, fmtNum(num(m["internal"])), proto))
	}
	return out
}

func str(v any, def string) string {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return def
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

// num reads a number that may be a JSON number or a numeric string ("16").
func num(v any) float64 {
	switch t := v.(type) {
	case float64:
		return t
	case int:
		return float64(t)
	case string:
		f, err := strconv.ParseFloat(t, 64)
		if err == nil {
			return f
		}
	}
	return 0
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// gb formats megabytes as gigabytes with at most one decimal (MB below 1 GB).
func gb(mb float64) string {
	if mb > 0 && mb < 1024 {
		return fmtNum(float64(int64(mb+0.5))) + " MB"
	}
	return strconv.FormatFloat(float64(int64(mb/1024*10+0.5))/10, 'f', -1, 64) + " GB"
}

func cpus(c float64) string {
	return strconv.FormatFloat(float64(int64(c*100+0.5))/100, 'f', -1, 64)
}

type sums struct{ cpu, cpuRes, mem, memRes float64 }

func (s *sums) add(c containerRow) {
	s.cpu += c.CPUs
	s.cpuRes += c.CPUsReserved
	s.mem += c.MemMB
	s.memRes += c.MemReservedMB
}

// WriteText writes the plan for people: hosts with their containers and
// totals against stated capacity, stack totals, missing secrets, policy.
func (p *Plan) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	hosts := p.Hosts
	if len(hosts) == 0 { // no readable inventory: list the host components
		for _, r := range p.Resources {
			if r.Type == hostType {
				hosts = append(hosts, stacks.Host{Name: r.Name})
			}
		}
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	byHost := p.containersByHost(names)

	env := p.Environment
	if env == "" {
		env = "(unset)"
	}
	ew.printf("Plan for stack %s (environment %s): %d hosts, %d containers, %d resources\n",
		p.Stack, env, len(hosts), countType(p.Resources, ContainerType), len(p.Resources))
	ew.printf("Secrets are shown as %s; CPU as limit/reservation in cores, memory as limit/reservation.\n", Secret)

	var total sums
	var capCPU, capMem float64
	for _, h := range hosts {
		cs := byHost[h.Name]
		ew.printf("\n%s  %s  roles %s  capacity %d CPU, %d GB memory, %d GB disk\n",
			h.Name, orDash(h.Address), orDash(strings.Join(h.Roles, ",")), h.Capacity.CPUs, h.Capacity.MemoryGB, h.Capacity.DiskGB)
		var s sums
		writeContainers(ew, cs, &s)
		total.add(containerRow{CPUs: s.cpu, CPUsReserved: s.cpuRes, MemMB: s.mem, MemReservedMB: s.memRes})
		capCPU += float64(h.Capacity.CPUs)
		capMem += float64(h.Capacity.MemoryGB) * 1024
		ew.printf("  total %d containers: reserved %s CPU, %s; limits %s CPU, %s; capacity %d CPU, %d GB%s\n",
			len(cs), cpus(s.cpuRes), gb(s.memRes), cpus(s.cpu), gb(s.mem), h.Capacity.CPUs, h.Capacity.MemoryGB,
			capacityNote(s, float64(h.Capacity.CPUs), float64(h.Capacity.MemoryGB)*1024))
	}
	if cs := byHost[""]; len(cs) > 0 {
		ew.printf("\ncontainers on no known host\n")
		var s sums
		writeContainers(ew, cs, &s)
		total.add(containerRow{CPUs: s.cpu, CPUsReserved: s.cpuRes, MemMB: s.mem, MemReservedMB: s.memRes})
	}

	ew.printf("\nTotals\n")
	ew.printf("  reserved %s CPU, %s; limits %s CPU, %s; stated capacity %s CPU, %s over %d hosts\n",
		cpus(total.cpuRes), gb(total.memRes), cpus(total.cpu), gb(total.mem), cpus(capCPU), gb(capMem), len(hosts))
	perService, perTier := map[string]int{}, map[string]int{}
	for _, cs := range byHost {
		for _, c := range cs {
			perService[c.Service]++
			if c.Tier != "" {
				perTier[c.Slot+" "+c.Tier]++
			}
		}
	}
	ew.printf("  containers per service:%s\n", counts(perService))
	ew.printf("  application containers per slot and tier:%s\n", counts(perTier))
	perType := map[string]int{}
	for _, r := range p.Resources {
		perType[r.Type]++
	}
	ew.printf("  resources by type:\n")
	for _, t := range slices.Sorted(maps.Keys(perType)) {
		ew.printf("    %-50s %d\n", t, perType[t])
	}

	writeImages(ew, byHost)

	if len(p.MissingSecrets) == 0 {
		ew.printf("\nMissing secrets: none\n")
	} else {
		ew.printf("\nMissing secrets (%d): planned with placeholders. Before `pulumi up`, run these; each prompts\n", len(p.MissingSecrets))
		ew.printf("for its value (pipe a multi-line one, such as a PEM key, on stdin: `... < key.pem`):\n")
		for _, k := range p.MissingSecrets {
			ew.printf("  %s\n", SetSecretCommand(p.Stack, k))
		}
	}
	writePolicy(ew, p.Policy.Violations)
	return ew.err
}

// SetSecretCommand is the command that sets secret config key (a full key,
// "aurigraph:postgresPassword") on stack. It gives no value: pulumi then
// prompts for it, so the secret stays out of the shell's history.
func SetSecretCommand(stack, key string) string {
	return strings.Join([]string{"pulumi", "config", "set", "--stack", shellWord(stack), "--secret", shellWord(key)}, " ")
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:-]+$`)

// shellWord is s as one shell word: as it is when nothing in it is special
// to a shell, quoted otherwise.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return shell.Quote(s)
}

func writeContainers(ew *errWriter, cs []containerRow, s *sums) {
	if len(cs) == 0 {
		ew.printf("  (no containers)\n")
		return
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  CONTAINER\tIMAGE\tCPU\tMEMORY\tENV\tPORTS\n")
	for _, c := range cs {
		s.add(c)
		ports := strings.Join(c.Ports, ", ")
		if ports == "" {
			ports = "-"
		}
		envs := strconv.Itoa(c.Env)
		if c.SecretEnv > 0 {
			envs += fmt.Sprintf(" +%d %s", c.SecretEnv, Secret)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s/%s\t%s/%s\t%s\t%s\n", c.Name, imageref.Short(c.Image), cpus(c.CPUs), cpus(c.CPUsReserved),
			gb(c.MemMB), gb(c.MemReservedMB), envs, ports)
	}
	tw.Flush()
}

// writeImages lists every image the containers run with its digest, or
// "not pinned" when only a tag names it (its registry can move the tag:
// `make pin` writes the digests).
func writeImages(ew *errWriter, byHost map[string][]containerRow) {
	perImage := map[string]int{}
	for _, cs := range byHost {
		for _, c := range cs {
			perImage[c.Image]++
		}
	}
	pinned := 0
	for ref := range perImage {
		if imageref.HasDigest(ref) {
			pinned++
		}
	}
	ew.printf("\nImages (%d, %d pinned by digest; `make pin` writes the digests)\n", len(perImage), pinned)
	if len(perImage) == 0 {
		return
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  IMAGE\tDIGEST\tCONTAINERS\n")
	for _, ref := range slices.Sorted(maps.Keys(perImage)) {
		name, digest := ref, "not pinned"
		if r, err := imageref.Parse(ref); err == nil && r.Digest != "" {
			name, digest = r.WithDigest(""), r.Digest
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", name, digest, perImage[ref])
	}
	tw.Flush()
}

// capacityNote flags reservations the host cannot hold, and limits above
// capacity (overcommit: allowed, but worth seeing).
func capacityNote(s sums, capCPU, capMemMB float64) string {
	var notes []string
	if s.cpuRes > capCPU || s.memRes > capMemMB {
		notes = append(notes, "RESERVATIONS EXCEED CAPACITY")
	}
	if s.cpu > capCPU || s.mem > capMemMB {
		notes = append(notes, "limits overcommit capacity")
	}
	if len(notes) == 0 {
		return ""
	}
	return "  [" + strings.Join(notes, "; ") + "]"
}

func writePolicy(ew *errWriter, vs []check.Violation) {
	if len(vs) == 0 {
		ew.printf("\nPolicy: no violations\n")
		return
	}
	byLevel := map[string]int{}
	byPolicy := map[string]int{}
	for _, v := range vs {
		byLevel[v.Level]++
		byPolicy[v.Level+" "+v.Policy]++
	}
	ew.printf("\nPolicy: %d violations:%s\n", len(vs), counts(byLevel))
	for _, k := range slices.Sorted(maps.Keys(byPolicy)) {
		ew.printf("  %-60s %d\n", k, byPolicy[k])
	}
	ew.printf("  (details: -format json, .policy.violations)\n")
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return " none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " " + strings.Join(parts, ", ")
}

func countType(rs []Resource, typ string) int {
	n := 0
	for _, r := range rs {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so the text code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
