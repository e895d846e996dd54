// Package imageref reads image references the way Docker does, for the few
// things this repository needs to know about one: its registry, repository,
// tag and digest. `make pin` resolves tags to digests with it, the offline
// plan shows each image's digest and the policy pack checks that one is
// there; they all answer the same way because they ask here.
package imageref

import (
	"fmt"
	"regexp"
	"strings"
)

// DockerHub is how references without a registry name Docker Hub, and
// DockerHubAPI the host that serves its registry API (Docker's own client
// makes the same substitution).
const (
	DockerHub    = "docker.io"
	DockerHubAPI = "registry-1.docker.io"
)

// digestRE is the only digest form accepted: sha256 and 64 lower-case hex
// digits, as registries and `docker inspect` print it.
var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Ref is a parsed image reference.
type Ref struct {
	// Registry is the registry host[:port], DockerHub when the reference
	// names none.
	Registry string
	// Repository is the path inside the registry; on Docker Hub an official
	// image's one-part name gets its implicit "library/" prefix.
	Repository string
	Tag        string // "" when none
	Digest     string // "sha256:<64 hex>", "" when none
	// name is the reference's name as written (registry and path, no tag).
	name string
}

// Parse splits a reference. It checks the digest strictly and the rest only
// as far as splitting needs: stacks/validate.go checks the full syntax.
func Parse(ref string) (Ref, error) {
	r := Ref{}
	rest := ref
	if at := strings.Index(rest, "@"); at >= 0 {
		r.Digest = rest[at+1:]
		rest = rest[:at]
		if !ValidDigest(r.Digest) {
			return Ref{}, fmt.Errorf("%q: the digest must be sha256: and 64 lower-case hex digits", ref)
		}
	}
	if slash, colon := strings.LastIndex(rest, "/"), strings.LastIndex(rest, ":"); colon > slash {
		r.Tag = rest[colon+1:]
		rest = rest[:colon]
	}
	if rest == "" {
		return Ref{}, fmt.Errorf("%q has no repository", ref)
	}
	r.name = rest
	first, path, found := strings.Cut(rest, "/")
	// Docker's rule: the first part names a registry when it has a dot or a
	// port, or is localhost.
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = first, path
	} else {
		r.Registry, r.Repository = DockerHub, rest
	}
	if r.Registry == DockerHub && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	return r, nil
}

// ValidDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// Digest is the reference's digest ("" when it has none or is not a
// reference this package can read).
func Digest(ref string) string {
	r, err := Parse(ref)
	if err != nil {
		return ""
	}
	return r.Digest
}

// HasDigest reports whether ref is pinned by a valid digest.
func HasDigest(ref string) bool { return Digest(ref) != "" }

// WithDigest is the reference as written (name and tag) pinned to digest,
// replacing any digest it had.
func (r Ref) WithDigest(digest string) string {
	out := r.name
	if r.Tag != "" {
		out += ":" + r.Tag
	}
	if digest != "" {
		out += "@" + digest
	}
	return out
}

// String is the reference as written.
func (r Ref) String() string { return r.WithDigest(r.Digest) }

// Short is the reference with its digest cut to 12 hex digits, for tables.
func Short(ref string) string {
	r, err := Parse(ref)
	if err != nil || r.Digest == "" {
		return ref
	}
	return r.WithDigest(r.Digest[:len("sha256:")+12] + "…")
}
