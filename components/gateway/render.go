// Package gateway is the public edge: one nginx container, the only one that
// publishes ports, terminating TLS for the API, gRPC and the monitoring UIs
// and splitting application traffic between the blue and green slots.
package gateway

import (
	_ "embed"
	"fmt"
	"net"
	"regexp"
	"strings"
	"text/template"
)

//go:embed nginx.conf.tmpl
var confTemplate string

var tmpl = template.Must(template.New("nginx.conf").Funcs(template.FuncMap{
	"listen": listen,
	"zone":   upstreamZone,
}).Parse(confTemplate))

// upstreamZone is the shared memory of an upstream of n servers. Measured
// with Debian's nginx 1.22: 256k holds 200 servers and not 400, 1m holds
// 1,000. Twice that per server covers `resolve` (the server's name and its
// re-resolved addresses, nginx >= 1.27.3), with 256k as the floor: a small
// stack keeps the size it always had.
func upstreamZone(servers int) string {
	return fmt.Sprintf("%dk", max(256, 64+2*servers))
}

// checkDown: every drained server is a server of the configuration, and
// every slot with traffic keeps one server up (nginx would answer 502).
func checkDown(v Values, add func(string, ...any)) {
	down := map[string]bool{}
	for _, d := range v.Down {
		down[d] = true
	}
	known := map[string]bool{}
	for _, s := range v.Slots {
		for _, list := range []struct {
			upstream string
			servers  []string
		}{{s.Name, s.HTTP}, {s.Name + "_grpc", s.GRPC}} {
			if strings.HasSuffix(list.upstream, "_grpc") && v.GRPCHostname == "" {
				for _, a := range list.servers {
					known[a] = true
				}
				continue
			}
			up := 0
			for _, a := range list.servers {
				known[a] = true
				if !down[a] {
					up++
				}
			}
			if s.Weight > 0 && len(list.servers) > 0 && up == 0 {
				add("draining %s leaves upstream %s (weight %d) with no server", strings.Join(v.Down, ", "), list.upstream, s.Weight)
			}
		}
	}
	for _, d := range v.Down {
		if !known[d] {
			add("drained server %q is not an upstream server", d)
		}
	}
}

// isDown is the template's test for a drained server.
func (v view) IsDown(server string) bool {
	for _, d := range v.Down {
		if d == server {
			return true
		}
	}
	return false
}

// Ciphers are the TLS 1.2 suites allowed: forward secret AEAD only (Mozilla
// "intermediate" without DHE). TLS 1.3 suites are all modern and left to OpenSSL.
const Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// Slot is one release slot's upstream servers and traffic weight.
type Slot struct {
	Name   string   // upstream name, e.g. app_blue
	Weight int      // percent of requests, 0-100
	HTTP   []string // REST servers, host:port (every replica of the slot)
	GRPC   []string // gRPC servers, host:port
	// Route, when set, is the slot's name in its slot route (SlotPath):
	// e.g. green, whose /_slot/green/... on the API name reaches this
	// slot's HTTP servers only, whatever its weight.
	Route string
}

// SlotRoutePrefix starts every slot route on the API name. The release
// smoke test (cmd/release) builds its URLs with SlotPath.
const SlotRoutePrefix = "/_slot/"

// TrafficWeightHeader carries, on every request the gateway sends to a
// replica, the weight of the slot serving it: the SPEC's TRAFFIC_WEIGHT,
// delivered per request because a container's environment would recreate
// every replica at each weight step (components/app Environment).
const TrafficWeightHeader = "X-Aurigraph-Traffic-Weight"

// SlotPath is the path on the API name that reaches path on the slot
// routed as route only: SlotPath("green", "/q/health/ready") is
// /_slot/green/q/health/ready. Operators only: the monitoring UIs' allowed
// addresses and password.
func SlotPath(route, path string) string {
	return SlotRoutePrefix + route + "/" + strings.TrimPrefix(path, "/")
}

