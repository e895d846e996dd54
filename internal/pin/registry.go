package pin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aurigraph/infra/internal/imageref"
)

// manifestTypes are the manifests a tag may point at, multi-platform ones
// first: the digest written is the one `docker pull` resolves the tag to
// (an OCI index or a manifest list for multi-platform images).
var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// Resolver asks registries (Docker Registry HTTP API v2) which digest a
// tag points at.
type Resolver struct {
	Client *http.Client
	// Overrides maps a registry host (as in the reference: "docker.io",
	// "quay.io", "127.0.0.1:5000") to the base URL to ask instead, e.g. a
	// mirror or, in tests, a loopback registry ("http://127.0.0.1:5000").
	Overrides map[string]string
}

// ParseOverride reads "registry=URL".
func ParseOverride(s string) (string, string, error) {
	host, base, ok := strings.Cut(s, "=")
	u, err := url.Parse(base)
	if !ok || host == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%q: want registry=http(s)://host[:port], e.g. docker.io=http://127.0.0.1:5000", s)
	}
	return host, strings.TrimSuffix(base, "/"), nil
}

// baseURL is where the registry of r answers: an override, plain http for
// a loopback registry (Docker itself treats 127.0.0.0/8 as insecure), https
// otherwise.
func (res *Resolver) baseURL(r imageref.Ref) string {
	if b, ok := res.Overrides[r.Registry]; ok {
		return b
	}
	if r.Registry == imageref.DockerHub {
		return "https://" + imageref.DockerHubAPI
	}
	host := r.Registry
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return "http://" + r.Registry
	}
	return "https://" + r.Registry
}

// Resolve returns the digest the reference's tag points at now.
func (res *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	r, err := imageref.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.Tag == "" {
		return "", fmt.Errorf("%s has no tag to resolve", ref)
	}
	u := fmt.Sprintf("%s/v2/%s/manifests/%s", res.baseURL(r), r.Repository, r.Tag)
	resp, err := res.manifest(ctx, http.MethodHead, u, r)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	resp.Body.Close()
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
		if !imageref.ValidDigest(d) {
			return "", fmt.Errorf("%s: the registry answered the digest %q, not sha256:<64 hex>", ref, d)
		}
		return d, nil
	}
	// Some registries send the digest on GET only: the digest is the
	// sha256 of the manifest exactly as served.
	resp, err = res.manifest(ctx, http.MethodGet, u, r)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", fmt.Errorf("%s: reading the manifest: %w", ref, err)
	}
	sum := sha256.Sum256(body)
	d := "sha256:" + hex.EncodeToString(sum[:])
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d {
		return "", fmt.Errorf("%s: the registry says %s but the manifest hashes to %s", ref, got, d)
	}
	return d, nil
}

// manifest requests u, answering a bearer-token challenge once (anonymous
// pull tokens: Docker Hub, quay.io, ghcr.io…).
func (res *Resolver) manifest(ctx context.Context, method, u string, r imageref.Ref) (*http.Response, error) {
	do := func(token string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return res.client().Do(req)
	}
	resp, err := do("")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		token, err := res.token(ctx, challenge, r)
		if err != nil {
			return nil, err
		}
		if resp, err = do(token); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	return resp, nil
}

// token fetches an anonymous pull token from the realm a
// `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge names.
func (res *Resolver) token(ctx context.Context, challenge string, r imageref.Ref) (string, error) {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("the registry wants %q authentication; only anonymous bearer tokens are supported", scheme)
	}
	p := parseChallenge(params)
	if p["realm"] == "" {
		return "", fmt.Errorf("the registry's bearer challenge names no realm: %q", challenge)
	}
	tu, err := url.Parse(p["realm"])
	if err != nil {
		return "", fmt.Errorf("token realm %q: %w", p["realm"], err)
	}
	q := tu.Query()
	if p["service"] != "" {
		q.Set("service", p["service"])
	}
	scope := p["scope"]
	if scope == "" {
		scope = "repository:" + r.Repository + ":pull"
	}
	q.Set("scope", scope)
	tu.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tu.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := res.client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token %s: %s (a private repository needs credentials, which pin does not handle)", tu.Redacted(), resp.Status)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("token %s: %w", tu.Redacted(), err)
	}
	if body.Token != "" {
		return body.Token, nil
	}
	if body.AccessToken != "" {
		return body.AccessToken, nil
	}
	return "", fmt.Errorf("token %s: the answer holds no token", tu.Redacted())
}

// parseChallenge reads key="value" pairs (values may hold commas).
func parseChallenge(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				val, rest = rest[1:], ""
			} else {
				val, rest = rest[1:end+1], rest[end+2:]
			}
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[key] = val
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ","))
	}
	return out
}

func (res *Resolver) client() *http.Client {
	if res.Client != nil {
		return res.Client
	}
	return http.DefaultClient
}
