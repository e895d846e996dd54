package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aurigraph/infra/components/host"
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

// cmd/reboot dials exactly as the program's remote commands do.
func TestConnectionArgsAreTheProgramsConnection(t *testing.T) {
	c := &Config{
		Hosts: []Host{
			{Name: "a", Address: "203.0.113.10", Private: "192.0.2.10", SSHUser: "deploy", SSHPort: 2222, HostKey: "ssh-ed25519 AAAA1"},
			{Name: "b", Address: "203.0.113.11", SSHUser: "ops", SSHPort: 22, HostKey: "ssh-ed25519 AAAA2"},
		},
		SSH:       SSH{Jump: &JumpHost{Address: "198.51.100.5", User: "jump", Port: 22, HostKey: "ssh-ed25519 AAAA3"}, DialErrorLimit: 4, PerDialTimeoutSeconds: 9, StepTimeoutMinutes: 20},
		Preflight: Preflight{DataPath: "/srv/aurigraph"},
	}
	p := Place(c)
	for _, h := range c.Hosts {
		assert.Equal(t, host.ConnectionSettings(hostArgs(c, p, h)), host.ConnectionSettings(ConnectionArgs(c, h)), h.Name)
	}
	assert.Equal(t, "/srv/aurigraph/nginx", ServiceDir(c, Nginx))
}
