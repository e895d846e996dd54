package stacks

import "github.com/aurigraph/infra/internal/release"

// ReleaseCurrent is the release config a release plan starts from: both
// slots, and each rolling tier's image override and number of rolling
// groups (cmd/release, and the tests that replay its steps).
func ReleaseCurrent(c *Config) release.Current {
	cur := release.Current{
		Blue:       release.SlotConfig{Image: c.Release.Blue.Image, Weight: c.Release.Blue.Weight, Scale: c.Release.Blue.ScalePercent()},
		Green:      release.SlotConfig{Image: c.Release.Green.Image, Weight: c.Release.Green.Weight, Scale: c.Release.Green.ScalePercent()},
		TierImages: map[string]string{},
		TierGroups: map[string]int{},
	}
	for _, t := range release.RollingTiers {
		tier := c.Tiers.ByName(t)
		cur.TierGroups[t] = len(tier.Groups)
		if tier.Image != "" {
			cur.TierImages[t] = tier.Image
		}
	}
	return cur
}
