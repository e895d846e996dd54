package host

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newDockerProvider talks to the host's Docker daemon over SSH.
// TODO(issue 4): pinned known_hosts and identity for the ssh client.
func newDockerProvider(ctx *pulumi.Context, h *Host, deps []pulumi.Resource) (*docker.Provider, error) {
	return docker.NewProvider(ctx, h.Name+"-docker", &docker.ProviderArgs{
		Host: pulumi.String(fmt.Sprintf("ssh://%s@%s:%d", h.args.User, h.Address, h.args.Port)),
	}, pulumi.Parent(h), pulumi.DependsOn(deps))
}
