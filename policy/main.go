// Command policy is the Aurigraph policy pack, served to the Pulumi engine:
// `pulumi preview --policy-pack policy [--policy-pack-config policy/config/<stack>.json]`.
// The rules live in policy/rules; the per-environment levels and bounds in
// policy/config. The engine reads the port from stdout, so nothing else is
// printed there.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/aurigraph/infra/policy/config"
	"github.com/aurigraph/infra/policy/rules"
)

func main() {
	if err := policyx.Main(pack); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// pack builds the pack for the stack the engine configured: its environment
// (aurigraph:environment, else the stack name) picks the settings, and its
// host inventory gives the stack rules their facts.
func pack(ctx *pulumi.Context) (policyx.PolicyPack, error) {
	cfg := map[string]string{}
	for _, k := range []string{"environment", "hosts", "preflight"} {
		key := rules.Namespace + ":" + k
		if v, ok := ctx.GetConfig(key); ok {
			cfg[key] = v
		}
	}
	facts := rules.FactsFromConfig(cfg)
	env := facts.Environment
	if env == "" {
		env = ctx.Stack()
	}
	settings, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	return rules.NewPack(settings, facts)
}
