package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/tests/harness"
)

// standInDigest is a digest for a mocked run (nothing is pulled): derived
// from the reference so every image gets its own.
func standInDigest(ref string) string {
	sum := sha256.Sum256([]byte("stand-in/" + ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pinnedProd is prod with every image as name:tag@sha256:…, as `make pin`
// writes them, and the refs it set (config key → reference).
func pinnedProd(t *testing.T, blueDigest string) (*stackfile.Stack, map[string]string) {
	t.Helper()
	s := harness.Stack(t, "prod")
	images := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:images"]), &images))
	refs := map[string]string{}
	for k, ref := range images {
		images[k] = ref + "@" + standInDigest(ref)
		refs["images."+k] = images[k]
	}
	raw, err := json.Marshal(images)
	require.NoError(t, err)
	blue := releaseBlueImage + "@" + blueDigest
	refs["release.blue.image"] = blue
	s = s.Set("images", string(raw)).
		Set("release", `{"blue":{"image":"`+blue+`","weight":100},"green":{"image":"","weight":0}}`)
	return s, refs
}

// What Docker is given is the pinned reference everywhere: every pull, every
// container, the gateway's release triggers; the resource names made from
// references stay distinct per digest.
func TestDigestPinnedImagesReachDocker(t *testing.T) {
	s, refs := pinnedProd(t, standInDigest(releaseBlueImage))
	res := harness.Run(t, s)
	pinned := map[string]bool{}
	for _, ref := range refs {
		pinned[ref] = true
	}

	pulls := res.OfType(releaseImageType)
	require.NotEmpty(t, pulls)
	pulled := map[string]bool{}
	for _, img := range pulls {
		ref := harness.Str(img.Inputs, "name")
		assert.True(t, pinned[ref], "%s pulls %q, not a pinned reference", img.Name, ref)
		assert.True(t, imageref.HasDigest(ref), ref)
		d := strings.TrimPrefix(imageref.Digest(ref), "sha256:")
		assert.Contains(t, img.Name, d, "the pull's name carries the whole digest, so a new digest is a new pull")
		pulled[ref] = true
	}
	assert.Len(t, pulled, len(refs), "every pinned image is pulled")

	for name, c := range harness.Containers(res) {
		img := harness.Str(c.Inputs, "image")
		assert.True(t, pinned[img], "container %s runs %q, not a pinned reference", name, img)
	}

	var guard []string
	for _, r := range res.Resources {
		if r.Name == rollbackGuard {
			guard = harness.PlainStrings(r.Inputs["triggers"])
		}
	}
	assert.Contains(t, guard, "image app_blue="+refs["release.blue.image"], "the release guard runs again for a new digest of the blue slot")
	assert.Contains(t, guard, "image nginx="+refs["images.nginx"], "and for a new digest of nginx")
}

// A tag moved and re-pinned is a new image for the program: the same tag
// with another digest is pulled anew and replaces the application's
// containers, exactly like a new tag would.
func TestNewDigestOfTheSameTagIsANewImage(t *testing.T) {
	before, _ := pinnedProd(t, standInDigest("first push"))
	after, refs := pinnedProd(t, standInDigest("second push"))
	a, b := harness.Run(t, before), harness.Run(t, after)
	appNames := func(res *mockrun.Result) map[string]string {
		out := map[string]string{}
		for name, c := range harness.Containers(res) {
			if strings.HasPrefix(name, "aurigraph-v11-") {
				out[name] = harness.Str(c.Inputs, "image")
			}
		}
		return out
	}
	was, now := appNames(a), appNames(b)
	require.Len(t, now, 25)
	for name, img := range now {
		assert.Equal(t, refs["release.blue.image"], img, name)
		assert.NotEqual(t, was[name], img, "%s keeps the old digest", name)
	}
	pullNames := func(res *mockrun.Result) map[string]bool {
		out := map[string]bool{}
		for _, img := range res.OfType(releaseImageType) {
			out[img.Name] = true
		}
		return out
	}
	oldPulls, newPulls := pullNames(a), pullNames(b)
	changed := 0
	for n := range newPulls {
		if !oldPulls[n] {
			changed++
			assert.Contains(t, n, "aurigraph-v11-11-4-2-sha256-", "only the application image's pulls change")
		}
	}
	assert.Equal(t, 5, changed, "one new pull per application host")
}
