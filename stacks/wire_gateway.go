package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the gateway component wiring.
func deployGateway(d *deployment) error { return nil }

func dirsGateway(dataPath string) []host.Dir { return nil }
