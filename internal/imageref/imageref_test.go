package imageref

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hex64 = strings.Repeat("0123456789abcdef", 4)

func TestParse(t *testing.T) {
	for ref, want := range map[string]Ref{
		"postgres:15.10-alpine":                               {Registry: DockerHub, Repository: "library/postgres", Tag: "15.10-alpine"},
		"grafana/grafana:11.3.1":                              {Registry: DockerHub, Repository: "grafana/grafana", Tag: "11.3.1"},
		"docker.io/library/nginx:1.27":                        {Registry: DockerHub, Repository: "library/nginx", Tag: "1.27"},
		"quay.io/prometheuscommunity/postgres-exporter:v0.16": {Registry: "quay.io", Repository: "prometheuscommunity/postgres-exporter", Tag: "v0.16"},
		"127.0.0.1:5000/aurigraph/test:1.0@sha256:" + hex64:   {Registry: "127.0.0.1:5000", Repository: "aurigraph/test", Tag: "1.0", Digest: "sha256:" + hex64},
		"localhost/app@sha256:" + hex64:                       {Registry: "localhost", Repository: "app", Digest: "sha256:" + hex64},
		"registry.example.com:5000/app":                       {Registry: "registry.example.com:5000", Repository: "app"},
	} {
		got, err := Parse(ref)
		require.NoError(t, err, ref)
		got.name = ""
		assert.Equal(t, want, got, ref)
	}
}

func TestDigestIsStrict(t *testing.T) {
	assert.Equal(t, "sha256:"+hex64, Digest("nginx:1.27@sha256:"+hex64))
	for _, bad := range []string{
		"nginx:1.27",
		"nginx:1.27@sha256:" + hex64[:63],
		"nginx:1.27@sha256:" + hex64 + "0",
		"nginx:1.27@sha256:" + strings.ToUpper(hex64),
		"nginx:1.27@sha512:" + hex64 + hex64,
		"nginx:1.27@" + hex64,
		"nginx:1.27@sha256:" + hex64[:63] + "g",
	} {
		assert.Empty(t, Digest(bad), bad)
		assert.False(t, HasDigest(bad), bad)
	}
}

func TestWithDigestKeepsNameAndTagAsWritten(t *testing.T) {
	r, err := Parse("postgres:15.10-alpine@sha256:" + strings.Repeat("a", 64))
	require.NoError(t, err)
	assert.Equal(t, "postgres:15.10-alpine@sha256:"+hex64, r.WithDigest("sha256:"+hex64))
	assert.Equal(t, "postgres:15.10-alpine", r.WithDigest(""))
	assert.Equal(t, "postgres:15.10-alpine@sha256:0123456789ab…", Short("postgres:15.10-alpine@sha256:"+hex64))
	assert.Equal(t, "postgres:15.10-alpine", Short("postgres:15.10-alpine"))
}
