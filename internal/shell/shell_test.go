package shell

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	assert.Equal(t, `'a b'`, Quote("a b"))
	assert.Equal(t, `'it'\''s'`, Quote("it's"))
	assert.Equal(t, `''`, Quote(""))
}

// A real shell gets back exactly the bytes that were quoted.
func TestQuoteRoundTripsThroughSh(t *testing.T) {
	for _, s := range []string{"plain", "it's", `$(touch /tmp/pwned)`, "`id`", "a\nb", "; rm -rf /", `"\'`, "%h%%", "  spaced  ", "*"} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(s)).Output()
		require.NoError(t, err, s)
		assert.Equal(t, s, string(out))
	}
}
