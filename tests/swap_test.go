package tests

// Test, then swap, across both stacks: every file a step installs goes
// through a temporary file and a rename, the files whose reader has a check
// are checked before, and a certificate with its key is checked as a pair.

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

var secretWrite = regexp.MustCompile(`(?m)^write '([^']+)' `)

func TestEveryConfigFileIsSwappedAndCheckedWhereItsReaderCan(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			validated := map[string]bool{}
			var pairs []string
			for _, r := range res.OfType("command:remote:Command") {
				script := mockrun.Unwrap(r.Inputs["create"]).StringValue()
				for _, in := range configfile.Installs(script) {
					for _, l := range strings.Split(script, "\n") {
						if strings.Contains(l, "install -D") {
							assert.Contains(t, l, `"$CANDIDATE"/`, "%s: no copy straight over a live file", r.Name)
						}
					}
					if strings.Contains(script, `if ! sh -eu -c "$VALIDATE"`) {
						validated[in.To] = true
					}
				}
				// A set holding a certificate and a key checks them as a pair.
				var crt, key bool
				for _, m := range secretWrite.FindAllStringSubmatch(script, -1) {
					crt = crt || strings.HasSuffix(m[1], ".crt") && !strings.HasSuffix(m[1], "ca.crt")
					key = key || strings.HasSuffix(m[1], ".key")
				}
				if crt && key {
					pairs = append(pairs, r.Name)
					assert.Contains(t, script, "openssl pkey -pubout", "%s: the key pair is checked before the rename", r.Name)
				}
			}
			assert.Subset(t, pairs, []string{"nginx-tls", "kibana-tls", "vault-tls"})
			for _, f := range []string{"/srv/aurigraph/nginx/conf/nginx.conf", "/srv/aurigraph/prometheus/config/prometheus.yml",
				"/srv/aurigraph/prometheus/config/alerts.yml"} {
				assert.True(t, validated[f], "%s is checked by its reader before it goes live", f)
			}
		})
	}
}
