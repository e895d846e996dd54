package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

const (
	edgeContainerType = "docker:index/container:Container"
	edgeCommandType   = "command:remote:Command"
	edgeCopyType      = "command:remote:CopyToRemote"
)

func edgeStack(t *testing.T, name string) *stackfile.Stack {
	t.Helper()
	return harness.Stack(t, name)
}

func edgeRun(t *testing.T, s *stackfile.Stack) *mockrun.Result {
	t.Helper()
	return harness.Run(t, s)
}

// edgeWithObject returns s with one field of an object config key changed.
func edgeWithObject(t *testing.T, s *stackfile.Stack, key string, change func(map[string]any)) *stackfile.Stack {
	t.Helper()
	obj := map[string]any{}
	if raw := s.Config["aurigraph:"+key]; raw != "" {
		require.NoError(t, json.Unmarshal([]byte(raw), &obj))
	}
	change(obj)
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	return s.Set(key, string(b))
}

func edgeRelease(t *testing.T, s *stackfile.Stack, blue, green int, greenImage string) *stackfile.Stack {
	return edgeWithObject(t, harness.RoomForBothSlots(t, s), "release", func(m map[string]any) {
		m["blue"] = map[string]any{"image": "aurigraph/v11:11.4.2", "weight": blue}
		m["green"] = map[string]any{"image": greenImage, "weight": green}
	})
}

// edgeDiff is what changes between two runs, by URN.
type edgeDiff struct {
	added, removed, changed []string
}

func edgeCompare(a, b *mockrun.Result) edgeDiff {
	var d edgeDiff
	before := map[string]mockrun.Resource{}
	for _, r := range a.Resources {
		before[r.URN] = r
	}
	seen := map[string]bool{}
	for _, r := range b.Resources {
		seen[r.URN] = true
		old, ok := before[r.URN]
		switch {
		case !ok:
			d.added = append(d.added, r.URN)
		case !resource.NewObjectProperty(old.Inputs).DeepEquals(resource.NewObjectProperty(r.Inputs)):
			d.changed = append(d.changed, r.URN)
		}
	}
	for urn := range before {
		if !seen[urn] {
			d.removed = append(d.removed, urn)
		}
	}
	sort.Strings(d.removed)
	return d
}

func edgeNames(urns []string) []string {
	var out []string
	for _, u := range urns {
		out = append(out, u[strings.LastIndex(u, "::")+2:])
	}
	sort.Strings(out)
	return out
}

func edgeText(t *testing.T, v resource.PropertyValue) string {
	t.Helper()
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsAsset() {
		return v.AssetValue().Text
	}
	require.True(t, v.IsString(), "not a string: %v", v)
	return v.StringValue()
}

// edgeSecretFiles reads back the files a secret step writes.
func edgeSecretFiles(t *testing.T, res *mockrun.Result, step string) map[string]string {
	t.Helper()
	w := res.Named(edgeCommandType, step)
	require.NotNil(t, w, step)
	require.True(t, w.Inputs["stdin"].IsSecret(), "%s: stdin stays secret", step)
	files, err := configfile.SecretFiles(w.Inputs["create"].StringValue(), edgeText(t, w.Inputs["stdin"]))
	require.NoError(t, err)
	return files
}

func edgeConf(t *testing.T, res *mockrun.Result) string {
	t.Helper()
	cp := res.Named(edgeCopyType, "nginx-conf-nginx-conf")
	require.NotNil(t, cp, "nginx.conf copy")
	return edgeText(t, cp.Inputs["source"])
}

