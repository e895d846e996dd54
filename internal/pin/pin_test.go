package pin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/imageref"
)

// fakeDigests stands in for a registry: a digest derived from the tag
// reference, so a test can tell which reference was asked.
func fakeDigests(asked *[]string) Resolve {
	return func(_ context.Context, ref string) (string, error) {
		*asked = append(*asked, ref)
		sum := sha256.Sum256([]byte(ref))
		return "sha256:" + hex.EncodeToString(sum[:]), nil
	}
}

func digestOf(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

const stackFile = `# a comment that stays
config:
  aurigraph:environment: prod
  aurigraph:release:
    blue: {image: "aurigraph/v11:11.4.2", weight: 100}
    green: {image: "", weight: 0}
  aurigraph:tiers:
    validator: {replicas: 5, image: 'aurigraph/v11:11.4.3'}
    slim: {replicas: 5}
  aurigraph:images:
    postgres: postgres:15.10-alpine   # trailing comment
    redis: redis:7.4.1-alpine
    nginx: nginx:1.27.3-alpine
  aurigraph:edge:
    apiHostname: api.example.com
`

func TestPinWritesDigestsAndNothingElse(t *testing.T) {
	var asked []string
	out, changes, err := Pin(context.Background(), []byte(stackFile), "aurigraph", fakeDigests(&asked))
	require.NoError(t, err)
	want := strings.NewReplacer(
		`"aurigraph/v11:11.4.2"`, `"aurigraph/v11:11.4.2@`+digestOf("aurigraph/v11:11.4.2")+`"`,
		`'aurigraph/v11:11.4.3'`, `'aurigraph/v11:11.4.3@`+digestOf("aurigraph/v11:11.4.3")+`'`,
		"postgres:15.10-alpine ", "postgres:15.10-alpine@"+digestOf("postgres:15.10-alpine")+" ",
		"redis:7.4.1-alpine\n", "redis:7.4.1-alpine@"+digestOf("redis:7.4.1-alpine")+"\n",
		"nginx:1.27.3-alpine\n", "nginx:1.27.3-alpine@"+digestOf("nginx:1.27.3-alpine")+"\n",
	).Replace(stackFile)
	assert.Equal(t, want, string(out))
	require.Len(t, changes, 5)
	assert.Equal(t, "release.blue.image", changes[0].Key)
	assert.Equal(t, "images.nginx", changes[4].Key)

	// Pinning again asks for the same tags and changes nothing.
	asked = nil
	again, changes, err := Pin(context.Background(), out, "aurigraph", fakeDigests(&asked))
	require.NoError(t, err)
	assert.Equal(t, string(out), string(again))
	assert.Contains(t, asked, "postgres:15.10-alpine", "the tag is resolved again, not the digest trusted")
	for _, c := range changes {
		assert.False(t, c.Changed(), c.Key)
	}
}

func TestPinFollowsAMovedTagOnlyWhenRun(t *testing.T) {
	pinned := "config:\n  aurigraph:images:\n    redis: redis:7.4.1-alpine@" + digestOf("old") + "\n"
	moved := func(_ context.Context, ref string) (string, error) { return digestOf("new"), nil }
	out, changes, err := Pin(context.Background(), []byte(pinned), "aurigraph", moved)
	require.NoError(t, err)
	assert.Equal(t, "config:\n  aurigraph:images:\n    redis: redis:7.4.1-alpine@"+digestOf("new")+"\n", string(out))
	assert.True(t, changes[0].Changed())
}

func TestPinWritesNothingWhenAnyImageFails(t *testing.T) {
	failing := func(_ context.Context, ref string) (string, error) {
		if strings.HasPrefix(ref, "redis") {
			return "", fmt.Errorf("manifest unknown")
		}
		return digestOf(ref), nil
	}
	out, _, err := Pin(context.Background(), []byte(stackFile), "aurigraph", failing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "images.redis: manifest unknown")
	assert.Nil(t, out)

	guessing := func(_ context.Context, ref string) (string, error) { return "sha256:abc", nil }
	_, _, err = Pin(context.Background(), []byte(stackFile), "aurigraph", guessing)
	require.Error(t, err, "only a full sha256 digest is written")
}

func TestPinKeepsTheCommittedStacksIntact(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		var asked []string
		out, changes, err := Pin(context.Background(), raw, "aurigraph", fakeDigests(&asked))
		require.NoError(t, err)
		assert.Len(t, changes, 16, "15 service images and the blue slot")
		// Removing the digests gives back the file byte for byte.
		stripped := string(out)
		for _, c := range changes {
			stripped = strings.Replace(stripped, c.New, c.Old, 1)
			assert.Equal(t, digestOf(c.Old), imageref.Digest(c.New), c.Key)
		}
		assert.Equal(t, string(raw), stripped)
	}
}

