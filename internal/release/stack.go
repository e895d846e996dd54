package release

import "github.com/aurigraph/infra/stacks"

// CurrentOf is the release config a plan starts from, read from the stack's
// typed config: both slots, and each rolling tier's image override and
// number of rolling groups.
func CurrentOf(c *stacks.Config) Current {
	cur := Current{
		Blue:       SlotConfig{Image: c.Release.Blue.Image, Weight: c.Release.Blue.Weight, Scale: c.Release.Blue.ScalePercent()},
		Green:      SlotConfig{Image: c.Release.Green.Image, Weight: c.Release.Green.Weight, Scale: c.Release.Green.ScalePercent()},
		TierImages: map[string]string{},
		TierGroups: map[string]int{},
	}
	for _, t := range RollingTiers {
		tier := c.Tiers.ByName(t)
		cur.TierGroups[t] = len(tier.Groups)
		if tier.Image != "" {
			cur.TierImages[t] = tier.Image
		}
	}
	return cur
}
