package mockrun

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type comp struct{ pulumi.ResourceState }

func TestRecordsParentsProvidersDependenciesAndEngineURNs(t *testing.T) {
	res, err := Run(func(ctx *pulumi.Context) error {
		c := &comp{}
		if err := ctx.RegisterComponentResource("test:index:Comp", "c", c); err != nil {
			return err
		}
		var prov pulumi.ProviderResourceState
		if err := ctx.RegisterResource("pulumi:providers:docker", "h1-docker", pulumi.Map{}, &prov, pulumi.Parent(c)); err != nil {
			return err
		}
		var d pulumi.CustomResourceState
		if err := ctx.RegisterResource("docker:index:Thing", "d", pulumi.Map{}, &d, pulumi.Parent(c), pulumi.Provider(&prov)); err != nil {
			return err
		}
		var a pulumi.CustomResourceState
		if err := ctx.RegisterResource("test:index:Thing", "a", pulumi.Map{"x": pulumi.String("1")}, &a, pulumi.Parent(c)); err != nil {
			return err
		}
		var b pulumi.CustomResourceState
		return ctx.RegisterResource("test:index:Thing", "b", pulumi.Map{"secret": pulumi.ToSecret(pulumi.String("s"))}, &b,
			pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{&a}))
	}, Options{Project: "proj", Stack: "dev"})
	require.NoError(t, err)

	comp := res.Named("test:index:Comp", "c")
	require.NotNil(t, comp)
	want := resource.NewURN("dev", "proj", "test:index:Comp", "test:index:Thing", "b")
	b := res.ByURN(string(want))
	require.NotNil(t, b, "URN built like the engine's, parent type included")
	assert.Equal(t, comp.URN, b.Parent)
	a := res.Named("test:index:Thing", "a")
	assert.Equal(t, []string{a.URN}, b.DependsOn)
	assert.True(t, b.Inputs["secret"].IsSecret())
	assert.Equal(t, tokens.Type("test:index:Thing"), resource.URN(b.URN).Type())
	prov := res.Named("pulumi:providers:docker", "h1-docker")
	require.NotNil(t, prov)
	assert.Equal(t, prov.URN, res.Named("docker:index:Thing", "d").Provider, "explicit provider recorded by URN")
	assert.Empty(t, a.Provider, "default provider recorded as empty")
}

func TestFabricatedOutputsAreDeterministicAndKeysSecret(t *testing.T) {
	a := Fabricate("tls:index/privateKey:PrivateKey", "ca-key", nil)
	b := Fabricate("tls:index/privateKey:PrivateKey", "ca-key", nil)
	c := Fabricate("tls:index/privateKey:PrivateKey", "other-key", nil)
	assert.True(t, a.DeepEquals(b))
	assert.False(t, a.DeepEquals(c))
	assert.True(t, a["privateKeyPem"].IsSecret())
}