// Only the gateway publishes ports to the world (80/443); a monitoring UI is
// never published. Other published ports (Logstash's syslog input for the
// hosts) are bound to a host's private cluster address only.
func TestEdgeOnlyTheGatewayIsPublic(t *testing.T) {
	uiPorts := map[float64]bool{3000: true, 5601: true, 16686: true, 9090: true, 8200: true}
	for _, stack := range []string{"prod", "staging"} {
		t.Run(stack, func(t *testing.T) {
			s := edgeStack(t, stack)
			var hosts []struct {
				Private string `json:"privateAddress"`
			}
			require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
			private := map[string]bool{}
			for _, h := range hosts {
				private[h.Private] = true
			}
			res := edgeRun(t, s)
			public := map[string][]string{}
			for _, c := range res.OfType(edgeContainerType) {
				ports, ok := c.Inputs["ports"]
				if !ok || !ports.IsArray() {
					continue
				}
				for _, p := range ports.ArrayValue() {
					o := p.ObjectValue()
					ip := o["ip"].StringValue()
					assert.False(t, uiPorts[o["internal"].NumberValue()], "%s publishes UI port %v", c.Name, o["internal"].NumberValue())
					if !private[ip] {
						public[c.Name] = append(public[c.Name], fmt.Sprintf("%s:%v->%v/%s", ip, o["external"].NumberValue(), o["internal"].NumberValue(), o["protocol"].StringValue()))
					}
				}
			}
			assert.Equal(t, map[string][]string{"nginx": {"0.0.0.0:80->80/tcp", "0.0.0.0:443->443/tcp"}}, public)
			// The container's inputs never carry the configuration or TLS content.
			raw := fmt.Sprint(res.Named(edgeContainerType, "nginx").Inputs)
			assert.NotContains(t, raw, "upstream")
			assert.NotContains(t, raw, "BEGIN")
		})
	}
}

func TestEdgeUpstreamsHoldEveryReplica(t *testing.T) {
	base := edgeStack(t, "prod")
	conf := edgeConf(t, edgeRun(t, base))
	n := strings.Count(conf, ":9003 max_fails=")
	assert.Equal(t, 25, n, "5 validator + 15 business + 5 slim")
	assert.Contains(t, conf, "server aurigraph-v11-blue-validator-5:9003 ")
	assert.Contains(t, conf, "server aurigraph-v11-blue-business-15:9004 ")

	// Scaling a tier adds its replicas to the upstreams, and only rewrites files.
	scaled := edgeWithObject(t, base, "tiers", func(m map[string]any) {
		m["slim"] = map[string]any{"replicas": 7}
	})
	before, after := edgeRun(t, base), edgeRun(t, scaled)
	conf = edgeConf(t, after)
	assert.Equal(t, 27, strings.Count(conf, ":9003 max_fails="))
	assert.Contains(t, conf, "server aurigraph-v11-blue-slim-7:9003 ")
	d := edgeCompare(before, after)
	assert.Contains(t, edgeNames(d.changed), "nginx-conf-nginx-conf")
	assert.Contains(t, edgeNames(d.changed), "nginx-conf-install")
	assert.NotContains(t, edgeNames(d.changed), "nginx")
}

// A canary step or a rollback is a configuration change: nginx.conf and its
// reload change, no container is created, replaced or changed.
func TestEdgeWeightChangeOnlyReloads(t *testing.T) {
	base := edgeStack(t, "prod")
	green := "aurigraph/v11:11.5.0"
	steps := [][2]int{{95, 5}, {80, 20}, {50, 50}, {0, 100}, {100, 0}}
	prev := edgeRun(t, edgeRelease(t, base, 100, 0, green))
	for _, st := range steps[:4] {
		next := edgeRun(t, edgeRelease(t, base, st[0], st[1], green))
		d := edgeCompare(prev, next)
		assert.Empty(t, d.added, "step %v", st)
		assert.Empty(t, d.removed, "step %v", st)
		// The release guard checks the replicas that now get traffic and
		// records the known-good file (tests/edge_rollback_test.go).
		assert.Equal(t, []string{"nginx-conf-install", "nginx-conf-known-good", "nginx-conf-nginx-conf", "nginx-release-guard"}, edgeNames(d.changed), "step %v", st)
		conf := edgeConf(t, next)
		// The weighted split only: the slot route names both slots always.
		split := conf[strings.Index(conf, "split_clients"):]
		split = split[:strings.Index(split, "}")]
		if st[0] > 0 {
			assert.Contains(t, split, fmt.Sprintf("%d%% app_blue;", st[0]))
		} else {
			assert.NotContains(t, split, "app_blue")
		}
		assert.Contains(t, split, "* app_green;")
		prev = next
	}
}

