//go:build integration

package tests

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The long run: every hostile value on every key of both stacks, and every
// distinct rendered script through shellcheck (errors) besides bash -n.
func TestIntegrationHostileConfigIsRefusedOrQuoted(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	require.NoError(t, err, "shellcheck is required")
	rep := fuzzConfig(t, true, true)
	t.Logf("hostile config inputs: %d run (%d refused by validation, %d accepted), %d command scripts checked", rep.inputs, rep.refused, rep.accepted, rep.scripts)
	assert.Greater(t, rep.refused, 0)
}
