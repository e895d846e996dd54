package blast

import (
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/mockrun"
)

const (
	urnA = "urn:pulumi:s::p::t:m:T::a"
	urnB = "urn:pulumi:s::p::t:m:T::b"
	urnC = "urn:pulumi:s::p::t:m:T::c"
)

func res(urn string, inputs resource.PropertyMap) mockrun.Resource {
	return mockrun.Resource{URN: urn, Type: "t:m:T", Inputs: inputs, Custom: true}
}

func result(rs ...mockrun.Resource) *mockrun.Result { return &mockrun.Result{Resources: rs} }

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func TestIdenticalRunsHaveNoChanges(t *testing.T) {
	in := props(map[string]any{"name": "x", "envs": []any{"A=1", "B=2"}, "nested": map[string]any{"k": 1.0}})
	c := Diff(result(res(urnA, in)), result(res(urnA, in.Copy())))
	assert.True(t, c.Empty(), c.String())
}

func TestAddedAndRemovedBySortedURN(t *testing.T) {
	in := props(map[string]any{"name": "x"})
	c := Diff(result(res(urnB, in), res(urnA, in)), result(res(urnC, in), res(urnA, in)))
	assert.Equal(t, []string{urnC}, c.Added)
	assert.Equal(t, []string{urnB}, c.Removed)
	assert.Empty(t, c.Changed)
	assert.Equal(t, []string{urnB, urnC}, c.All())
}

func TestNestedInputChangeNamesTheKey(t *testing.T) {
	before := props(map[string]any{"name": "x", "healthcheck": map[string]any{"retries": 3.0}})
	after := props(map[string]any{"name": "x", "healthcheck": map[string]any{"retries": 4.0}})
	c := Diff(result(res(urnA, before), res(urnB, before)), result(res(urnA, after), res(urnB, before)))
	assert.Equal(t, []string{urnA}, c.Changed)
	assert.Equal(t, []string{"healthcheck"}, c.Why[urnA])
	assert.Contains(t, c.String(), "~ "+urnA+" (healthcheck)")
}

func TestArrayOrderIsAChange(t *testing.T) {
	before := props(map[string]any{"envs": []any{"A=1", "B=2"}})
	after := props(map[string]any{"envs": []any{"B=2", "A=1"}})
	assert.Equal(t, []string{urnA}, Diff(result(res(urnA, before)), result(res(urnA, after))).Changed)
}

func secretEnvs(value string) resource.PropertyMap {
	return resource.PropertyMap{"envs": resource.NewProperty([]resource.PropertyValue{
		resource.NewProperty("A=1"),
		resource.MakeSecret(resource.NewProperty("PASSWORD=" + value)),
	})}
}

func TestSecretWrappedValues(t *testing.T) {
	same := Diff(result(res(urnA, secretEnvs("s3cret"))), result(res(urnA, secretEnvs("s3cret"))))
	assert.True(t, same.Empty(), "an unchanged secret is no change: %s", same)

	changed := Diff(result(res(urnA, secretEnvs("s3cret"))), result(res(urnA, secretEnvs("other"))))
	assert.Equal(t, []string{urnA}, changed.Changed, "a changed secret value is a change")
	assert.NotContains(t, changed.String(), "s3cret", "the summary never shows values")

	plain := resource.PropertyMap{"envs": resource.NewProperty([]resource.PropertyValue{
		resource.NewProperty("A=1"), resource.NewProperty("PASSWORD=s3cret"),
	})}
	unwrapped := Diff(result(res(urnA, secretEnvs("s3cret"))), result(res(urnA, plain)))
	assert.Equal(t, []string{urnA}, unwrapped.Changed, "a value that stops being secret is a change")
}

func TestProviderAndParentChanges(t *testing.T) {
	in := props(map[string]any{"name": "x"})
	a := res(urnA, in)
	a.Provider, a.Parent = "urn:prov-1", "urn:parent-1"
	moved := a
	moved.Provider = "urn:prov-2"
	reparented := a
	reparented.Parent = "urn:parent-2"

	c := Diff(result(a), result(moved))
	assert.Equal(t, []string{urnA}, c.Changed)
	assert.Equal(t, []string{"provider"}, c.Why[urnA])

	c = Diff(result(a), result(reparented))
	assert.Equal(t, []string{"parent"}, c.Why[urnA])
}

func TestDependsOnAloneIsNoChange(t *testing.T) {
	in := props(map[string]any{"name": "x"})
	a := res(urnA, in)
	b := res(urnA, in)
	b.DependsOn = []string{urnB}
	assert.True(t, Diff(result(a), result(b)).Empty())
}

func TestAbsentEqualsNull(t *testing.T) {
	before := resource.PropertyMap{"name": resource.NewProperty("x")}
	after := resource.PropertyMap{"name": resource.NewProperty("x"), "user": resource.NewNullProperty()}
	assert.True(t, Diff(result(res(urnA, before)), result(res(urnA, after))).Empty())
	after["user"] = resource.NewProperty("1001")
	assert.Equal(t, []string{"user"}, Diff(result(res(urnA, before)), result(res(urnA, after))).Why[urnA])
}

// The same on real recordings: a secret stdin changed in a program run
// under mocks is seen, an unchanged run is not.
func TestOnMockedRuns(t *testing.T) {
	program := func(secret, create string) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error {
			_, err := remote.NewCommand(ctx, "step", &remote.CommandArgs{
				Connection: &remote.ConnectionArgs{Host: pulumi.String("h")},
				Create:     pulumi.String(create),
				Stdin:      pulumi.ToSecret(pulumi.String(secret)).(pulumi.StringOutput),
			})
			return err
		}
	}
	run := func(p pulumi.RunFunc) *mockrun.Result {
		r, err := mockrun.Run(p, mockrun.Options{Project: "p", Stack: "s"})
		require.NoError(t, err)
		return r
	}
	base := run(program("one", "true"))
	require.Len(t, base.Resources, 1)
	assert.True(t, Diff(base, run(program("one", "true"))).Empty())

	c := Diff(base, run(program("two", "true")))
	require.Equal(t, []string{base.Resources[0].URN}, c.Changed)
	assert.Equal(t, []string{"stdin"}, c.Why[base.Resources[0].URN])
}
