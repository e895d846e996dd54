// Package configfile puts a rendered configuration file on a host and, when
// its content changes, reloads the container that reads it, so a config
// change never recreates a container.
package configfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// File is one rendered file and where it goes on the host.
type File struct {
	Path    string // absolute path on the host, under the host's data path
	Content string // never a secret: secrets reach containers as environment
}

// Args places files on a host and says how to reload their reader.
type Args struct {
	Host  *host.Host
	Files []File
	// Reload runs on the host after a change, e.g. `docker exec nginx nginx -s reload`.
	// It is skipped while Container is not running (first deployment).
	Container string
	Reload    string
}

// Set is the files on the host plus the reload step.
type Set struct {
	// Copies are the file copies: containers that read them depend on these.
	Copies []pulumi.Resource
	// Reloaded is the reload step, triggered by the hash of every file.
	Reloaded pulumi.Resource
	// Hash identifies the content of every file together.
	Hash string
}

// Hash is the SHA-256 of the files' paths and contents, in order.
func Hash(files []File) string {
	sum := sha256.New()
	for _, f := range files {
		fmt.Fprintf(sum, "%s\x00%s\x00", f.Path, f.Content)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// New copies each file to the host and creates the reload step. Resources
// are named <name>-<file base name> and <name>-reload, parented by opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Set, error) {
	if args.Host == nil || len(args.Files) == 0 {
		return nil, fmt.Errorf("configfile %s: a host and at least one file are required", name)
	}
	s := &Set{Hash: Hash(args.Files)}
	for _, f := range args.Files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("configfile %s: %q is not absolute", name, f.Path)
		}
		cp, err := remote.NewCopyToRemote(ctx, name+"-"+sanitize(path.Base(f.Path)), &remote.CopyToRemoteArgs{
			Connection: args.Host.Connection,
			Source:     pulumi.NewStringAsset(f.Content),
			RemotePath: pulumi.String(f.Path),
		}, append(opts, pulumi.DependsOn([]pulumi.Resource{args.Host.Prepared}))...)
		if err != nil {
			return nil, err
		}
		s.Copies = append(s.Copies, cp)
	}
	if args.Reload == "" {
		return s, nil
	}
	script := ReloadScript(args.Container, args.Reload)
	reload, err := remote.NewCommand(ctx, name+"-reload", &remote.CommandArgs{
		Connection: args.Host.Connection,
		Create:     pulumi.String(script),
		Update:     pulumi.String(script),
		Triggers:   pulumi.Array{pulumi.String(s.Hash)},
	}, append(opts, pulumi.DependsOn(s.Copies))...)
	if err != nil {
		return nil, err
	}
	s.Reloaded = reload
	return s, nil
}

// ReloadScript runs reload only when the container is running, so the first
// deployment (files before container) and later changes share one step.
func ReloadScript(container, reload string) string {
	return fmt.Sprintf(`set -eu
if [ "$(docker inspect -f '{{.State.Running}}' %[1]s 2>/dev/null || true)" = "true" ]; then
  %[2]s
  echo "reloaded %[1]s"
else
  echo "%[1]s not running yet: it reads the new files when it starts"
fi
`, container, reload)
}

func sanitize(s string) string {
	return strings.NewReplacer(".", "-", "_", "-", "/", "-").Replace(s)
}
