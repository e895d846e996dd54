package host

import (
	"fmt"
	"path"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// IdentityFiles are where the Docker provider's ssh client finds the host's
// private key and pinned known_hosts: project-relative and deterministic.
type IdentityFiles struct {
	Dir        string
	Key        string
	KnownHosts string
}

// NewIdentityFiles names the files of host under dir (e.g. .ssh-aurigraph/prod).
func NewIdentityFiles(dir, host string) IdentityFiles {
	return IdentityFiles{Dir: dir, Key: path.Join(dir, host+".key"), KnownHosts: path.Join(dir, host+".known_hosts")}
}

// WriteIdentityScript writes the key (read from stdin, never from an
// argument) and the known_hosts file, both 0600.
func WriteIdentityScript(f IdentityFiles, knownHosts string) string {
	return fmt.Sprintf(`set -eu
umask 077
mkdir -p %[1]s
cat >%[2]s.tmp
mv -f %[2]s.tmp %[2]s
printf '%%s' %[4]s >%[3]s.tmp
mv -f %[3]s.tmp %[3]s
`, ShellQuote(f.Dir), ShellQuote(f.Key), ShellQuote(f.KnownHosts), ShellQuote(knownHosts))
}

// DockerSSHOpts are the ssh client options of the Docker provider: only the
// pinned key is accepted, only the given identity is offered, dialing is
// bounded, and the jump host is pinned the same way.
func DockerSSHOpts(s Settings, f IdentityFiles) []string {
	common := []string{
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + f.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityFile=" + f.Key,
		"-o", "BatchMode=yes",
		"-o", fmt.Sprintf("ConnectTimeout=%d", int(s.PerDialTimeout.Seconds())),
		"-o", fmt.Sprintf("ConnectionAttempts=%d", s.DialErrorLimit),
		"-o", "ServerAliveInterval=15",
	}
	opts := append([]string{}, common...)
	if j := s.Jump; j != nil {
		// ProxyCommand rather than ProxyJump: the jump's ssh gets the same pinning.
		proxy := "ssh"
		for _, o := range common {
			proxy += " " + o
		}
		proxy += fmt.Sprintf(" -p %d -W %%h:%%p %s@%s", j.Port, j.User, j.Address)
		opts = append(opts, "-o", "ProxyCommand="+proxy)
	}
	return opts
}

// newDockerProvider talks to the host's Docker daemon over SSH, after the
// identity files are written and after deps (preparation, cluster join).
func newDockerProvider(ctx *pulumi.Context, h *Host, deps []pulumi.Resource) (*docker.Provider, error) {
	dir := h.args.LocalKeyDir
	if dir == "" {
		dir = path.Join(".ssh-aurigraph", ctx.Stack())
	}
	s := ConnectionSettings(h.args)
	files := NewIdentityFiles(dir, h.Name)
	write := WriteIdentityScript(files, s.KnownHosts())
	var key pulumi.StringPtrInput
	if h.args.PrivateKey != nil {
		key = pulumi.ToSecret(h.args.PrivateKey.ToStringOutput()).(pulumi.StringOutput)
	}
	identity, err := local.NewCommand(ctx, h.Name+"-ssh-identity", &local.CommandArgs{
		Create: pulumi.String(write),
		Update: pulumi.String(write),
		Stdin:  key,
		Delete: pulumi.String(fmt.Sprintf("rm -f %s %s", ShellQuote(files.Key), ShellQuote(files.KnownHosts))),
	}, pulumi.Parent(h))
	if err != nil {
		return nil, err
	}
	return docker.NewProvider(ctx, h.Name+"-docker", &docker.ProviderArgs{
		Host:    pulumi.String(fmt.Sprintf("ssh://%s@%s:%d", s.Target.User, s.Target.Address, s.Target.Port)),
		SshOpts: pulumi.ToStringArray(DockerSSHOpts(s, files)),
	}, pulumi.Parent(h), pulumi.DependsOn(append(append([]pulumi.Resource{}, deps...), identity)))
}
