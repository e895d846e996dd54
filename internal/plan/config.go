package plan

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

// Config reads a stack's configuration through the program's own loading
// and validation (stacks.Load), offline as the plan is: secrets are not
// needed. The commands that act on a stack's hosts (reboot, release) start
// from it.
func Config(dir, stack string) (*stacks.Config, error) {
	s, err := stackfile.Load(dir, stack)
	if err != nil {
		return nil, err
	}
	var c *stacks.Config
	_, err = mockrun.RunStack(func(ctx *pulumi.Context) error {
		var err error
		c, err = stacks.Load(ctx)
		return err
	}, s.WithPlaceholders())
	if err != nil {
		return nil, err
	}
	return c, nil
}
