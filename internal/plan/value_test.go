package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInputsRendersSecretsAtAnyDepth(t *testing.T) {
	text := "worker_processes auto;\n"
	a, err := asset.FromText(text)
	require.NoError(t, err)
	pw := resource.NewProperty("hunter2-not-shown")
	in := resource.PropertyMap{
		"plain": resource.NewProperty("visible"),
		"count": resource.NewProperty(4096.0),
		"flag":  resource.NewProperty(true),
		"none":  resource.NewNullProperty(),
		"envs": resource.NewProperty([]resource.PropertyValue{
			resource.NewProperty("A=1"),
			resource.MakeSecret(resource.NewProperty("PASSWORD=hunter2-not-shown")),
		}),
		"nested": resource.NewProperty(resource.PropertyMap{
			"inner": resource.NewProperty(resource.PropertyMap{
				"key":  resource.MakeSecret(pw),
				"name": resource.NewProperty("n"),
			}),
		}),
		"wholeSecret": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{"x": pw})),
		"computed":    resource.MakeComputed(resource.NewProperty("")),
		"unknownOut":  resource.NewProperty(resource.Output{Known: false}),
		"secretOut":   resource.NewProperty(resource.Output{Known: true, Secret: true, Element: pw}),
		"knownOut":    resource.NewProperty(resource.Output{Known: true, Element: resource.NewProperty("k")}),
		"source":      resource.NewProperty(a),
		"secretAsset": resource.MakeSecret(resource.NewProperty(a)),
	}
	got := Inputs(in)
	sum := sha256.Sum256([]byte(text))
	assert.Equal(t, map[string]any{
		"plain": "visible",
		"count": 4096.0,
		"flag":  true,
		"none":  nil,
		"envs":  []any{"A=1", Secret},
		"nested": map[string]any{"inner": map[string]any{
			"key": Secret, "name": "n",
		}},
		"wholeSecret": Secret,
		"computed":    Unknown,
		"unknownOut":  Unknown,
		"secretOut":   Secret,
		"knownOut":    "k",
		"source":      map[string]any{"asset": map[string]any{"hash": hex.EncodeToString(sum[:]), "text": text}},
		"secretAsset": Secret,
	}, got)
}
