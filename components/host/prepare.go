package host

import (
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// prepare runs preflight then preparation on the host.
// TODO(issue 4): rendered, shellcheck-clean scripts; this is the wiring only.
func prepare(ctx *pulumi.Context, name string, h *Host, a HostArgs) (pulumi.Resource, error) {
	pre, err := remote.NewCommand(ctx, name+"-preflight", &remote.CommandArgs{
		Connection: h.Connection,
		Create:     pulumi.String("true"),
	}, pulumi.Parent(h))
	if err != nil {
		return nil, err
	}
	return remote.NewCommand(ctx, name+"-prepare", &remote.CommandArgs{
		Connection: h.Connection,
		Create:     pulumi.String("true"),
	}, pulumi.Parent(h), pulumi.DependsOn([]pulumi.Resource{pre}))
}
