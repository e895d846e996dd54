package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the jaeger component wiring.
func deployJaeger(d *deployment) error { return nil }

func dirsJaeger(dataPath string) []host.Dir { return nil }
