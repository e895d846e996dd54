package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/vault"
)

// deployVault runs the secrets store, its PKI for the services' names and
// its database engine.
func deployVault(d *deployment) (*vault.Vault, error) {
	h := d.engine(Vault)
	img, err := d.image(h, Vault)
	if err != nil {
		return nil, err
	}
	cert := d.certs.Vault
	// Vault's PKI issues certificates for the services' network names.
	domains := append(append([]string{}, Services...), App)
	return vault.NewVault(d.ctx, Vault, vault.Args{
		Engine:     h,
		Zones:      d.zones,
		Image:      img,
		Resources:  d.cfg.ResourcesFor(Vault),
		ServiceDir: d.serviceDir(Vault),
		CertPem:    cert.CertPem,
		KeyPem:     cert.KeyPem,
		CACertPem:  d.pki.CACertPem,
		Stack:      d.cfg.Stack,
		PKIDomains: domains,
		// Vault's engine logs in as the role made for it (postgres.Roles),
		// never as the superuser.
		Database: vault.Database{Host: postgres.ContainerName, Port: postgres.Port, Name: postgres.Database,
			User: postgres.VaultUser, ReadOnlyGroup: postgres.ReadOnlyGroup, ReadWriteGroup: postgres.ReadWriteGroup},
	})
}

// vaultOutputs are Vault's stack outputs.
func vaultOutputs(v *vault.Vault) pulumi.Map {
	return pulumi.Map{
		"host": v.HostName, "containerName": v.ContainerName, "address": v.Address, "postInitScript": v.PostInitPath,
	}
}

func dirsVault(dataPath string) []host.Dir {
	return vault.Dirs(path.Join(dataPath, Vault))
}
