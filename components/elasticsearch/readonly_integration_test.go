//go:build integration

package elasticsearch

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/scripttest"
	"github.com/aurigraph/infra/internal/testhost"
)

// standInEntrypoint does to the file system what the 8.11 image's
// docker-entrypoint.sh and Elasticsearch do at start (no Elasticsearch
// image can be pulled here): the keystore with bootstrap.password in
// ES_PATH_CONF, the config and TLS files read from there, the keystore
// saved again (temporary file, rename), a native library unpacked and run
// from ES_TMPDIR (JNA), the GC log in logs/ and the node lock in data/.
// Then it checks that nothing else is writable.
const standInEntrypoint = `#!/bin/bash
set -euo pipefail
[ "$1" = eswrapper ]
conf=$ES_PATH_CONF
printf 'bootstrap.password=%s\n' "$ELASTIC_PASSWORD" > "$conf/elasticsearch.keystore"
for f in elasticsearch.yml jvm.options log4j2.properties certs/ca.crt certs/elasticsearch.crt certs/elasticsearch.key; do
  test -r "$conf/$f" || { echo "cannot read $conf/$f" >&2; exit 1; }
done
cp "$conf/elasticsearch.keystore" "$conf/elasticsearch.keystore.tmp"
mv "$conf/elasticsearch.keystore.tmp" "$conf/elasticsearch.keystore"
tmp=$(mktemp -d /tmp/elasticsearch-XXXXXX)
cp /bin/true "$tmp/libjnidispatch"
"$tmp/libjnidispatch"
echo gc > /usr/share/elasticsearch/logs/gc.log
echo lock > /usr/share/elasticsearch/data/node.lock
for p in /usr/share/elasticsearch/x "$conf/certs/x" /etc/x /usr/local/bin/x; do
  if touch "$p" 2>/dev/null; then echo "$p is writable" >&2; exit 1; fi
done
if cp /bin/true "$conf/x" && "$conf/x" 2>/dev/null; then echo "the config tmpfs runs programs" >&2; exit 1; fi
echo "stand-in elasticsearch started as $(id -u):$(id -g)"
`

// TestIntegrationReadOnlyRootRunsOnDocker runs the container's own
// settings (user, read-only root, every tmpfs with its options, every mount,
// the plain environment and the command) on the real Docker Engine, with a
// Debian image standing in for Elasticsearch's: the image's config files
// (root's, 0664) and a stand-in entrypoint. It proves the layout: Docker
// accepts the tmpfs options, the certificates mount inside the config
// tmpfs, the copy works as the image's user, every path Elasticsearch
// writes is writable and nothing else is.
func TestIntegrationReadOnlyRootRunsOnDocker(t *testing.T) {
	scripttest.Need(t, "docker")
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the host directories to uid 1000")
	}
	image := testhost.HostImage(t)

	dir := t.TempDir()
	hostDir := filepath.Join(dir, "elasticsearch")
	for _, d := range Dirs(hostDir) {
		require.NoError(t, os.MkdirAll(d.Path, 0o750))
		require.NoError(t, os.Chown(d.Path, d.UID, d.GID))
	}
	for _, f := range []string{"ca.crt", "elasticsearch.crt", "elasticsearch.key"} {
		p := filepath.Join(hostDir, "certs", f)
		require.NoError(t, os.WriteFile(p, []byte(f+"\n"), 0o600))
		require.NoError(t, os.Chown(p, UID, GID))
	}
	imageConf := filepath.Join(dir, "image-config")
	require.NoError(t, os.MkdirAll(imageConf, 0o755))
	for _, f := range []string{"elasticsearch.yml", "jvm.options", "log4j2.properties"} {
		require.NoError(t, os.WriteFile(filepath.Join(imageConf, f), []byte("# "+f+"\n"), 0o664))
	}
	entrypoint := filepath.Join(dir, "docker-entrypoint.sh")
	require.NoError(t, os.WriteFile(entrypoint, []byte(standInEntrypoint), 0o755))

	spec := ContainerSpec(ElasticsearchArgs{HostDir: hostDir})
	require.True(t, spec.ReadOnlyRootFS)
	name := fmt.Sprintf("aurigraph-es-readonly-%d", time.Now().UnixNano())
	args := []string{"run", "--rm", "--name", name, "--network", "none", "--read-only",
		"--user", spec.User, "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
		// The image's own files: its config directory and entrypoint.
		"--mount", "type=bind,source=" + imageConf + ",target=" + imageConfDir + ",readonly",
		"--mount", "type=bind,source=" + entrypoint + ",target=/usr/local/bin/docker-entrypoint.sh,readonly",
		"-e", "ELASTIC_PASSWORD=stand-in"}
	for _, target := range slices.Sorted(maps.Keys(spec.Tmpfs)) {
		args = append(args, "--tmpfs", target+":"+spec.Tmpfs[target])
	}
	for _, m := range spec.Mounts {
		opt := "type=bind,source=" + m.HostPath + ",target=" + m.Target
		if m.ReadOnly {
			opt += ",readonly"
		}
		args = append(args, "--mount", opt)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		args = append(args, "-e", k+"="+spec.Env[k])
	}
	args = append(append(args, image), spec.Command...)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s\n%s", strings.Join(args, " "), out)
	assert.Contains(t, string(out), fmt.Sprintf("stand-in elasticsearch started as %d:%d", UID, GID))
	for _, f := range []string{"logs/gc.log", "data/node.lock"} {
		info, err := os.Stat(filepath.Join(hostDir, f))
		require.NoError(t, err, "%s was written to the host", f)
		assert.Equal(t, "file", map[bool]string{true: "file", false: "other"}[info.Mode().IsRegular()])
	}
	entries, err := os.ReadDir(filepath.Join(hostDir, "certs"))
	require.NoError(t, err)
	assert.Len(t, entries, 3, "the certificates stay as they were")
}
