package stacks

import (
	"fmt"

	"github.com/aurigraph/infra/components/host"
)

// deployHosts creates every host in inventory order: preflight and preparation.
func (d *deployment) deployHosts() error {
	for _, h := range d.cfg.Hosts {
		hh, err := host.NewHost(d.ctx, h.Name, d.hostArgs(h))
		if err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
		d.hosts[h.Name] = hh
		d.order = append(d.order, hh)
	}
	return nil
}

// hostArgs is everything a host's preparation needs, from config and placement.
func (d *deployment) hostArgs(h Host) host.HostArgs {
	c := d.cfg
	a := host.HostArgs{
		Name: h.Name, Address: h.Address, ClusterAddress: h.ClusterAddress(), Port: h.SSHPort,
		User: h.SSHUser, HostKey: h.HostKey, PrivateKey: c.Secrets.SSHPrivateKey,
		Kind: h.Kind, Roles: h.Roles, DataPath: c.Preflight.DataPath,
		Thresholds:     host.Thresholds{MinCPUs: c.Preflight.MinCPUs, MinMemoryGB: c.Preflight.MinMemoryGB, MinDiskGB: c.Preflight.MinDiskGB},
		Dirs:           d.hostDirs(h.Name),
		DialErrorLimit: c.SSH.DialErrorLimit,
		PerDialTimeout: c.SSH.PerDialTimeoutSeconds,
		StepTimeout:    fmt.Sprintf("%dm", c.SSH.StepTimeoutMinutes),
	}
	if j := c.SSH.Jump; j != nil {
		a.Jump = &host.Jump{Address: j.Address, Port: j.Port, User: j.User, HostKey: j.HostKey}
	}
	return a
}
