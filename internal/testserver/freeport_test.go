package testserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// No two calls hand out the same port, however quickly the kernel would
// give a closed one back.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p := FreePort(t)
		assert.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
