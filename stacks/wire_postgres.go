package stacks

import "github.com/aurigraph/infra/components/host"

// TODO: replaced by the postgres component wiring.
func deployPostgres(d *deployment) error { return nil }

func dirsPostgres(dataPath string) []host.Dir { return nil }
