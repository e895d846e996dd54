package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the app component wiring.
func deployApp(d *deployment) error { return nil }

func dirsApp(dataPath string) []host.Dir { return nil }