func TestEdgeInvalidReleaseStepsAreRefused(t *testing.T) {
	base := edgeStack(t, "prod")
	cases := []struct {
		name        string
		blue, green int
		greenImage  string
		want        string
	}{
		{"sum below 100", 90, 5, "aurigraph/v11:11.5.0", "weights sum to 95"},
		{"sum above 100", 95, 20, "aurigraph/v11:11.5.0", "weights sum to 115"},
		{"empty slot with weight", 95, 5, "", "release.green.weight is 5 but the slot has no image"},
		{"negative weight", 105, -5, "aurigraph/v11:11.5.0", "release.green.weight is -5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := harness.RunErr(edgeRelease(t, base, c.blue, c.green, c.greenImage))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// Raising pki.rotation replaces exactly the leaf keys, requests and
// certificates, rewrites the secret files holding them and reloads their
// readers; the CA and every container stay.
func TestEdgeRotationBlastRadius(t *testing.T) {
	base := edgeStack(t, "prod")
	rotated := edgeWithObject(t, base, "pki", func(m map[string]any) { m["rotation"] = 1 })
	before, after := edgeRun(t, base), edgeRun(t, rotated)
	d := edgeCompare(before, after)

	var wantRemoved, wantAdded []string
	leaves := []string{"edge", stacks.Elasticsearch, stacks.Kibana, stacks.Vault, stacks.Logstash}
	for _, h := range before.OfType("aurigraph:host:Host") {
		leaves = append(leaves, stacks.LogClientCert(h.Name))
	}
	for _, svc := range leaves {
		for _, kind := range []string{"cert", "csr", "key"} {
			wantRemoved = append(wantRemoved, fmt.Sprintf("pki-%s-%s-r0", svc, kind))
			wantAdded = append(wantAdded, fmt.Sprintf("pki-%s-%s-r1", svc, kind))
		}
	}
	sort.Strings(wantRemoved)
	sort.Strings(wantAdded)
	assert.Equal(t, wantRemoved, edgeNames(d.removed))
	assert.Equal(t, wantAdded, edgeNames(d.added))
	for _, urn := range append(append([]string{}, d.removed...), d.added...) {
		assert.Contains(t, urn, "$tls:index/", "only leaf TLS resources of the PKI are replaced")
	}
	// Changed in place: only remote commands (secret file writes and reloads).
	for _, urn := range d.changed {
		r := after.ByURN(urn)
		assert.Equal(t, edgeCommandType, r.Type, "%s changed", urn)
	}
	changed := edgeNames(d.changed)
	for _, want := range []string{"nginx-tls", "kibana-tls", "vault-tls", "logstash-tls"} {
		assert.Contains(t, changed, want)
	}
	for _, h := range before.OfType("aurigraph:host:Host") {
		assert.Contains(t, changed, h.Name+"-log-forwarding-tls", "every host's rsyslog gets its new client certificate")
	}
	for _, same := range []string{"nginx", "nginx-conf-install", "nginx-conf-nginx-conf", "nginx-htpasswd", "pki-ca", "pki-ca-key"} {
		assert.NotContains(t, changed, same)
	}
	t.Logf("rotation 0→1: removed %v", edgeNames(d.removed))
	t.Logf("rotation 0→1: added %v", edgeNames(d.added))
	t.Logf("rotation 0→1: changed in place %v", changed)
}

func TestEdgeOperatorCertificate(t *testing.T) {
	base := edgeStack(t, "prod")
	const cert = "-----BEGIN CERTIFICATE-----\nOPERATOR\n-----END CERTIFICATE-----\n"
	const key = "-----BEGIN PRIVATE KEY-----\nOPERATORKEY\n-----END PRIVATE KEY-----\n"
	s := edgeWithObject(t, base, "pki", func(m map[string]any) { m["operatorCertificate"] = true }).
		Set("edgeCertificate", cert).Set("edgePrivateKey", key)
	s.SecretKeys = append(s.SecretKeys, "aurigraph:edgeCertificate", "aurigraph:edgePrivateKey")
	res := edgeRun(t, s)

	for _, r := range res.Resources {
		assert.False(t, strings.HasPrefix(r.Name, "pki-edge-"), "no edge leaf is issued: %s", r.Name)
	}
	assert.NotNil(t, res.Named("tls:index/locallySignedCert:LocallySignedCert", "pki-vault-cert-r0"), "internal leaves stay")
	files := edgeSecretFiles(t, res, "nginx-tls")
	assert.Equal(t, cert, files["/srv/aurigraph/nginx/tls/edge.crt"])
	assert.Equal(t, key, files["/srv/aurigraph/nginx/tls/edge.key"])

	// Without the secrets, operator mode is refused.
	missing := edgeWithObject(t, base, "pki", func(m map[string]any) { m["operatorCertificate"] = true })
	err := harness.RunErr(missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "edgeCertificate")
}

// The gateway trusts the stack's CA for Kibana, and mounts the edge leaf
// the CA issued for every public name.
func TestEdgeCAAndEdgeCertificate(t *testing.T) {
	res := edgeRun(t, edgeStack(t, "prod"))
	ca := res.Named("tls:index/selfSignedCert:SelfSignedCert", "pki-ca")
	require.NotNil(t, ca)
	assert.True(t, ca.Inputs["isCaCertificate"].BoolValue())
	caPem := mockrun.Fabricate(ca.Type, ca.Name, ca.Inputs)["certPem"].StringValue()
	files := edgeSecretFiles(t, res, "nginx-tls")
	assert.Equal(t, caPem, files["/srv/aurigraph/nginx/tls/ca.crt"])

	csr := res.Named("tls:index/certRequest:CertRequest", "pki-edge-csr-r0")
	require.NotNil(t, csr)
	var names []string
	for _, n := range csr.Inputs["dnsNames"].ArrayValue() {
		names = append(names, n.StringValue())
	}
	assert.Equal(t, []string{
		"api.aurigraph.example.com", "grpc.aurigraph.example.com",
		"grafana.ops.aurigraph.example.com", "kibana.ops.aurigraph.example.com",
		"jaeger.ops.aurigraph.example.com", "prometheus.ops.aurigraph.example.com",
		"alertmanager.ops.aurigraph.example.com",
	}, names)
	leaf := res.Named("tls:index/locallySignedCert:LocallySignedCert", "pki-edge-cert-r0")
	leafPem := mockrun.Fabricate(leaf.Type, leaf.Name, leaf.Inputs)["certPem"].StringValue()
	assert.Equal(t, leafPem, files["/srv/aurigraph/nginx/tls/edge.crt"])
	for _, w := range []string{"nginx-tls", "nginx-htpasswd"} {
		assert.True(t, res.Named(edgeCommandType, w).Inputs["stdin"].ContainsSecrets(), w)
	}
}

// nginx runs unprivileged from a read-only root, reads its files from the
// read-only bind mount, and every change is tested before it goes live.
func TestEdgeGatewayContainerAndReload(t *testing.T) {
	res := edgeRun(t, edgeStack(t, "prod"))
	c := res.Named(edgeContainerType, "nginx")
	require.NotNil(t, c)
	assert.Equal(t, "101:101", c.Inputs["user"].StringValue())
	assert.True(t, c.Inputs["readOnly"].BoolValue())
	var cmd []string
	for _, a := range c.Inputs["command"].ArrayValue() {
		cmd = append(cmd, a.StringValue())
	}
	assert.Equal(t, []string{"nginx", "-c", "/etc/nginx/aurigraph/conf/nginx.conf", "-g", "daemon off;"}, cmd)
	mounts := c.Inputs["mounts"].ArrayValue()
	require.Len(t, mounts, 1)
	m := mounts[0].ObjectValue()
	assert.Equal(t, "/srv/aurigraph/nginx", m["source"].StringValue())
	assert.True(t, m["readOnly"].BoolValue())

	// Test, then swap, then reload: the configuration is tested by nginx -t
	// in the gateway's image, the certificate and key by openssl, before
	// anything is renamed over the live files.
	for step, check := range map[string]string{
		"nginx-conf-install": `"$IMAGE" -t -c /etc/nginx/aurigraph/conf/nginx.conf`,
		"nginx-tls":          "openssl pkey -pubout",
	} {
		script := edgeText(t, res.Named(edgeCommandType, step).Inputs["update"])
		test := strings.Index(script, check)
		rename := strings.Index(script, "mv -f")
		reload := strings.Index(script, "nginx -c /etc/nginx/aurigraph/conf/nginx.conf -s reload")
		require.GreaterOrEqual(t, test, 0, step)
		assert.Greater(t, rename, test, "%s tests before the rename", step)
		assert.Greater(t, reload, rename, "%s reloads after the rename", step)
		assert.Regexp(t, `(?m)^set -eu$`, script, "%s stops on a failed test", step)
	}
	conf := edgeConf(t, res)
	assert.Contains(t, conf, "resolver 127.0.0.11 ")
	assert.Contains(t, conf, "ssl_certificate /etc/nginx/aurigraph/tls/edge.crt;")
	assert.Contains(t, conf, "auth_basic_user_file /etc/nginx/aurigraph/auth/htpasswd;")
}
