package testserver

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreePortIsFree(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	require.NoError(t, err)
	l.Close()
}

type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}
func (f *fakeT) Cleanup(func()) {}

func TestStartFailsWithTheOutputOfAProcessThatExits(t *testing.T) {
	ft := &fakeT{TB: t}
	func() {
		defer func() { assert.Equal(t, ft, recover()) }()
		Start(ft, exec.Command("sh", "-c", "echo boom; exit 3"), "127.0.0.1:"+strconv.Itoa(FreePort(t)), 5*time.Second, nil)
	}()
	assert.Contains(t, ft.failed, "exited before listening")
}
