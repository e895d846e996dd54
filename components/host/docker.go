package host

import (
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"net"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerSSHOpts are the ssh client options of the Docker provider, which runs
// `ssh <opts> -l user -p port -- address docker system dial-stdio` on every
// `pulumi up`, `preview`, `refresh` and `destroy`. They are plain values, the
// same on every run and every machine, and name no file:
//   - the key comes from the ssh-agent at $SSH_AUTH_SOCK, inherited from the
//     pulumi CLI (scripts/with-deploy-key starts one holding the stack's key),
//     so no private key is ever written to disk or into the state;
//   - the host key is pinned by KnownHostsCommand, which prints the pinned
//     known_hosts line; the known_hosts files are /dev/null and an unknown or
//     changed key is refused (StrictHostKeyChecking=yes);
//   - the jump host, when set, is reached by a ProxyCommand whose ssh gets the
//     same options with the jump host's own pinned key;
//   - -F /dev/null: the operator's ~/.ssh/config changes nothing;
//     BatchMode: never a prompt; dialing is bounded.
func DockerSSHOpts(s Settings) []string {
	opts := append(clientOpts(s), "-o", "KnownHostsCommand="+knownHostsCommand(s.Target))
	if j := s.Jump; j != nil {
		opts = append(opts, "-o", "ProxyCommand="+proxyCommand(s, *j))
	}
	return opts
}

// clientOpts are the options the target's and the jump host's ssh share.
func clientOpts(s Settings) []string {
	return []string{
		"-F", "/dev/null",
		"-o", "BatchMode=yes",
		"-o", "IdentityAgent=SSH_AUTH_SOCK",
		"-o", "IdentityFile=none",
		"-o", "PreferredAuthentications=publickey",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "CheckHostIP=no",
		"-o", "UpdateHostKeys=no",
		"-o", fmt.Sprintf("ConnectTimeout=%d", int(s.PerDialTimeout.Seconds())),
		"-o", fmt.Sprintf("ConnectionAttempts=%d", s.DialErrorLimit),
		"-o", "ServerAliveInterval=15",
	}
}

// knownHostsCommand prints e's pinned known_hosts line. ssh splits the
// command into words itself (double quotes keep the line one word) and
// expands % tokens in every word after the first, hence %%.
func knownHostsCommand(e Endpoint) string {
	line := strings.TrimSuffix(knownHostsLine(e), "\n")
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(line)
	return `/bin/echo "` + escapePercent(q) + `"`
}

// proxyCommand reaches the target through the jump host with ssh -W, as
// OpenSSH's own ProxyJump does, but with the jump host's own pinned key
// (ProxyJump would give the jump ssh none of these options). ssh expands %
// tokens in the whole command (%h:%p are the target), then runs it with
// $SHELL -c. So the command is a fixed argument vector: every word is one
// shell.Quote'd word, every literal % doubled (twice inside the jump's own
// KnownHostsCommand, expanded again by the jump's ssh), the user is given
// with -l and the address after --, so no value can become shell syntax or
// an ssh option. stacks/validate.go allows only plain user names and IP
// literals or host names here besides.
func proxyCommand(s Settings, j Endpoint) string {
	words := append([]string{"ssh"}, clientOpts(s)...)
	words = append(words, "-o", "KnownHostsCommand="+knownHostsCommand(j),
		"-l", j.User, "-p", fmt.Sprint(j.Port), "-W", "[%h]:%p", "--", j.Address)
	quoted := make([]string, len(words))
	for i, w := range words {
		if w == "[%h]:%p" {
			quoted[i] = shell.Quote(w) // the tokens ssh must expand
			continue
		}
		quoted[i] = escapePercent(shell.Quote(w))
	}
	return strings.Join(quoted, " ")
}

func escapePercent(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// newDockerProvider talks to the host's Docker daemon over SSH. It is a
// top-level resource without dependencies: a targeted run creates it without
// anything else (the engine creates every explicit provider in every run,
// and a parent or dependency that does not exist yet would have to be
// targeted too). It does not dial the daemon when configured
// (DisableDockerDaemonCheck): the host may not be prepared yet; the Docker
// resources themselves wait for Ready. The alias keeps the URN it had as
// the host component's child, so existing stacks see no replacement.
func newDockerProvider(ctx *pulumi.Context, h *Host) (*docker.Provider, error) {
	s := ConnectionSettings(h.args)
	return docker.NewProvider(ctx, h.Name+"-docker", &docker.ProviderArgs{
		Host:                     pulumi.String(DockerHost(s.Target)),
		SshOpts:                  pulumi.ToStringArray(DockerSSHOpts(s)),
		DisableDockerDaemonCheck: pulumi.Bool(true),
	}, pulumi.Aliases([]pulumi.Alias{{Parent: h}}))
}

// DockerHost is the Docker provider's daemon address for endpoint e.
func DockerHost(e Endpoint) string {
	// JoinHostPort brackets an IPv6 address, as a URL needs.
	return fmt.Sprintf("ssh://%s@%s", e.User, net.JoinHostPort(e.Address, strconv.Itoa(e.Port)))
}
