//go:build integration

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/imageref"
	"github.com/aurigraph/infra/internal/pin"
	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/internal/shell"
	"github.com/aurigraph/infra/internal/testserver"
	"github.com/aurigraph/infra/stacks"
)

// startRegistry runs Debian's docker-registry (the CNCF distribution
// registry) on 127.0.0.1 with its own storage; dockerd treats 127.0.0.0/8
// registries as insecure, so plain http works for push and pull.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	require.NoError(t, err, "docker-registry is required: make deps")
	_, err = exec.LookPath("docker")
	require.NoError(t, err, "Docker Engine is required")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yml"), []byte(conf), 0o600))
	testserver.Start(t, exec.Command(bin, "serve", filepath.Join(dir, "config.yml")), addr, 30*time.Second, syscall.SIGTERM)
	return addr
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// pushImage imports a one-file image (content makes it unique), tags it
// ref, pushes it and returns the digest docker reports for it.
func pushImage(t *testing.T, ref, content string) (id, digest string) {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "content"), []byte(content), 0o644))
	out, err := exec.Command("sh", "-c", "tar -C "+shell.Quote(root)+" -c . | docker import - "+shell.Quote(ref)).CombinedOutput()
	require.NoError(t, err, "docker import: %s", out)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	docker(t, "push", ref)
	id = docker(t, "inspect", "--format", "{{.Id}}", ref)
	repoDigest := docker(t, "inspect", "--format", "{{index .RepoDigests 0}}", ref)
	name, d, ok := strings.Cut(repoDigest, "@")
	require.True(t, ok, repoDigest)
	require.Equal(t, ref[:strings.LastIndex(ref, ":")], name, "RepoDigests names the pushed repository")
	require.True(t, imageref.ValidDigest(d), repoDigest)
	return id, d
}

func pinFile(t *testing.T, dir string, ov overrides) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(&out, &errOut, dir, "pinned", ov, false)
	t.Logf("pin:\n%s%s", out.String(), errOut.String())
	return out.String(), code
}

func TestIntegrationPinResolvesTagsAgainstARealRegistry(t *testing.T) {
	addr := startRegistry(t)

	// A copy of prod whose postgres image lives on the loopback registry;
	// every other image keeps its real name and is served by the same
	// registry through overrides (docker.io, docker.elastic.co, quay.io).
	raw, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.prod.yaml"))
	require.NoError(t, err)
	testRef := addr + "/aurigraph/test:1.0"
	text := strings.Replace(string(raw), "postgres: postgres:15.10-alpine", "postgres: "+testRef, 1)
	require.NotEqual(t, string(raw), text)
	dir := t.TempDir()
	file := filepath.Join(dir, "Pulumi.pinned.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))

	sites, err := pin.Find([]byte(text), stacks.Namespace)
	require.NoError(t, err)
	want := map[string]string{} // key -> digest docker push reported
	firstID := ""
	for _, s := range sites {
		r, err := imageref.Parse(s.Ref)
		require.NoError(t, err)
		local := addr + "/" + r.Repository + ":" + r.Tag
		id, d := pushImage(t, local, s.Ref)
		want[s.Key] = d
		if s.Ref == testRef {
			firstID = id
		}
	}
	require.Len(t, want, len(stacks.RequiredImages)+1, "every service image and the blue slot's")
	ov := overrides{}
	for _, reg := range []string{"docker.io", "docker.elastic.co", "quay.io"} {
		ov[reg] = "http://" + addr
	}

	out, code := pinFile(t, dir, ov)
	require.Equal(t, 0, code)
	assert.Contains(t, out, fmt.Sprintf("pinned %d image(s)", len(want)))
	pinned, err := os.ReadFile(file)
	require.NoError(t, err)
	after, err := pin.Find(pinned, stacks.Namespace)
	require.NoError(t, err)
	require.Len(t, after, len(want))
	for i, s := range after {
		assert.Equal(t, sites[i].Ref+"@"+want[s.Key], s.Ref, "%s carries the digest docker push reported", s.Key)
	}
	// Only the references changed: without their digests the file is the copy.
	stripped := string(pinned)
	for _, s := range after {
		stripped = strings.Replace(stripped, s.Ref, strings.Split(s.Ref, "@")[0], 1)
	}
	assert.Equal(t, text, stripped)

	// The pinned file passes validation and the offline plan shows every digest.
	project, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), project, 0o644))
	p, err := plan.Build(dir, "pinned")
	require.NoError(t, err)
	var planText bytes.Buffer
	require.NoError(t, p.WriteText(&planText))
	assert.Contains(t, planText.String(), fmt.Sprintf("Images (%d, %d pinned by digest;", len(want), len(want)))
	assert.Regexp(t, `\n  `+regexp.QuoteMeta(testRef)+` +`+want["images.postgres"]+` +1\n`, planText.String())

	// Again: nothing moved, nothing written.
	out, code = pinFile(t, dir, ov)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "every image already pinned")
	again, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(pinned), string(again))

	// The tag moves: the file does not (it changes only when pin runs), and
	// Docker pulling the pinned reference still gets the first image.
	oldDigest := want["images.postgres"]
	_, movedDigest := pushImage(t, testRef, "a different image under the same tag")
	require.NotEqual(t, oldDigest, movedDigest)
	now, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(pinned), string(now))
	pinnedRef := testRef + "@" + oldDigest
	docker(t, "rmi", "-f", testRef)
	docker(t, "pull", pinnedRef)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", pinnedRef).Run() })
	assert.Equal(t, firstID, docker(t, "inspect", "--format", "{{.Id}}", pinnedRef), "name:tag@digest pulls the digest, not the moved tag")
	// A container created from name:tag@digest (what the program gives the
	// docker provider) runs the pinned image.
	ctr := docker(t, "create", "--entrypoint", "/content", pinnedRef)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", ctr).Run() })
	assert.Equal(t, firstID, docker(t, "inspect", "--format", "{{.Image}}", ctr))

	// pin follows the moved tag when it runs again, and only that image.
	out, code = pinFile(t, dir, ov)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "pinned 1 image(s)")
	repinned, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(string(pinned), pinnedRef, testRef+"@"+movedDigest, 1), string(repinned))
}

func TestIntegrationPinWritesNothingForAnUnknownTag(t *testing.T) {
	addr := startRegistry(t)
	_, d := pushImage(t, addr+"/aurigraph/test:1.0", "known")
	dir := t.TempDir()
	text := "config:\n  aurigraph:images:\n    redis: " + addr + "/aurigraph/test:1.0\n    nginx: " + addr + "/aurigraph/test:2.0\n"
	file := filepath.Join(dir, "Pulumi.pinned.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	var out, errOut bytes.Buffer
	code := run(&out, &errOut, dir, "pinned", overrides{}, false)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "images.nginx")
	assert.Contains(t, errOut.String(), "404")
	now, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, text, string(now), "a stack file is never half pinned")
	assert.NotContains(t, string(now), d)
}
