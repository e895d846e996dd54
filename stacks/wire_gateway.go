package stacks

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/alertmanager"
	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/gateway"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/jaeger"
	"github.com/aurigraph/infra/components/kibana"
	"github.com/aurigraph/infra/components/prometheus"
)

// MonitoringUIs are reached only through the gateway, each on its own name,
// behind authentication; none publishes a host port.
var MonitoringUIs = []string{Grafana, Kibana, Jaeger, Prometheus, Alertmanager}

// uiUpstreams are where the gateway proxies each UI, as each component
// publishes it. Kibana speaks TLS with a certificate from the stack's CA.
var uiUpstreams = map[string]gateway.UI{
	Grafana:      {Upstream: grafana.URL()},
	Kibana:       {Upstream: kibana.URL(), TLSServerName: kibana.Name},
	Jaeger:       {Upstream: jaeger.UIURL()},
	Prometheus:   {Upstream: prometheus.URL()},
	Alertmanager: {Upstream: alertmanager.URL()},
}

// SlotUpstream is the gateway's upstream for a release slot, e.g. app_blue.
func SlotUpstream(slot string) string { return "app_" + slot }

// deployGateway runs the public edge in front of every application replica.
func deployGateway(d *deployment, application *app.Application) error {
	c := d.cfg
	h := d.engine(Nginx)
	img, err := d.image(h, Nginx)
	if err != nil {
		return err
	}
	cert, key := d.edgeTLS()
	_, err = gateway.NewGateway(d.ctx, Nginx, gateway.GatewayArgs{
		Engine:      h,
		Image:       img,
		Zones:       d.zones,
		Resources:   c.ResourcesFor(Nginx),
		Dir:         d.serviceDir(Nginx),
		Config:      GatewayValues(c, d.place),
		Certificate: cert,
		PrivateKey:  key,
		CACert:      d.pki.CACertPem,
		Htpasswd:    c.Secrets.MonitoringHtpasswd,
		// The gateway's config names every replica: it is installed and
		// reloaded only once they exist and are healthy.
		DependsOn: appContainers(application),
		// A new image in a slot re-runs the release guard once its replicas
		// are replaced; weights and replicas come with Config.
		SlotImages: slotImages(d.place),
	})
	return err
}

// publicURLs are the names the gateway answers, as URLs for the stack
// outputs: the API, gRPC and every monitoring UI.
func publicURLs(c *Config) pulumi.StringMap {
	urls := pulumi.StringMap{"api": pulumi.String(edgeURL(c.Edge.APIHostname))}
	if c.Edge.GRPCHostname != "" {
		urls["grpc"] = pulumi.String(c.Edge.GRPCHostname + ":443")
	}
	for _, ui := range MonitoringUIs {
		urls[ui] = pulumi.String(edgeURL(c.Edge.MonitoringHosts[ui]))
	}
	return urls
}

// appContainers are every application container, for the gateway to wait on.
func appContainers(a *app.Application) []pulumi.Resource {
	out := make([]pulumi.Resource, 0, len(a.Containers))
	for _, c := range a.Containers {
		out = append(out, c)
	}
	return out
}

// slotImages is every image each slot's replicas run, from the placement: a
// tier's own image overrides the blue slot's for that tier, and changes the
// slot as much as the release image does.
func slotImages(p Placement) map[string]string {
	images := map[string][]string{}
	for _, r := range p.Replicas {
		slot := SlotUpstream(r.Slot)
		if !slices.Contains(images[slot], r.Image) {
			images[slot] = append(images[slot], r.Image)
		}
	}
	out := map[string]string{}
	for slot, list := range images {
		sort.Strings(list)
		out[slot] = strings.Join(list, ",")
	}
	return out
}

// GatewayValues turns config and placement into the gateway's values: one
// upstream per slot holding every replica of that slot (so scaling a tier
// adds its replicas), the slot weights, the public names and limits.
func GatewayValues(c *Config, p Placement) gateway.Values {
	v := gateway.Values{
		APIHostname:        c.Edge.APIHostname,
		GRPCHostname:       c.Edge.GRPCHostname,
		AllowedUICIDRs:     append([]string{}, c.Edge.AllowedMonitoringCIDRs...),
		RateLimitPerSecond: c.Edge.RateLimitPerSecond,
		RateLimitBurst:     c.Edge.RateLimitBurst,
	}
	for _, slot := range []struct {
		name   string
		weight int
	}{{"blue", c.Release.Blue.Weight}, {"green", c.Release.Green.Weight}} {
		// Each slot is also reached by its own name on the slot route, for
		// the release smoke test before it gets traffic.
		s := gateway.Slot{Name: SlotUpstream(slot.name), Route: slot.name, Weight: slot.weight}
		for _, r := range p.Replicas {
			if r.Slot == slot.name {
				s.HTTP = append(s.HTTP, fmt.Sprintf("%s:%d", r.Name, app.RESTPort))
				s.GRPC = append(s.GRPC, fmt.Sprintf("%s:%d", r.Name, app.GRPCPort))
			}
		}
		v.Slots = append(v.Slots, s)
	}
	for _, ui := range MonitoringUIs {
		u := uiUpstreams[ui]
		u.Name, u.Hostname = ui, c.Edge.MonitoringHosts[ui]
		v.UIs = append(v.UIs, u)
	}
	return v
}

// dirsGateway: configuration, TLS and htpasswd, readable by nginx (uid 101) only.
func dirsGateway(dataPath string) []host.Dir {
	base := path.Join(dataPath, Nginx)
	var dirs []host.Dir
	for _, d := range []struct{ rel, mode string }{{"", "0750"}, {"conf", "0750"}, {"tls", "0700"}, {"auth", "0700"}} {
		dirs = append(dirs, host.Dir{Path: path.Join(base, d.rel), UID: gateway.UID, GID: gateway.UID, Mode: d.mode})
	}
	return dirs
}
