package derive

import (
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPasswordIsDeterministicDistinctAndPlain(t *testing.T) {
	a := Password("root-secret", "postgres/app")
	assert.Equal(t, a, Password("root-secret", "postgres/app"), "same root and purpose, same password")
	assert.NotEqual(t, a, Password("root-secret", "postgres/exporter"), "each purpose its own")
	assert.NotEqual(t, a, Password("other-root", "postgres/app"), "a new root rotates it")
	assert.Len(t, a, 43)
	assert.Regexp(t, `^[A-Za-z0-9_-]+$`, a)
	assert.NotContains(t, a, "root-secret")
}

type mocks struct{}

func (mocks) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return a.Name + "-id", a.Inputs, nil
}
func (mocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) { return nil, nil }

func TestSecretStaysSecret(t *testing.T) {
	var once sync.Once
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		out := Secret(pulumi.String("root-secret"), "redis/app")
		once.Do(func() {
			r, err := internals.UnsafeAwaitOutput(ctx.Context(), out)
			require.NoError(t, err)
			assert.True(t, r.Secret, "a derived password is a secret")
			assert.Equal(t, Password("root-secret", "redis/app"), r.Value)
		})
		return nil
	}, pulumi.WithMocks("p", "s", mocks{}))
	require.NoError(t, err)
}
