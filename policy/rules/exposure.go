package rules

import (
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// port is one published container port as recorded.
type port struct {
	internal, external float64
	ip                 string
	ipState            state
	protocol           string
}

// ports reads a container's published ports; ok is false while any is unknown.
func ports(p property.Map) ([]port, bool) {
	elems, s := arr(p.Get("ports"))
	if s == unknown {
		return nil, false
	}
	var out []port
	for _, e := range elems {
		m, ms := obj(e)
		if ms == unknown {
			return nil, false
		}
		in, is := num(m.Get("internal"))
		ext, es := num(m.Get("external"))
		if is == unknown || es == unknown {
			return nil, false
		}
		ip, ips := str(m.Get("ip"))
		proto, _ := str(m.Get("protocol"))
		if proto == "" {
			proto = "tcp"
		}
		if es != known {
			ext = 0 // docker picks an ephemeral host port: still published
		}
		out = append(out, port{internal: in, external: ext, ip: ip, ipState: ips, protocol: proto})
	}
	return out, true
}

// hostPort is the port as seen from outside.
func (pt port) hostPort() float64 {
	if pt.external > 0 {
		return pt.external
	}
	return pt.internal
}

// wildcard reports a binding on every address (none named).
func (pt port) wildcard() bool {
	if pt.ipState == unknown {
		return false
	}
	ip := strings.Trim(strings.TrimSpace(pt.ip), "[]")
	return ip == "" || ip == "0.0.0.0" || ip == "::"
}

func isWebPort(pt port) bool {
	h := pt.hostPort()
	return h == 80 || h == 443
}

func exposureRules() []Rule {
	return []Rule{
		{
			Name:        "data-services-internal",
			Description: "Data services (PostgreSQL, Redis, Elasticsearch, Vault) publish no host port; they are reached on the internal network by name.",
			Types:       []string{ContainerType},
			Resource:    checkDataServicesInternal,
		},
		{
			Name:        "tracing-internal",
			Description: "Jaeger publishes no host port: its collectors (OTLP, Thrift, Zipkin, agent) take spans without authentication, so the application reaches them on the encrypted overlay and the gateway proxies the UI.",
			Types:       []string{ContainerType},
			Resource:    checkTracingInternal,
		},
		{
			Name:        "published-ports-bound",
			Description: "Only the gateway publishes 80/443; every other published port is bound to a named address, never 0.0.0.0 (CIS 5.14).",
			Types:       []string{ContainerType},
			Resource:    checkPublishedPorts,
		},
		{
			Name:        "monitoring-not-public",
			Description: "Monitoring UIs (Prometheus, Grafana, Kibana, Jaeger, Vault) are never published on a public or wildcard address; they are reached through the gateway's authenticated names.",
			Types:       []string{ContainerType},
			Resource:    checkMonitoringNotPublic,
		},
	}
}

func checkDataServicesInternal(r policyx.AnalyzerResource, env Env) []Finding {
	return noPublishedPort(r, DataServices, "data service", "remove the port, other services reach it on the internal network")
}

func checkTracingInternal(r policyx.AnalyzerResource, env Env) []Finding {
	return noPublishedPort(r, []string{Jaeger}, "tracing backend",
		"its collectors accept spans without authentication; remove the port, the application sends spans over the overlay and the gateway proxies the UI")
}

// noPublishedPort reports every port a container of one of kinds publishes.
func noPublishedPort(r policyx.AnalyzerResource, kinds []string, what, fix string) []Finding {
	p := r.Properties
	kind := kindOf(p)
	if !isOneOf(kind, kinds) {
		return nil
	}
	ps, ok := ports(p)
	if !ok {
		return nil
	}
	var out []Finding
	for _, pt := range ps {
		out = append(out, found(r, "%s %s (%s) publishes container port %g on the host: %s", what, displayName(p, r.URN), kind, pt.internal, fix))
	}
	return out
}

func checkPublishedPorts(r policyx.AnalyzerResource, env Env) []Finding {
	p := r.Properties
	kind := kindOf(p)
	ps, ok := ports(p)
	if !ok {
		return nil
	}
	var out []Finding
	for _, pt := range ps {
		switch {
		case isWebPort(pt) && kind == Gateway:
			// the public edge: 80/443 on every address is its purpose
		case isWebPort(pt):
			out = append(out, found(r, "container %s (%s) publishes host port %g: only the gateway publishes 80/443", displayName(p, r.URN), kind, pt.hostPort()))
		case pt.wildcard():
			out = append(out, found(r, "container %s publishes port %g on every address: bind it to a named address", displayName(p, r.URN), pt.hostPort()))
		}
	}
	return out
}

// isPublicAddress reports an address reachable from outside the hosts'
// networks: a wildcard, a host's stated public address, or any global
// address that is not a host's stated private (cluster) address.
func isPublicAddress(ip string, f Facts) bool {
	ip = strings.Trim(strings.TrimSpace(ip), "[]")
	if ip == "" || ip == "0.0.0.0" || ip == "::" {
		return true
	}
	for _, h := range f.Hosts {
		if ip == h.Address && h.Address != h.PrivateAddress {
			return true
		}
	}
	for _, h := range f.Hosts {
		if ip == h.PrivateAddress {
			return false
		}
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return true // a name we cannot classify is not known to be private
	}
	return !(a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast())
}

func checkMonitoringNotPublic(r policyx.AnalyzerResource, env Env) []Finding {
	p := r.Properties
	kind := kindOf(p)
	if !isOneOf(kind, MonitoringUIs) {
		return nil
	}
	ps, ok := ports(p)
	if !ok {
		return nil
	}
	var out []Finding
	for _, pt := range ps {
		if pt.ipState == unknown {
			continue
		}
		if isPublicAddress(pt.ip, env.Facts) {
			addr := pt.ip
			if addr == "" {
				addr = "every address"
			}
			out = append(out, found(r, "monitoring UI %s (%s) is published on %s port %g: bind it to loopback or a private address and reach it through the gateway", displayName(p, r.URN), kind, addr, pt.hostPort()))
		}
	}
	return out
}
