package tests

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// deployKey stands in for the stack's sshPrivateKey secret.
const deployKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nZGVwbG95LWtleS1tYXJrZXI=\n-----END OPENSSH PRIVATE KEY-----\n"

// strings under key path, secrets unwrapped, with whether each was secret.
type found struct {
	path   string
	text   string
	secret bool
}

func allStrings(v resource.PropertyValue, path string, secret bool, out *[]found) {
	switch {
	case v.IsSecret():
		allStrings(v.SecretValue().Element, path, true, out)
	case v.IsOutput():
		allStrings(v.OutputValue().Element, path, secret || v.OutputValue().Secret, out)
	case v.IsString():
		*out = append(*out, found{path, v.StringValue(), secret})
	case v.IsAsset():
		*out = append(*out, found{path, v.AssetValue().Text, secret})
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			allStrings(e, path, secret, out)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			allStrings(e, path+"."+string(k), secret, out)
		}
	}
}

func inputStrings(r mockrun.Resource) []found {
	var out []found
	for k, v := range r.Inputs {
		allStrings(v, string(k), false, &out)
	}
	return out
}

// The deploy key reaches the hosts only through the remote commands' (and
// copies') SSH connections, always as a secret; nothing writes it to a file on the
// machine running Pulumi (no command:local:Command carries it), and the
// Docker providers get it from an ssh-agent, not from a key file.
func TestDeployKeyOnlyInSecretSSHConnections(t *testing.T) {
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack).Set("sshPrivateKey", deployKey))
			connections := 0
			for _, r := range res.Resources {
				for _, f := range inputStrings(r) {
					if !strings.Contains(f.text, "ZGVwbG95LWtleS1tYXJrZXI=") {
						continue
					}
					assert.NotEqual(t, "command:local:Command", r.Type, "%s writes the key on the machine running Pulumi", r.URN)
					assert.True(t, strings.HasPrefix(r.Type, "command:remote:"), "%s (%s) carries the key", r.URN, f.path)
					assert.True(t, strings.HasPrefix(f.path, "connection."), "%s carries the key in %s", r.URN, f.path)
					assert.True(t, f.secret, "%s: the key in %s is secret", r.URN, f.path)
					connections++
				}
			}
			assert.Greater(t, connections, 0, "the remote commands log in with the key")
		})
	}
}

// Key and known_hosts files of the machine running Pulumi: the repository's
// .ssh-aurigraph/, the checkout itself, or an ssh option naming a file.
var keyFileRefs = regexp.MustCompile(`\.ssh-aurigraph|IdentityFile=(?:[^n]|n[^o])|(?:User|Global)KnownHostsFile=(?:[^/]|/[^d])`)

func TestNoInputNamesAKeyFileOfTheRepository(t *testing.T) {
	root := harness.RepoRoot(t)
	for _, stack := range []string{"staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			res := harness.Run(t, harness.Stack(t, stack))
			providers := res.OfType("pulumi:providers:docker")
			require.NotEmpty(t, providers)
			for _, r := range res.Resources {
				for _, f := range inputStrings(r) {
					assert.NotContains(t, f.text, root, "%s %s names the checkout", r.URN, f.path)
					assert.Empty(t, keyFileRefs.FindAllString(f.text, -1), "%s %s names a key file: %q", r.URN, f.path, f.text)
				}
			}
			for _, p := range providers {
				assert.NotEmpty(t, p.Inputs["sshOpts"].ArrayValue(), p.URN)
			}
		})
	}
}
