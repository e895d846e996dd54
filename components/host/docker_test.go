package host

import (
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registrations records what the program asks the engine for, by type.
type registrations struct {
	mu  sync.Mutex
	all map[string][]pulumi.MockResourceArgs
}

func (r *registrations) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all[a.TypeToken] = append(r.all[a.TypeToken], a)
	return a.Name + "-id", a.Inputs, nil
}

func (r *registrations) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// The provider is created in every run, --target or not: it must need
// nothing that a targeted run would have to create, and keep the URN it had
// under the host component. Images wait for the host instead.
func TestDockerProviderNeedsNothingAndImagesWaitForTheHost(t *testing.T) {
	rec := &registrations{all: map[string][]pulumi.MockResourceArgs{}}
	// The URNs existing stacks hold.
	const hostURN = "urn:pulumi:prod::aurigraph::aurigraph:host:Host::prod-obs-01"
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		h, err := NewHost(ctx, "prod-obs-01", sampleArgs())
		if err != nil {
			return err
		}
		e, err := NewEngine(ctx, h, EngineArgs{})
		if err != nil {
			return err
		}
		_, err = e.Image(ctx, "grafana/grafana:11.3.1")
		return err
	}, pulumi.WithMocks("aurigraph", "prod", rec))
	require.NoError(t, err)

	require.Len(t, rec.all["pulumi:providers:docker"], 1)
	p := rec.all["pulumi:providers:docker"][0].RegisterRPC
	assert.Equal(t, "urn:pulumi:prod::aurigraph::pulumi:pulumi:Stack::aurigraph-prod", p.GetParent(), "top-level")
	assert.Empty(t, p.GetDependencies())
	require.Len(t, p.GetAliases(), 1)
	assert.Equal(t, hostURN, p.GetAliases()[0].GetSpec().GetParentUrn(), "aliased from under the host component")
	assert.True(t, rec.all["pulumi:providers:docker"][0].Inputs["disableDockerDaemonCheck"].BoolValue(),
		"configuring the provider contacts no host")

	require.Len(t, rec.all["docker:index/remoteImage:RemoteImage"], 1)
	deps := rec.all["docker:index/remoteImage:RemoteImage"][0].RegisterRPC.GetDependencies()
	last := "urn:pulumi:prod::aurigraph::aurigraph:host:Host$command:remote:Command::prod-obs-01-prepare-" + Steps[len(Steps)-1].Name
	assert.Contains(t, deps, last, "the pull waits for the last preparation step")
}

// The Docker provider's host is a URL: an IPv6 address needs brackets, and
// Docker's ssh helper must get back the same host and port.
func TestDockerHostIsAURLForBothAddressFamilies(t *testing.T) {
	for _, tc := range []struct{ address, want string }{
		{"192.0.2.10", "ssh://deploy@192.0.2.10:2222"},
		{"2001:db8::10", "ssh://deploy@[2001:db8::10]:2222"},
	} {
		got := DockerHost(Endpoint{User: "deploy", Address: tc.address, Port: 2222})
		assert.Equal(t, tc.want, got)
		u, err := url.Parse(got)
		require.NoError(t, err)
		assert.Equal(t, tc.address, u.Hostname())
		assert.Equal(t, "2222", u.Port())
	}
}

// A digest-pinned reference is pulled as written (Docker pulls the digest),
// once per host, and each digest of a tag is its own pull.
func TestImagePullsDigestPinnedReferencesAsWritten(t *testing.T) {
	rec := &registrations{all: map[string][]pulumi.MockResourceArgs{}}
	d1 := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	d2 := "sha256:" + strings.Repeat("fedcba9876543210", 4)
	refs := []string{"grafana/grafana:11.3.1@" + d1, "grafana/grafana:11.3.1@" + d2, "grafana/grafana:11.3.1", "grafana/grafana:11.3.1@" + d1}
	var got []string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		h, err := NewHost(ctx, "prod-obs-01", sampleArgs())
		if err != nil {
			return err
		}
		e, err := NewEngine(ctx, h, EngineArgs{})
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if _, err := e.Image(ctx, ref); err != nil {
				return err
			}
		}
		got = e.ImageRefs()
		return nil
	}, pulumi.WithMocks("aurigraph", "prod", rec))
	require.NoError(t, err)
	assert.Equal(t, []string{"grafana/grafana:11.3.1", refs[0], refs[1]}, got)
	pulls := map[string]string{}
	for _, r := range rec.all["docker:index/remoteImage:RemoteImage"] {
		pulls[r.Name] = r.Inputs["name"].StringValue()
	}
	assert.Equal(t, map[string]string{
		"prod-obs-01-image-grafana-grafana-11-3-1":                                             "grafana/grafana:11.3.1",
		"prod-obs-01-image-grafana-grafana-11-3-1-sha256-" + strings.TrimPrefix(d1, "sha256:"): refs[0],
		"prod-obs-01-image-grafana-grafana-11-3-1-sha256-" + strings.TrimPrefix(d2, "sha256:"): refs[1],
	}, pulls)
}
