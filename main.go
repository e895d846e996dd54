// Command aurigraph-infra is the Pulumi program: it hands over to stacks.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/stacks"
)

func main() { pulumi.Run(stacks.Run) }
