package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the prometheus component wiring.
func deployPrometheus(d *deployment) error { return nil }

func dirsPrometheus(dataPath string) []host.Dir { return nil }
