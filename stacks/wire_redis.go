package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the redis component wiring.
func deployRedis(d *deployment) error { return nil }

func dirsRedis(dataPath string) []host.Dir { return nil }
