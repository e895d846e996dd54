package container

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/zones"
)

func validSpec() Spec {
	return Spec{
		Service:  "redis",
		Name:     "redis",
		Image:    pulumi.String("redis:7.4.1-alpine"),
		Networks: Networks{Role: "redis", Names: []pulumi.StringInput{pulumi.String("aurigraph-network"), pulumi.String("aurigraph-network-cache-admin")}},
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
		"network is not set":               func(s *Spec) { s.Networks.Names = nil },
		"network role is not set":          func(s *Spec) { s.Networks.Role = "" },
		"variable A is set twice": func(s *Spec) {
			s.Env = map[string]string{"A": "1"}
			s.EnvFrom = map[string]pulumi.StringInput{"A": pulumi.String("2")}
		},
		"variable B has no value": func(s *Spec) { s.EnvFrom = map[string]pulumi.StringInput{"B": nil} },
		"need a numeric user": func(s *Spec) {
			s.User, s.SecretsDir = "redis", "/srv/aurigraph/redis/secrets/redis"
			s.SecretFiles = []SecretFile{{Name: "pw", Content: pulumi.String("x")}}
		},
		"need a host directory of their own": func(s *Spec) {
			s.User, s.SecretsDir = "999:1000", "/run/secrets"
			s.SecretFiles = []SecretFile{{Name: "pw", Content: pulumi.String("x")}}
		},
		`"../pw" is not a plain, unique file name`: func(s *Spec) {
			s.User, s.SecretsDir = "999", "/srv/s"
			s.SecretFiles = []SecretFile{{Name: "../pw", Content: pulumi.String("x")}}
		},
		"secret file pw has no content": func(s *Spec) {
			s.User, s.SecretsDir = "999", "/srv/s"
			s.SecretFiles = []SecretFile{{Name: "pw"}}
		},
		"variable PW_FILE is set twice": func(s *Spec) {
			s.User, s.SecretsDir, s.Env = "999", "/srv/s", map[string]string{"PW_FILE": "/elsewhere"}
			s.SecretFiles = []SecretFile{{Name: "pw", Content: pulumi.String("x"), Env: "PW_FILE"}}
		},
		"/run/secrets is the secret files' mount": func(s *Spec) {
			s.User, s.SecretsDir = "999", "/srv/s"
			s.SecretFiles = []SecretFile{{Name: "pw", Content: pulumi.String("x")}}
			s.Mounts = []Mount{{HostPath: "/srv/other", Target: "/run/secrets/"}}
		},
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

func TestSecretFilesAreMountedReadOnlyAndNamedByPath(t *testing.T) {
	s := validSpec()
	s.User, s.SecretsDir = "999:1000", SecretsDir("/srv/aurigraph/redis", "redis")
	s.SecretFiles = []SecretFile{{Name: "redis-password", Content: pulumi.ToSecret(pulumi.String("pw")).(pulumi.StringOutput), Env: "REDIS_PASSWORD_FILE"}}
	owner, err := s.SecretOwner()
	require.NoError(t, err)
	assert.Equal(t, "999:1000", owner)
	assert.Equal(t, map[string]string{"REDIS_PASSWORD_FILE": "/run/secrets/redis-password"}, s.envWithSecretPaths())
	assert.Contains(t, s.mountsWithSecrets(), Mount{HostPath: "/srv/aurigraph/redis/secrets/redis", Target: SecretsMount, ReadOnly: true})
	assert.Empty(t, s.Mounts, "the spec itself is not changed")
	_, err = s.Args()
	require.NoError(t, err)
	s.User = "1000"
	owner, _ = s.SecretOwner()
	assert.Equal(t, "1000:1000", owner)
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
	assert.Equal(t, pulumi.String("2.0"), args.Cpus)
	assert.Equal(t, pulumi.Int(1024), args.CpuShares)
	assert.Equal(t, pulumi.Bool(false), args.Privileged)
	assert.Equal(t, pulumi.StringArray{pulumi.String(NoNewPrivs)}, args.SecurityOpts)
	assert.Equal(t, pulumi.String(LogDriver), args.LogDriver)
	assert.Nil(t, args.NetworkMode, "never host network: the network is joined by name")
	assert.Nil(t, args.PidMode)
	assert.Nil(t, args.IpcMode)
	assert.Equal(t, pulumi.Bool(true), args.Wait)
}

// providerReadsBack is what the Docker provider stores for a cpus input:
// the engine keeps NanoCPUs (docker/cli opts.ParseCPUs), and the provider's
// read writes them back with nanoInt64ToDecimalString
// (terraform-provider-docker v3.9.0, internal/provider/helpers.go).
func providerReadsBack(t *testing.T, cpus string) string {
	t.Helper()
	r, ok := new(big.Rat).SetString(cpus)
	require.True(t, ok, "the engine parses %q", cpus)
	nano := r.Mul(r, big.NewRat(1e9, 1))
	require.True(t, nano.IsInt(), "%q is a whole number of nano CPUs", cpus)
	n := nano.Num().Int64()
	if n == 0 {
		return "0"
	}
	back := new(big.Rat).SetFrac64(n, 1e9)
	s := back.FloatString(9)
	if strings.Count(s, "0") == 9 {
		return back.FloatString(1)
	}
	return strings.TrimRight(s, "0")
}

// A CPU limit reads back exactly as written: otherwise every refresh is
// followed by a preview that replaces the container (docs/drift.md).
func TestFormatCPUsReadsBackUnchanged(t *testing.T) {
	for _, c := range []float64{0.1, 0.25, 0.5, 1, 1.25, 1.5, 2, 4, 10, 12.5, 16, 20, 32, 64, 100} {
		s := FormatCPUs(c)
		assert.Equal(t, providerReadsBack(t, s), s, "%g cores", c)
		r, _ := new(big.Rat).SetString(s)
		f, _ := r.Float64()
		assert.Equal(t, c, f, "%q is %g cores", s, c)
	}
	assert.Equal(t, "2.0", FormatCPUs(2))
	assert.Equal(t, "0.5", FormatCPUs(0.5))
	assert.Equal(t, "0.33", FormatCPUs(1.0/3), "rounded to 0.01 core")
}

// Ports are listed as the provider reads them back: by internal port.
func TestPortsAreListedByInternalPort(t *testing.T) {
	s := validSpec()
	s.Ports = []Port{{Internal: 443, IP: "0.0.0.0"}, {Internal: 80, IP: "0.0.0.0"}, {Internal: 5514, IP: "192.0.2.1", Protocol: "udp"}}
	args, err := s.Args()
	require.NoError(t, err)
	ports := args.Ports.(docker.ContainerPortArray)
	var internal []pulumi.IntInput
	for _, p := range ports {
		internal = append(internal, p.(*docker.ContainerPortArgs).Internal)
	}
	assert.Equal(t, []pulumi.IntInput{pulumi.Int(80), pulumi.Int(443), pulumi.Int(5514)}, internal)
	assert.Equal(t, pulumi.Int(443), ports[1].(*docker.ContainerPortArgs).External, "the external port moves with its internal port")
}

// A container joins every network of its role's zones, answering on each to
// its name and aliases, and carries the role for the policy pack.
func TestArgsJoinEveryNetworkAndLabelTheRole(t *testing.T) {
	s := validSpec()
	s.Aliases = []string{"cache"}
	args, err := s.Args()
	require.NoError(t, err)
	nets := args.NetworksAdvanced.(docker.ContainerNetworksAdvancedArray)
	require.Len(t, nets, 2)
	for i, want := range []string{"aurigraph-network", "aurigraph-network-cache-admin"} {
		n := nets[i].(*docker.ContainerNetworksAdvancedArgs)
		assert.Equal(t, pulumi.String(want), n.Name)
		assert.Equal(t, pulumi.ToStringArray([]string{"redis", "cache"}), n.Aliases)
	}
	var role string
	for _, l := range args.Labels.(docker.ContainerLabelArray) {
		if l := l.(*docker.ContainerLabelArgs); l.Label == pulumi.String(zones.RoleLabel) {
			role = string(l.Value.(pulumi.String))
		}
	}
	assert.Equal(t, "redis", role)
}
