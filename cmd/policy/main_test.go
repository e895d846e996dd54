package main

import (
	"bytes"
	"encoding/json"
	"strings"
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
	// Only the opt-in image-digest warns, until prod is pinned (docs/images.md).
	assert.NotContains(t, out.String(), "[MANDATORY]")
	assert.Regexp(t, `(No violations\.|\d+ violation\(s\), 0 mandatory:)`, out.String())
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "  [") {
			assert.Equal(t, "  [ADVISORY] image-digest", line)
		}
	}
}

// A fixture's levels count: the opt-in rule it makes mandatory fails the run.
func TestFixtureLevelsMakeOptInRulesMandatory(t *testing.T) {
	var out bytes.Buffer
	code := run(&out, "../..", "", "text", "../../policy/testdata/broken/image-without-digest.yaml")
	assert.Equal(t, 1, code, out.String())
	assert.Contains(t, out.String(), "FAIL  image-digest")
	assert.Contains(t, out.String(), "2 violation(s), 2 mandatory:")
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
