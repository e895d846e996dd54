package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the grafana component wiring.
func deployGrafana(d *deployment) error { return nil }

func dirsGrafana(dataPath string) []host.Dir { return nil }
