package host

import (
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An engine is complete when NewEngine returns: its provider exists, it
// waits for the preparation and the join, and pulls work at once. Its
// provider and pulls keep the URNs existing stacks hold (Engine is no
// component): a changed URN would replace every container.
func TestEngineIsCompleteAndKeepsTheURNsUnderTheHost(t *testing.T) {
	rec := &registrations{all: map[string][]pulumi.MockResourceArgs{}}
	const (
		stackURN    = "urn:pulumi:prod::aurigraph::pulumi:pulumi:Stack::aurigraph-prod"
		hostURN     = "urn:pulumi:prod::aurigraph::aurigraph:host:Host::prod-obs-01"
		providerURN = "urn:pulumi:prod::aurigraph::pulumi:providers:docker::prod-obs-01-docker"
		joinURN     = "urn:pulumi:prod::aurigraph::command:local:Command::join"
	)
	var (
		e              *Engine
		prepared, join pulumi.Resource
		refs           []string
	)
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		h, err := NewHost(ctx, "prod-obs-01", sampleArgs())
		if err != nil {
			return err
		}
		prepared = h.Prepared
		join, err = local.NewCommand(ctx, "join", &local.CommandArgs{Create: pulumi.String("true")})
		if err != nil {
			return err
		}
		e, err = NewEngine(ctx, h, EngineArgs{Joined: []pulumi.Resource{join}})
		if err != nil {
			return err
		}
		// Usable at once: no later step fills anything in.
		for range 2 {
			if _, err := e.Image(ctx, "grafana/grafana:11.3.1"); err != nil {
				return err
			}
		}
		refs = e.ImageRefs()
		return nil
	}, pulumi.WithMocks("aurigraph", "prod", rec))
	require.NoError(t, err)

	require.NotNil(t, e.Provider)
	assert.Equal(t, []pulumi.Resource{prepared, join}, e.Ready(), "the preparation, then the join")
	e.Ready()[0] = nil
	assert.Equal(t, prepared, e.Ready()[0], "Ready is a copy: no caller changes the engine")
	assert.Equal(t, "prod-obs-01", e.Name, "the host's facts come with the engine")
	assert.Equal(t, "/srv/aurigraph", e.DataPath)
	assert.Equal(t, []string{"grafana/grafana:11.3.1"}, refs, "one pull per reference")

	p := rec.all["pulumi:providers:docker"]
	require.Len(t, p, 1)
	assert.Equal(t, "prod-obs-01-docker", p[0].Name)
	assert.Equal(t, stackURN, p[0].RegisterRPC.GetParent(), "the provider stays top-level")
	require.Len(t, p[0].RegisterRPC.GetAliases(), 1)
	assert.Equal(t, hostURN, p[0].RegisterRPC.GetAliases()[0].GetSpec().GetParentUrn(), "aliased from under the host component")

	imgs := rec.all["docker:index/remoteImage:RemoteImage"]
	require.Len(t, imgs, 1)
	img := imgs[0].RegisterRPC
	// Parent, type and name make the URN: these three are what stacks hold.
	assert.Equal(t, hostURN, img.GetParent(), "the pull is the host component's child")
	assert.Equal(t, "prod-obs-01-image-grafana-grafana-11-3-1", imgs[0].Name)
	assert.Equal(t, providerURN+"::"+p[0].Name+"-id", img.GetProvider(), "pulled through the host's provider")
	assert.Contains(t, img.GetDependencies(), joinURN, "the pull waits for the join")
}

// NewEngine refuses what is not a host from NewHost rather than returning
// an engine whose pulls would wait for nothing.
func TestNewEngineNeedsAPreparedHost(t *testing.T) {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewEngine(ctx, &Host{Name: "x"}, EngineArgs{})
		return err
	}, pulumi.WithMocks("aurigraph", "prod", &registrations{all: map[string][]pulumi.MockResourceArgs{}}))
	assert.ErrorContains(t, err, "NewHost")
}
