package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleValues(blue, green int) Values {
	v := Values{
		APIHostname: "api.example.com", GRPCHostname: "grpc.example.com",
		UIs: []UI{
			{Name: "grafana", Hostname: "grafana.example.com", Upstream: "http://grafana:3000"},
			{Name: "kibana", Hostname: "kibana.example.com", Upstream: "https://kibana:5601", TLSServerName: "kibana"},
		},
		AllowedUICIDRs:     []string{"198.51.100.0/24"},
		RateLimitPerSecond: 500, RateLimitBurst: 1000,
	}
	for _, s := range []struct {
		name   string
		weight int
		n      int
	}{{"blue", blue, 3}, {"green", green, 2}} {
		slot := Slot{Name: "app_" + s.name, Route: s.name, Weight: s.weight}
		for i := 1; i <= s.n; i++ {
			slot.HTTP = append(slot.HTTP, fmt.Sprintf("aurigraph-v11-%s-slim-%d:9003", s.name, i))
			slot.GRPC = append(slot.GRPC, fmt.Sprintf("aurigraph-v11-%s-slim-%d:9004", s.name, i))
		}
		v.Slots = append(v.Slots, slot)
	}
	return ProductionValues(v)
}

func render(t *testing.T, v Values) string {
	t.Helper()
	out, err := Render(v)
	require.NoError(t, err)
	return out
}

// block returns the body of the first block that starts with head.
func block(t *testing.T, conf, head string) string {
	t.Helper()
	i := strings.Index(conf, head+" {")
	require.GreaterOrEqual(t, i, 0, "no block %q", head)
	depth, start := 0, i+len(head)+2
	for j := start - 1; j < len(conf); j++ {
		switch conf[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return conf[start:j]
			}
		}
	}
	t.Fatalf("block %q is not closed", head)
	return ""
}

func TestEveryReplicaIsInItsSlotUpstream(t *testing.T) {
	v := sampleValues(95, 5)
	conf := render(t, v)
	for _, s := range v.Slots {
		httpBlock := block(t, conf, "upstream "+s.Name)
		grpcBlock := block(t, conf, "upstream "+s.Name+"_grpc")
		for _, a := range s.HTTP {
			assert.Contains(t, httpBlock, "server "+a+" max_fails=3 fail_timeout=10s resolve;")
		}
		for _, a := range s.GRPC {
			assert.Contains(t, grpcBlock, "server "+a+" max_fails=3 fail_timeout=10s resolve;")
		}
		assert.Equal(t, len(s.HTTP), strings.Count(httpBlock, "server "), "no other server in %s", s.Name)
		assert.Contains(t, httpBlock, "keepalive 64;")
		assert.Contains(t, httpBlock, "zone "+s.Name+" ")
	}
}

func TestSplitFollowsWeights(t *testing.T) {
	cases := []struct {
		blue, green int
		split       []string
	}{
		{100, 0, []string{"* app_blue;"}},
		{95, 5, []string{"95% app_blue;", "* app_green;"}},
		{80, 20, []string{"80% app_blue;", "* app_green;"}},
		{50, 50, []string{"50% app_blue;", "* app_green;"}},
		{0, 100, []string{"* app_green;"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/%d", c.blue, c.green), func(t *testing.T) {
			conf := render(t, sampleValues(c.blue, c.green))
			var lines []string
			for _, l := range strings.Split(block(t, conf, `split_clients "$request_id" $app_slot`), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					lines = append(lines, l)
				}
			}
			assert.Equal(t, c.split, lines)
			// Both upstreams stay defined: rolling back is a weight change only.
			assert.Contains(t, conf, "upstream app_blue {")
			assert.Contains(t, conf, "upstream app_green {")
		})
	}
}

