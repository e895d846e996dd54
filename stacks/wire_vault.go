package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/postgres"
	"github.com/aurigraph/infra/components/vault"
)

func deployVault(d *deployment) error {
	h := d.host(Vault)
	img, err := d.image(h, Vault)
	if err != nil {
		return err
	}
	cert := d.certs.Vault
	// Vault's PKI issues certificates for the services' network names.
	domains := append(append([]string{}, Services...), App)
	v, err := vault.NewVault(d.ctx, Vault, vault.Args{
		Host:       h,
		Network:    d.network.Name,
		Image:      img,
		Resources:  d.cfg.ResourcesFor(Vault),
		ServiceDir: d.serviceDir(Vault),
		CertPem:    cert.CertPem,
		KeyPem:     cert.KeyPem,
		CACertPem:  d.pki.CACertPem,
		Stack:      d.cfg.Stack,
		PKIDomains: domains,
		DBHost:     postgres.ContainerName,
		DBPort:     postgres.Port,
		DBName:     postgres.Database,
		DBUser:     postgres.User,
	})
	if err != nil {
		return err
	}
	d.services["vault"] = pulumi.Map{
		"host": v.HostName, "containerName": v.ContainerName, "address": v.Address, "postInitScript": v.PostInitPath,
	}
	return nil
}

func dirsVault(dataPath string) []host.Dir {
	return vault.Dirs(path.Join(dataPath, Vault))
}
