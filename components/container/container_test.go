package container

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validSpec() Spec {
	return Spec{
		Service:  "redis",
		Name:     "redis",
		Image:    pulumi.String("redis:7.4.1-alpine"),
		Network:  pulumi.String("aurigraph-network"),
		Resource: Resources{CPUs: 2, CPUsReservation: 1, MemoryMB: 4096, MemoryReservationMB: 2048},
		Health:   Health{Test: []string{"CMD", "redis-cli", "ping"}},
	}
}

func TestValidateRefusesUnsafeSpecs(t *testing.T) {
	cases := map[string]func(*Spec){
		"limits are required":              func(s *Spec) { s.Resource.MemoryMB = 0 },
		"a reservation is above its limit": func(s *Spec) { s.Resource.MemoryReservationMB = 8192 },
		"health check is missing":          func(s *Spec) { s.Health = Health{} },
		"is not bound to a named address":  func(s *Spec) { s.Ports = []Port{{Internal: 6379}} },
		"is sensitive":                     func(s *Spec) { s.Mounts = []Mount{{HostPath: "/var/run/docker.sock", Target: "/s"}} },
		"service is empty":                 func(s *Spec) { s.Service = "" },
		"network is not set":               func(s *Spec) { s.Network = nil },
	}
	for want, mutate := range cases {
		s := validSpec()
		mutate(&s)
		err := s.Validate()
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, validSpec().Validate())
}

func TestSensitiveHostPaths(t *testing.T) {
	for _, p := range []string{"/", "/etc", "/etc/ssl", "/proc", "/sys/fs", "/var/run", "/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker"} {
		assert.True(t, IsSensitiveHostPath(p), p)
	}
	for _, p := range []string{"/srv/aurigraph/nginx", "/srv/aurigraph/postgres/data", "/data/etc"} {
		assert.False(t, IsSensitiveHostPath(p), p)
	}
}

func TestArgsApplyEveryDefault(t *testing.T) {
	s := validSpec()
	s.CapAdd = []string{"SETUID", "CHOWN"}
	s.WaitHealthy = true
	s.Health.Interval = 10 * time.Second
	args, err := s.Args()
	require.NoError(t, err)
	assert.Equal(t, pulumi.String(RestartPolicy), args.Restart)
	assert.Equal(t, pulumi.Int(4096), args.Memory)
	assert.Equal(t, pulumi.Int(2048), args.MemoryReservation)
	assert.Equal(t, pulumi.Int(4096), args.MemorySwap, "no swap beyond the limit")
	assert.Equal(t, pulumi.String("2"), args.Cpus)
	assert.Equal(t, pulumi.Int(1024), args.CpuShares)
	assert.Equal(t, pulumi.Bool(false), args.Privileged)
	assert.Equal(t, pulumi.StringArray{pulumi.String(NoNewPrivs)}, args.SecurityOpts)
	assert.Equal(t, pulumi.String(LogDriver), args.LogDriver)
	assert.Nil(t, args.NetworkMode, "never host network: the network is joined by name")
	assert.Nil(t, args.PidMode)
	assert.Nil(t, args.IpcMode)
	assert.Equal(t, pulumi.Bool(true), args.Wait)
}

func TestFormatCPUs(t *testing.T) {
	assert.Equal(t, "16", formatCPUs(16))
	assert.Equal(t, "0.5", formatCPUs(0.5))
	assert.Equal(t, "1.25", formatCPUs(1.25))
}
