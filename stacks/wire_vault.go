package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the vault component wiring.
func deployVault(d *deployment) error { return nil }

func dirsVault(dataPath string) []host.Dir { return nil }
