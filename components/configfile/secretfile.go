package configfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// SecretArgs writes one secret file (a private key, a certificate chain) on a host.
type SecretArgs struct {
	Host    *host.Host
	Path    string
	Content pulumi.StringInput // kept secret: it travels on stdin, never in a command line
	Owner   string             // uid:gid that reads it inside the container, e.g. "101:101"
	Mode    string             // e.g. "0600"
}

// NewSecret writes the file through stdin with a private umask and an atomic
// rename; a new content (a rotated certificate) rewrites it.
func NewSecret(ctx *pulumi.Context, name string, a SecretArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	if a.Host == nil || !path.IsAbs(a.Path) {
		return nil, fmt.Errorf("secret file %s: a host and an absolute path are required", name)
	}
	mode, owner := a.Mode, a.Owner
	if mode == "" {
		mode = "0600"
	}
	if owner == "" {
		owner = "0:0"
	}
	script := WriteSecretScript(a.Path, owner, mode)
	content := pulumi.ToSecret(a.Content).(pulumi.StringOutput)
	return remote.NewCommand(ctx, name, &remote.CommandArgs{
		Connection: a.Host.Connection,
		Create:     pulumi.String(script),
		Update:     pulumi.String(script),
		Delete:     pulumi.String(fmt.Sprintf("rm -f %s", a.Path)),
		Stdin:      content,
		Triggers:   pulumi.Array{content},
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{a.Host.Prepared}))...)
}

// WriteSecretScript copies stdin to path with the given owner and mode. The
// SSH user is not root: privileged steps go through passwordless sudo, which
// preflight checks.
func WriteSecretScript(p, owner, mode string) string {
	return fmt.Sprintf(`set -eu
umask 077
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
$SUDO mkdir -p %[1]s
tmp=$($SUDO mktemp %[2]s.XXXXXX)
$SUDO tee "$tmp" > /dev/null
$SUDO chown %[3]s "$tmp"
$SUDO chmod %[4]s "$tmp"
$SUDO mv -f "$tmp" %[2]s
`, path.Dir(p), p, owner, mode)
}

// Secret is one secret file of a set.
type Secret struct {
	ID      string // resource name suffix, e.g. "cert"
	Path    string
	Content pulumi.StringInput
	Owner   string
	Mode    string
}

// SecretsArgs writes several secret files for one reader.
type SecretsArgs struct {
	Host  *host.Host
	Files []Secret
	// Reload runs when any file's content changes (a rotated certificate),
	// only while Container is running; empty for readers that watch files.
	Container string
	Reload    string
}

// NewSecrets writes each file (<name>-<id>) and, with Reload, a step
// (<name>-reload) triggered by a digest of every content, so a rotation
// reloads the reader instead of recreating its container.
func NewSecrets(ctx *pulumi.Context, name string, a SecretsArgs, opts ...pulumi.ResourceOption) (*Set, error) {
	s := &Set{}
	var contents []any
	for _, f := range a.Files {
		w, err := NewSecret(ctx, name+"-"+f.ID, SecretArgs{Host: a.Host, Path: f.Path, Content: f.Content, Owner: f.Owner, Mode: f.Mode}, opts...)
		if err != nil {
			return nil, err
		}
		s.Copies = append(s.Copies, w)
		contents = append(contents, f.Content)
	}
	if a.Reload == "" {
		return s, nil
	}
	digest := pulumi.All(contents...).ApplyT(func(v []any) string {
		sum := sha256.New()
		for _, c := range v {
			fmt.Fprintf(sum, "%s\x00", c)
		}
		return hex.EncodeToString(sum.Sum(nil))
	}).(pulumi.StringOutput)
	script := "set -eu\n" + ReloadScript(a.Container, a.Reload)
	reload, err := remote.NewCommand(ctx, name+"-reload", &remote.CommandArgs{
		Connection: a.Host.Connection,
		Create:     pulumi.String(script),
		Update:     pulumi.String(script),
		Triggers:   pulumi.Array{pulumi.ToSecret(digest)},
	}, append(opts, pulumi.DependsOn(s.Copies))...)
	if err != nil {
		return nil, err
	}
	s.Reloaded = reload
	return s, nil
}
