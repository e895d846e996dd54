package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the elasticsearch component wiring.
func deployElasticsearch(d *deployment) error { return nil }

func dirsElasticsearch(dataPath string) []host.Dir { return nil }