// registry is a Docker Registry API v2 that, like Docker Hub, wants an
// anonymous bearer token and serves library/ images.
func registry(t *testing.T, manifests map[string]string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.URL.Query().Get("service") != "fake-registry" || !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:") {
				http.Error(w, "bad token request", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, `{"token":"tok-`+r.URL.Query().Get("scope")+`"}`)
			return
		}
		name, tag, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-repository:"+name+":pull" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="fake-registry",scope="repository:`+name+`:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.oci.image.index.v1+json") ||
			!strings.Contains(r.Header.Get("Accept"), "application/vnd.docker.distribution.manifest.v2+json") {
			http.Error(w, "no accepted manifest type", http.StatusNotAcceptable)
			return
		}
		body, ok := manifests[name+":"+tag]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		if r.Method == http.MethodHead && tag != "nodigest" {
			w.Header().Set("Docker-Content-Digest", digestOf2(body))
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func digestOf2(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestResolverAsksTheRegistryWithAToken(t *testing.T) {
	srv := registry(t, map[string]string{
		"library/nginx:1.27.3-alpine": `{"manifests":[]}`,
		"grafana/grafana:11.3.1":      `{"manifests":[1]}`,
		"library/redis:nodigest":      `{"schemaVersion":2}`,
	})
	res := &Resolver{Overrides: map[string]string{"docker.io": srv.URL}}
	d, err := res.Resolve(context.Background(), "nginx:1.27.3-alpine")
	require.NoError(t, err)
	assert.Equal(t, digestOf2(`{"manifests":[]}`), d, "docker.io/library/ for a one-part name")
	d, err = res.Resolve(context.Background(), "docker.io/grafana/grafana:11.3.1@sha256:"+strings.Repeat("0", 64))
	require.NoError(t, err)
	assert.Equal(t, digestOf2(`{"manifests":[1]}`), d, "the tag is asked, whatever digest the reference had")
	d, err = res.Resolve(context.Background(), "redis:nodigest")
	require.NoError(t, err)
	assert.Equal(t, digestOf2(`{"schemaVersion":2}`), d, "without the header the digest is the manifest's sha256")
	_, err = res.Resolve(context.Background(), "nginx:9.9")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404")
}

func TestResolverSchemes(t *testing.T) {
	res := &Resolver{Overrides: map[string]string{"quay.io": "http://127.0.0.1:9"}}
	for ref, want := range map[string]string{
		"nginx:1":                  "https://registry-1.docker.io",
		"127.0.0.1:5000/a/b:1":     "http://127.0.0.1:5000",
		"localhost:5000/a:1":       "http://localhost:5000",
		"registry.example.com/a:1": "https://registry.example.com",
		"quay.io/a/b:1":            "http://127.0.0.1:9",
	} {
		r, err := imageref.Parse(ref)
		require.NoError(t, err)
		assert.Equal(t, want, res.baseURL(r), ref)
	}
	_, _, err := ParseOverride("docker.io")
	assert.Error(t, err)
	_, _, err = ParseOverride("docker.io=ftp://x")
	assert.Error(t, err)
	host, base, err := ParseOverride("docker.io=http://127.0.0.1:5000/")
	require.NoError(t, err)
	assert.Equal(t, []string{"docker.io", "http://127.0.0.1:5000"}, []string{host, base})
}

func TestParseChallenge(t *testing.T) {
	assert.Equal(t, map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/nginx:pull,push"},
		parseChallenge(`realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push"`))
	assert.Equal(t, map[string]string{"realm": "https://x/t", "service": "s"}, parseChallenge(`realm=https://x/t, service="s"`))
}

// Flow mappings (as the fixtures write them) keep their form: plain values
// stay plain, and the result must read back (Pin checks it).
func TestPinFlowMappings(t *testing.T) {
	in := "config:\n  aurigraph:images: {postgres: postgres:15.10-alpine, redis: \"redis:7.4.1-alpine\"}\n"
	var asked []string
	out, _, err := Pin(context.Background(), []byte(in), "aurigraph", fakeDigests(&asked))
	require.NoError(t, err)
	assert.Equal(t, "config:\n  aurigraph:images: {postgres: postgres:15.10-alpine@"+digestOf("postgres:15.10-alpine")+
		", redis: \"redis:7.4.1-alpine@"+digestOf("redis:7.4.1-alpine")+"\"}\n", string(out))
}
