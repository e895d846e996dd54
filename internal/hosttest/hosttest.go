// Package hosttest makes the smallest valid host for a component's mocked
// run: one place for the fixed key, thresholds and data path the component
// tests share.
package hosttest

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
)

// HostKey is a well-formed pinned host key (no host holds it).
const HostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+"

// New registers host name at address, for components that only run remote
// commands on it.
func New(ctx *pulumi.Context, name, address string) (*host.Host, error) {
	return host.NewHost(ctx, name, host.HostArgs{
		Name: name, Address: address, Port: 22, User: "deploy", DataPath: "/srv/aurigraph",
		HostKey:    HostKey,
		PrivateKey: pulumi.ToSecret(pulumi.String("k")).(pulumi.StringOutput),
		Thresholds: host.Thresholds{MinCPUs: 1, MinMemoryGB: 1, MinDiskGB: 1},
	})
}

// NewEngine registers host name at address and its Docker engine, as the
// program's hosts are before any component creates Docker resources on them.
func NewEngine(ctx *pulumi.Context, name, address string) (*host.Engine, error) {
	h, err := New(ctx, name, address)
	if err != nil {
		return nil, err
	}
	return host.NewEngine(ctx, h, host.EngineArgs{})
}