// UI is one monitoring UI reached through the gateway.
type UI struct {
	Name     string // e.g. grafana
	Hostname string // public name, e.g. grafana.ops.example.com
	Upstream string // URL resolved per request, e.g. http://grafana:3000
	// TLSServerName, when set, makes nginx verify the upstream's certificate
	// against CAPath under this name (Kibana speaks TLS).
	TLSServerName string
}

// Values is everything the configuration depends on, as plain data.
type Values struct {
	// Listening: 80/443 on every address in production; tests use high
	// ports on 127.0.0.1.
	ListenAddress string // "" = all addresses
	HTTPPort      int
	HTTPSPort     int

	APIHostname  string
	GRPCHostname string // "" = no gRPC server
	Slots        []Slot
	UIs          []UI
	// AllowedUICIDRs, when set, must match besides the password.
	AllowedUICIDRs []string

	RateLimitPerSecond int
	RateLimitBurst     int

	// Files inside the container (or the test's prefix).
	CertPath, KeyPath, CAPath, HtpasswdPath string
	AccessLog, ErrorLog, PidPath, TempDir   string

	// Resolver is the DNS server for names looked up at request time:
	// Docker's embedded DNS (127.0.0.11) in production.
	Resolver string
	// Modern is nginx >= 1.27.3 (the container image): `http2 on` and upstream
	// servers with `resolve`, re-resolved through the resolver, so replicas
	// that are recreated (new address) or not yet started never break a start
	// or reload. Off for older builds such as Debian's 1.22 in the tests,
	// which resolve upstream servers once at (re)load.
	Modern bool
	// User for worker processes; "" when nginx already runs unprivileged.
	User string
	// Down are upstream servers (host:port, as in Slots) marked `down`: the
	// replicas of a host that cmd/reboot is about to reboot get no new
	// request, and in-flight ones finish on the old workers after the
	// reload. Empty in what `pulumi up` installs.
	Down []string
}

// Passive health checks: a server failing MaxFails times is skipped for FailTimeout.
const (
	MaxFails    = 3
	FailTimeout = "10s"
)

// activeSlot is a slot that receives traffic and its split_clients share.
type activeSlot struct {
	Name  string
	Share string // "5%" or "*" for the rest
}

type headers struct{ CSP, FrameOptions string }

