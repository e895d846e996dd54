package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the kibana component wiring.
func deployKibana(d *deployment) error { return nil }

func dirsKibana(dataPath string) []host.Dir { return nil }