func TestInvalidStepsAreRefused(t *testing.T) {
	noGreen := sampleValues(95, 5)
	noGreen.Slots[1].HTTP, noGreen.Slots[1].GRPC = nil, nil
	cases := map[string]struct {
		v    Values
		want string
	}{
		"sum 90":         {sampleValues(90, 0), "sum to 90"},
		"sum 110":        {sampleValues(60, 50), "sum to 110"},
		"negative":       {sampleValues(105, -5), "not 0-100"},
		"empty weighted": {noGreen, "app_green has weight 5 but no servers"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(c.v)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	// An empty slot without weight is fine (blue only).
	blueOnly := sampleValues(100, 0)
	blueOnly.Slots[1].HTTP, blueOnly.Slots[1].GRPC = nil, nil
	conf := render(t, blueOnly)
	assert.NotContains(t, conf, "upstream app_green")
}

func TestTLSAndHeadersOnEveryPublicServer(t *testing.T) {
	conf := render(t, sampleValues(95, 5))
	assert.Contains(t, conf, "ssl_protocols TLSv1.2 TLSv1.3;")
	assert.NotRegexp(t, `TLSv1(\.1)?[ ;]`, conf)
	assert.Contains(t, conf, "ssl_ciphers "+Ciphers+";")
	assert.NotContains(t, Ciphers, "CBC")
	assert.NotContains(t, Ciphers, "RSA-AES128-SHA")
	assert.Contains(t, conf, "return 301 https://$host$request_uri;")
	assert.Contains(t, conf, "limit_req_status 429;")
	assert.Contains(t, conf, "rate=500r/s;")
	assert.Contains(t, conf, "limit_req zone=api burst=1000 nodelay;")
	assert.Contains(t, conf, "gzip on;")
	assert.Contains(t, conf, "map $http_upgrade $connection_upgrade")
	assert.Contains(t, conf, "grpc_pass grpc://$grpc_slot;")
	assert.Contains(t, conf, "access_log /dev/stdout json_access;")
	assert.Contains(t, conf, "resolver 127.0.0.11 valid=10s")
	servers := regexp.MustCompile(`\n\s+server_name ([^;]+);`).FindAllStringSubmatch(conf, -1)
	require.Len(t, servers, 4, "API, gRPC and two UIs")
	for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"} {
		assert.Equal(t, len(servers), strings.Count(conf, "add_header "+h+" "), h)
	}
	for _, l := range regexp.MustCompile(`listen [^;]+;`).FindAllString(conf, -1) {
		assert.Regexp(t, `^listen (80|443)( ssl)?( default_server)?;$`, l)
	}
	assert.Equal(t, 4+1, strings.Count(conf, "http2 on;"), "every TLS server speaks HTTP/2")
}

func TestMonitoringUIsNeedAuthAndAllowList(t *testing.T) {
	conf := render(t, sampleValues(95, 5))
	for _, ui := range []string{"grafana", "kibana"} {
		b := block(t, conf[strings.Index(conf, "# "+ui+":"):], "server")
		assert.Contains(t, b, "server_name "+ui+".example.com;")
		assert.Contains(t, b, `auth_basic "`+ui+`";`)
		assert.Contains(t, b, "auth_basic_user_file "+HtpasswdPath+";")
		assert.Contains(t, b, "allow 198.51.100.0/24;")
		assert.Contains(t, b, "deny all;")
		assert.Contains(t, b, "satisfy all;")
	}
	kibana := block(t, conf[strings.Index(conf, "# kibana:"):], "server")
	assert.Contains(t, kibana, "proxy_ssl_verify on;")
	assert.Contains(t, kibana, "proxy_ssl_trusted_certificate "+CAPath+";")
	assert.Contains(t, kibana, "set $ui_upstream https://kibana:5601;")
}

func TestSlotRoutesReachOneSlotBehindOperatorAuth(t *testing.T) {
	v := sampleValues(100, 0)
	conf := render(t, v)
	api := block(t, conf[strings.Index(conf, "server_name api.example.com;")-200:], "server")
	routes := block(t, api, "location "+SlotRoutePrefix)
	for _, want := range []string{`auth_basic "release slots";`, "auth_basic_user_file " + HtpasswdPath + ";", "satisfy all;", "allow 198.51.100.0/24;", "deny all;"} {
		assert.Contains(t, routes, want)
	}
	for _, s := range v.Slots {
		loc := block(t, routes, "location "+SlotPath(s.Route, "/"))
		assert.Contains(t, loc, "proxy_pass http://"+s.Name+"/;", "a 0-weight slot is routed too")
		assert.Contains(t, loc, `proxy_set_header Authorization "";`)
		assert.NotContains(t, loc, "auth_basic off", "the route inherits the authentication")
	}
	weights := block(t, conf, "map $served_slot $traffic_weight")
	assert.Contains(t, weights, "app_blue 100;")
	assert.Contains(t, weights, "app_green 0;")
	assert.Equal(t, 3, strings.Count(api, "proxy_set_header "+TrafficWeightHeader+" $traffic_weight;"), "the weighted route and both slot routes")
	assert.Contains(t, conf, "grpc_set_header "+TrafficWeightHeader+" $traffic_weight;")
	assert.Equal(t, "/_slot/green/q/health/ready", SlotPath("green", "/q/health/ready"))
	assert.Equal(t, "/_slot/green/", SlotPath("green", ""))

	// A slot without replicas has no route (an authenticated 404), and no
	// slot with a route means no slot location at all.
	v.Slots[1].HTTP, v.Slots[1].GRPC = nil, nil
	conf = render(t, v)
	assert.NotContains(t, conf, "location "+SlotPath("green", "/"))
	assert.Contains(t, conf, "location "+SlotPath("blue", "/"))
	for i := range v.Slots {
		v.Slots[i].Route = ""
	}
	assert.NotContains(t, render(t, v), SlotRoutePrefix)

	// Routes are names nginx can hold in a location, once each.
	for _, bad := range [][2]string{{"blue", "blue"}, {"Blue", "green"}, {"blue", "gr een"}, {"blue", "../x"}} {
		v := sampleValues(100, 0)
		v.Slots[0].Route, v.Slots[1].Route = bad[0], bad[1]
		_, err := Render(v)
		assert.ErrorContains(t, err, "route", "%v", bad)
	}
}

func TestOlderNginxVariant(t *testing.T) {
	v := sampleValues(95, 5)
	v.Modern = false
	conf := render(t, v)
	assert.NotContains(t, conf, "http2 on;")
	assert.NotContains(t, conf, " resolve;")
	assert.Contains(t, conf, "listen 443 ssl http2;")
}

func TestRenderIsDeterministic(t *testing.T) {
	a := render(t, sampleValues(80, 20))
	for i := 0; i < 5; i++ {
		assert.Equal(t, a, render(t, sampleValues(80, 20)))
	}
	assert.NotEqual(t, a, render(t, sampleValues(50, 50)))
}
