package main

import (
	"context"
	"io"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/aurigraph/infra/internal/release"
)

// project is the config namespace of the program (Pulumi.yaml's name).
const project = "aurigraph"

// autoRunner applies a step through the Automation API: the program in dir
// (local source, the same program `pulumi up` runs), its config set or
// removed by path in Pulumi.<stack>.yaml, then one up. Untested here: it
// needs the Pulumi CLI and the stack's backend.
type autoRunner struct {
	dir, stack string
	out        io.Writer
}

func (r *autoRunner) Up(ctx context.Context, step string, changes []release.Change) error {
	s, err := auto.SelectStackLocalSource(ctx, r.stack, r.dir)
	if err != nil {
		return err
	}
	opts := &auto.ConfigOptions{Path: true}
	for _, ch := range changes {
		key := configKey(ch)
		if ch.Remove {
			err = s.RemoveConfigWithOptions(ctx, key, opts)
		} else {
			err = s.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: ch.Value}, opts)
		}
		if err != nil {
			return err
		}
	}
	_, err = s.Up(ctx, optup.Message("release: "+step), optup.ProgressStreams(r.out))
	return err
}

// configKey is the Automation API's path key of a change.
func configKey(ch release.Change) string { return project + ":" + ch.Key }
