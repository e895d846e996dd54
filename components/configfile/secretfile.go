package configfile

import (
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