type view struct {
	Values
	Active []activeSlot
	// Routes are the slots with a slot route and servers to reach.
	Routes                []Slot
	SlotRoutePrefix       string
	TrafficWeightHeader   string
	WorkerProcesses       string
	Ciphers               string
	MaxFails              int
	FailTimeout           string
	APIHeaders, UIHeaders headers
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	upstreamRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	serverRE   = regexp.MustCompile(`^[A-Za-z0-9.-]+:[0-9]{1,5}$`)
	routeRE    = regexp.MustCompile(`^[a-z0-9]+$`)
	urlRE      = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+:[0-9]{1,5}$`)
	pathRE     = regexp.MustCompile(`^/[A-Za-z0-9/._-]*$`)
)

// Check reports values that would give a broken or unsafe configuration:
// weights must add up to 100 and a slot with weight needs servers.
func Check(v Values) error {
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if v.HTTPPort < 1 || v.HTTPPort > 65535 || v.HTTPSPort < 1 || v.HTTPSPort > 65535 {
		add("ports %d/%d are not ports", v.HTTPPort, v.HTTPSPort)
	}
	if v.ListenAddress != "" && net.ParseIP(v.ListenAddress) == nil {
		add("listen address %q is not an IP", v.ListenAddress)
	}
	if !nameRE.MatchString(v.APIHostname) {
		add("API host name %q is invalid", v.APIHostname)
	}
	if v.GRPCHostname != "" && !nameRE.MatchString(v.GRPCHostname) {
		add("gRPC host name %q is invalid", v.GRPCHostname)
	}
	sum, seen, routes := 0, map[string]bool{}, map[string]bool{}
	for _, s := range v.Slots {
		if !upstreamRE.MatchString(s.Name) || seen[s.Name] {
			add("slot name %q is invalid or repeated", s.Name)
		}
		seen[s.Name] = true
		if s.Route != "" && (!routeRE.MatchString(s.Route) || routes[s.Route]) {
			add("slot %s route %q is not lower-case letters and digits, or repeated", s.Name, s.Route)
		}
		routes[s.Route] = true
		if s.Weight < 0 || s.Weight > 100 {
			add("slot %s weight %d is not 0-100", s.Name, s.Weight)
		}
		if s.Weight > 0 && (len(s.HTTP) == 0 || (v.GRPCHostname != "" && len(s.GRPC) == 0)) {
			add("slot %s has weight %d but no servers", s.Name, s.Weight)
		}
		for _, a := range append(append([]string{}, s.HTTP...), s.GRPC...) {
			if !serverRE.MatchString(a) {
				add("slot %s server %q is not host:port", s.Name, a)
			}
		}
		sum += s.Weight
	}
	if sum != 100 {
		add("slot weights sum to %d, not 100", sum)
	}
	for _, u := range v.UIs {
		if !upstreamRE.MatchString(u.Name) || !nameRE.MatchString(u.Hostname) || !urlRE.MatchString(u.Upstream) {
			add("monitoring UI %+v is invalid", u)
		}
		if u.TLSServerName != "" && !strings.HasPrefix(u.Upstream, "https://") {
			add("monitoring UI %s verifies TLS but its upstream is not https", u.Name)
		}
	}
	for _, c := range v.AllowedUICIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			add("%q is not a CIDR", c)
		}
	}
	if v.RateLimitPerSecond < 1 || v.RateLimitBurst < 1 {
		add("rate limit %d/s burst %d is below 1", v.RateLimitPerSecond, v.RateLimitBurst)
	}
	for _, p := range []string{v.CertPath, v.KeyPath, v.CAPath, v.HtpasswdPath, v.AccessLog, v.ErrorLog, v.PidPath, v.TempDir} {
		if !pathRE.MatchString(p) {
			add("path %q is not absolute or has unsafe characters", p)
		}
	}
	if v.Resolver == "" {
		add("resolver is empty")
	}
	checkDown(v, add)
	if len(problems) > 0 {
		return fmt.Errorf("gateway: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Render returns nginx.conf for v. It is a pure function: the same values
// always give the same text.
func Render(v Values) (string, error) {
	if err := Check(v); err != nil {
		return "", err
	}
	vw := view{
		Values:              v,
		WorkerProcesses:     "auto",
		Ciphers:             Ciphers,
		SlotRoutePrefix:     SlotRoutePrefix,
		TrafficWeightHeader: TrafficWeightHeader,
		MaxFails:            MaxFails,
		FailTimeout:         FailTimeout,
		APIHeaders:          headers{CSP: "default-src 'none'; frame-ancestors 'none'", FrameOptions: "DENY"},
		// The UIs send their own CSP; this one only forbids framing elsewhere.
		UIHeaders: headers{CSP: "frame-ancestors 'self'", FrameOptions: "SAMEORIGIN"},
	}
	for _, s := range v.Slots {
		if s.Weight > 0 {
			vw.Active = append(vw.Active, activeSlot{Name: s.Name, Share: fmt.Sprintf("%d%%", s.Weight)})
		}
		if s.Route != "" && len(s.HTTP) > 0 {
			vw.Routes = append(vw.Routes, s)
		}
	}
	// The last active slot takes the remainder ("*"): shares never leave a gap.
	vw.Active[len(vw.Active)-1].Share = "*"
	var b strings.Builder
	if err := tmpl.Execute(&b, vw); err != nil {
		return "", err
	}
	return b.String(), nil
}

func listen(addr string, port int) string {
	if addr == "" {
		return fmt.Sprint(port)
	}
	return net.JoinHostPort(addr, fmt.Sprint(port))
}
