package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the logstash component wiring.
func deployLogstash(d *deployment) error { return nil }

func dirsLogstash(dataPath string) []host.Dir { return nil }
