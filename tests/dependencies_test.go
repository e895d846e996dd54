package tests

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/tests/harness"
)

// The engine orders work only by the dependencies it is told about (see
// shared notes on the real engine): a container created before its network,
// its config files or its certificates fails `pulumi up`, or starts on stale
// files. Every container must therefore wait, through DependsOn or the
// outputs flowing into its inputs, for the network it joins, for every step
// that writes a file or creates a directory it mounts, and for the tls
// resources whose certificates and keys those files hold.
func TestEveryContainerWaitsForItsNetworkFilesAndCertificates(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			networks := map[string]string{} // network name input → URN
			for _, n := range res.OfType("docker:index/network:Network") {
				networks[harness.Str(n.Inputs, "name")] = n.URN
			}
			require.NotEmpty(t, networks)
			writes := harness.Writes(res)
			pems := harness.TLSOutputs(res)
			require.NotEmpty(t, pems)

			containers := res.OfType(harness.ContainerType)
			var mountedFiles, certs int
			for _, c := range containers {
				closure := harness.Closure(res, c.URN)
				name := harness.Str(c.Inputs, "name")

				joined := harness.ContainerNetworks(c)
				require.NotEmpty(t, joined, "%s joins no network", name)
				for _, n := range joined {
					urn, ok := networks[n]
					if assert.True(t, ok, "%s joins %q, which no Network resource creates", name, n) {
						assert.True(t, closure[urn], "%s does not wait for network %s", name, n)
					}
				}

				host := harness.Host(res, c)
				paths := harness.ContainerHostPaths(c)
				for _, w := range writes {
					if host != "" && w.Host != "" && w.Host != host {
						continue
					}
					src := mountedBy(paths, w.Path)
					if src == "" {
						continue
					}
					mountedFiles++
					assert.True(t, closure[w.URN], "%s mounts %s but does not wait for %s, which writes %s", name, src, w.URN, w.Path)
					for pem, tlsURN := range pems {
						if w.Content != "" && strings.Contains(w.Content, pem) {
							certs++
							assert.True(t, closure[tlsURN], "%s mounts %s from %s but does not wait for it", name, w.Path, tlsURN)
						}
					}
				}
			}
			// Not vacuous: every service kind's containers, their files and the certificates were examined.
			assert.GreaterOrEqual(t, len(containers), 14, "containers examined")
			assert.GreaterOrEqual(t, mountedFiles, 30, "mounted files and directories examined")
			assert.GreaterOrEqual(t, certs, 10, "mounted certificates and keys examined")
		})
	}
}

// mountedBy is the mounted host path p is (or lies under), "" when none.
func mountedBy(mounts []string, p string) string {
	sort.Strings(mounts)
	for _, m := range mounts {
		m = strings.TrimRight(m, "/")
		if p == m || strings.HasPrefix(p, m+"/") {
			return m
		}
	}
	return ""
}
