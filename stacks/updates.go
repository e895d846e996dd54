package stacks

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// RebootStagger separates the automatic reboots of consecutive hosts (when
// updates.automaticReboot allows them): one host at a time, each with half an
// hour to come back before the next goes down. Automatic reboots drain
// nothing; cmd/reboot is the way that does.
const RebootStagger = 30 * time.Minute

var clockRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// parseClock reads "HH:MM" as a time of day.
func parseClock(s string) (time.Duration, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	return time.Duration(h)*time.Hour + time.Duration(min)*time.Minute, true
}

// RebootTimeFor is the automatic reboot time of host name: updates.rebootTime
// for the first host of the inventory, RebootStagger later for each next one
// (around midnight when the inventory is long).
func RebootTimeFor(c *Config, name string) string {
	base, ok := parseClock(c.Updates.RebootTime)
	if !ok {
		return c.Updates.RebootTime // refused by Validate before any host
	}
	for i, h := range c.Hosts {
		if h.Name == name {
			t := (base + time.Duration(i)*RebootStagger) % (24 * time.Hour)
			return fmt.Sprintf("%02d:%02d", int(t.Hours()), int(t.Minutes())%60)
		}
	}
	return c.Updates.RebootTime
}
