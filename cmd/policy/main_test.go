package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/policy/rules"
)

func TestVerdictsForCommittedStack(t *testing.T) {
	var out bytes.Buffer
	code := run(&out, "../..", "prod", "text", "")
	assert.Equal(t, 0, code, out.String())
	for _, name := range rules.Names() {
		assert.Contains(t, out.String(), name)
	}
	assert.Contains(t, out.String(), "No violations.")
}

func TestMandatoryViolationExitsNonZero(t *testing.T) {
	var out bytes.Buffer
	code := run(&out, "../..", "", "json", "../../policy/testdata/broken/single-app-host.yaml")
	assert.Equal(t, 1, code)
	var doc struct {
		Policy struct {
			Violations []map[string]string `json:"violations"`
		} `json:"policy"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	require.NotEmpty(t, doc.Policy.Violations)
	v := doc.Policy.Violations[0]
	assert.Equal(t, "app-replicas-spread", v["policy"])
	assert.Equal(t, "mandatory", v["level"])
	assert.Contains(t, v, "urn")
	assert.NotEmpty(t, v["message"])
}
