package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAutomaticRebootsAreStaggeredInInventoryOrder(t *testing.T) {
	c := &Config{Hosts: []Host{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Updates: Updates{RebootTime: "23:15"}}
	assert.Equal(t, "23:15", RebootTimeFor(c, "a"))
	assert.Equal(t, "23:45", RebootTimeFor(c, "b"))
	assert.Equal(t, "00:15", RebootTimeFor(c, "c"), "past midnight")
	for _, bad := range []string{"", "3:30", "24:00", "03:60", "03:30:00"} {
		_, ok := parseClock(bad)
		assert.False(t, ok, bad)
	}
}
