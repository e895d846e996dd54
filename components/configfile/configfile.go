// Package configfile puts a rendered configuration file on a host and, when
// its content changes, reloads the container that reads it, so a config
// change never recreates a container.
package configfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// File is one rendered file and where it goes on the host.
type File struct {
	Path    string // absolute path on the host, under the host's data path
	Content string // never a secret: secrets reach containers as environment
	Mode    string // octal; default 0644 (readable by the container's user)
	Owner   string // uid:gid; default 0:0
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

// Set is the files on the host plus the step that installs them and reloads.
type Set struct {
	// Copies are the steps after which every file is in place with its owner
	// and mode: containers that read the files depend on these.
	Copies []pulumi.Resource
	// Reloaded is the install-and-reload step, triggered by the hash of every file.
	Reloaded pulumi.Resource
	// Hash identifies the content of every file together.
	Hash string
	// Staged maps each file's path to its copy in the staging directory.
	Staged map[string]string
}

// Hash is the SHA-256 of the files' paths, modes, owners and contents, in order.
func Hash(files []File) string {
	sum := sha256.New()
	for _, f := range files {
		fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%s\x00", f.Path, f.Mode, f.Owner, f.Content)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// New copies each file, as the SSH user, into the host's staging directory,
// then one step installs them in place with their owner and mode (through
// sudo) and reloads their reader. The copies are named <name>-<file base
// name> and the step <name>-install, parented by opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Set, error) {
	if args.Host == nil || len(args.Files) == 0 {
		return nil, fmt.Errorf("configfile %s: a host and at least one file are required", name)
	}
	var staged []Staged
	var copies []pulumi.Resource
	for _, f := range args.Files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("configfile %s: %q is not absolute", name, f.Path)
		}
		res := name + "-" + sanitize(path.Base(f.Path))
		st := Staged{File: f, From: path.Join(host.StagingDir(args.Host.DataPath), res)}
		cp, err := remote.NewCopyToRemote(ctx, res, &remote.CopyToRemoteArgs{
			Connection: args.Host.Connection,
			Source:     pulumi.NewStringAsset(f.Content),
			RemotePath: pulumi.String(st.From),
		}, append(opts, pulumi.DependsOn([]pulumi.Resource{args.Host.Prepared}))...)
		if err != nil {
			return nil, err
		}
		staged = append(staged, st)
		copies = append(copies, cp)
	}
	script, err := InstallScript(staged, args.Container, args.Reload)
	if err != nil {
		return nil, fmt.Errorf("configfile %s: %w", name, err)
	}
	hash := Hash(args.Files)
	install, err := remote.NewCommand(ctx, name+"-install", &remote.CommandArgs{
		Connection: args.Host.Connection,
		Create:     pulumi.String(script),
		Update:     pulumi.String(script),
		Triggers:   pulumi.Array{pulumi.String(hash)},
	}, append(opts, pulumi.DependsOn(copies))...)
	if err != nil {
		return nil, err
	}
	set := &Set{Copies: []pulumi.Resource{install}, Reloaded: install, Hash: hash, Staged: map[string]string{}}
	for _, st := range staged {
		set.Staged[st.Path] = st.From
	}
	return set, nil
}

// Staged is a file and where its copy waits in the staging directory.
type Staged struct {
	File
	From string
}

var (
	ownerRE = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
	modeRE  = regexp.MustCompile(`^0?[0-7]{3}$`)
	pathRE  = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
)

// InstallScript installs every staged file with its owner and mode, then
// reloads the container when it is running (skipped on the first deployment,
// when the files are in place before the container starts).
func InstallScript(files []Staged, container, reload string) (string, error) {
	var b strings.Builder
	b.WriteString("set -eu\nSUDO=\"\"\n[ \"$(id -u)\" -eq 0 ] || SUDO=\"sudo -n\"\n")
	for _, f := range files {
		mode, owner := f.Mode, f.Owner
		if mode == "" {
			mode = "0644"
		}
		if owner == "" {
			owner = "0:0"
		}
		if !modeRE.MatchString(mode) || !ownerRE.MatchString(owner) || !pathRE.MatchString(f.Path) || !pathRE.MatchString(f.From) {
			return "", fmt.Errorf("file %s: path, mode %q and owner %q must be plain", f.Path, mode, owner)
		}
		uid, gid, _ := strings.Cut(owner, ":")
		fmt.Fprintf(&b, "$SUDO install -D -m %s -o %s -g %s %s %s\n", mode, uid, gid, f.From, f.Path)
	}
	if reload != "" {
		b.WriteString(ReloadScript(container, reload))
	}
	return b.String(), nil
}

// ReloadScript runs reload only when the container is running, so the first
// deployment (files before container) and later changes share one step.
func ReloadScript(container, reload string) string {
	return fmt.Sprintf(`if [ "$(docker inspect -f '{{.State.Running}}' %[1]s 2>/dev/null || true)" = "true" ]; then
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
