package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRefusesBadInvocations(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run(&out, &errOut, ".", "", overrides{}, false))
	assert.Contains(t, errOut.String(), "-stack is required")

	dir := t.TempDir()
	text := "config:\n  aurigraph:images: {redis: \"redis:7.4.1-alpine\"}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.x.yaml"), []byte(text), 0o644))
	t.Setenv(OverrideEnv, "docker.io")
	errOut.Reset()
	assert.Equal(t, 2, run(&out, &errOut, dir, "x", overrides{}, false))
	assert.Contains(t, errOut.String(), "want registry=http(s)://host[:port]")

	// An unreachable registry: an error, and the file untouched.
	t.Setenv(OverrideEnv, "docker.io=http://127.0.0.1:1")
	errOut.Reset()
	assert.Equal(t, 1, run(&out, &errOut, dir, "x", overrides{}, false))
	assert.Contains(t, errOut.String(), "images.redis")
	now, err := os.ReadFile(filepath.Join(dir, "Pulumi.x.yaml"))
	require.NoError(t, err)
	assert.Equal(t, text, string(now))
}

func TestOverrideFlag(t *testing.T) {
	ov := overrides{}
	require.NoError(t, ov.Set("quay.io=https://mirror.example.com/"))
	assert.Equal(t, "https://mirror.example.com", ov["quay.io"])
	assert.Error(t, ov.Set("quay.io"))
}
