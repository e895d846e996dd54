package main

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/release"
)

// The runner sets values by path (`pulumi config set --path`); the program
// decodes aurigraph:release strictly, weights as integers. Pulumi's config
// map (the SDK this module pins) stores a path value that reads as an
// integer as one and leaves an empty image a string, so every change of a
// canary plan yields an object the program accepts.
func TestPathChangesKeepTheReleaseObjectsTypes(t *testing.T) {
	m := config.Map{}
	key, err := config.ParseKey("aurigraph:release")
	require.NoError(t, err)
	m[key] = config.NewObjectValue(`{"blue":{"image":"aurigraph/v11:1.0.0","weight":100},"green":{"image":"","weight":0}}`)
	p, err := release.NewPlan(release.Current{Blue: release.SlotConfig{Image: "aurigraph/v11:1.0.0", Weight: 100}}, release.Spec{Strategy: release.Canary, Image: "aurigraph/v11:2.0.0"})
	require.NoError(t, err)
	for _, st := range p.Steps[:5] {
		for _, ch := range st.Changes {
			k, err := config.ParseKey(configKey(ch))
			require.NoError(t, err)
			require.NoError(t, m.Set(k, config.NewValue(ch.Value), true), ch.Key)
		}
	}
	raw, err := m[key].Value(config.NopDecrypter)
	require.NoError(t, err)
	var got struct {
		Blue, Green struct {
			Image  string
			Weight int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &got), "weights stay numbers: %s", raw)
	assert.Equal(t, 80, got.Blue.Weight)
	assert.Equal(t, 20, got.Green.Weight)
	assert.Equal(t, "aurigraph/v11:2.0.0", got.Green.Image)
}

// A rolling rollback removes every tier's override, also those a phase had
// not set yet: removing a missing path is no error.
func TestRollingRollbackRemovesOverridesSetOrNot(t *testing.T) {
	m := config.Map{}
	key, err := config.ParseKey("aurigraph:tiers")
	require.NoError(t, err)
	m[key] = config.NewObjectValue(`{"slim":{"replicas":5,"image":"aurigraph/v11:2.0.0"},"business":{"replicas":15},"validator":{"replicas":5}}`)
	p, err := release.NewPlan(release.Current{Blue: release.SlotConfig{Image: "aurigraph/v11:1.0.0", Weight: 100}}, release.Spec{Strategy: release.Rolling, Image: "aurigraph/v11:2.0.0"})
	require.NoError(t, err)
	for _, ch := range p.Rollback() {
		k, err := config.ParseKey(configKey(ch))
		require.NoError(t, err)
		require.NoError(t, m.Remove(k, true), ch.Key)
	}
	raw, err := m[key].Value(config.NopDecrypter)
	require.NoError(t, err)
	assert.JSONEq(t, `{"slim":{"replicas":5},"business":{"replicas":15},"validator":{"replicas":5}}`, raw)
}
