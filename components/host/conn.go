package host

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
)

// Endpoint is one SSH server and its pinned host key.
type Endpoint struct {
	Address string
	Port    int
	User    string
	HostKey string // "ssh-ed25519 AAAA…": the only key accepted
}

// Settings are a host's SSH connection settings as plain values: the program
// hands them to pulumi-command and to the Docker provider's ssh client, and
// tests dial real servers with the same values.
type Settings struct {
	Name           string
	Target         Endpoint
	Jump           *Endpoint
	DialErrorLimit int           // dial attempts before giving up
	PerDialTimeout time.Duration // per attempt
}

// ConnectionSettings derives a host's SSH settings from its arguments.
func ConnectionSettings(a HostArgs) Settings {
	s := Settings{
		Name:           a.Name,
		Target:         Endpoint{Address: a.Address, Port: orDefault(a.Port, 22), User: a.User, HostKey: a.HostKey},
		DialErrorLimit: orDefault(a.DialErrorLimit, 5),
		PerDialTimeout: time.Duration(orDefault(a.PerDialTimeout, 15)) * time.Second,
	}
	if a.Jump != nil {
		s.Jump = &Endpoint{Address: a.Jump.Address, Port: orDefault(a.Jump.Port, 22), User: a.Jump.User, HostKey: a.Jump.HostKey}
	}
	return s
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// RemoteArgs is the pulumi-command connection: key authentication (the key
// stays a secret), the pinned host key, bounded dial retries, the jump host.
func (s Settings) RemoteArgs(privateKey pulumi.StringInput) *remote.ConnectionArgs {
	perDial := int(s.PerDialTimeout / time.Second)
	c := &remote.ConnectionArgs{
		Host:           pulumi.String(s.Target.Address),
		Port:           pulumi.Float64(float64(s.Target.Port)),
		User:           pulumi.String(s.Target.User),
		PrivateKey:     privateKey,
		HostKey:        pulumi.String(s.Target.HostKey),
		DialErrorLimit: pulumi.Int(s.DialErrorLimit),
		PerDialTimeout: pulumi.Int(perDial),
	}
	if j := s.Jump; j != nil {
		c.Proxy = &remote.ProxyConnectionArgs{
			Host:           pulumi.String(j.Address),
			Port:           pulumi.Float64(float64(j.Port)),
			User:           pulumi.String(j.User),
			PrivateKey:     privateKey,
			HostKey:        pulumi.String(j.HostKey),
			DialErrorLimit: pulumi.Int(s.DialErrorLimit),
			PerDialTimeout: pulumi.Int(perDial),
		}
	}
	return c
}

// ClientConfig is the golang.org/x/crypto/ssh configuration for endpoint e,
// as pulumi-command builds it: public key auth, ssh.FixedHostKey.
func (s Settings) ClientConfig(e Endpoint, privateKeyPEM []byte) (*ssh.ClientConfig, error) {
	signer, err := ssh.ParsePrivateKey(privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("host %s: private key: %w", s.Name, err)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(e.HostKey))
	if err != nil {
		return nil, fmt.Errorf("host %s: pinned host key of %s: %w", s.Name, e.Address, err)
	}
	return &ssh.ClientConfig{
		User:            e.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(pinned),
		Timeout:         s.PerDialTimeout,
	}, nil
}

// ErrHostKeyMismatch marks a refused host key: it is never retried.
var ErrHostKeyMismatch = errors.New("host key does not match the pinned key")

// Dial connects with these settings, through the jump host when set, with at
// most DialErrorLimit attempts; errors name the host.
func (s Settings) Dial(privateKeyPEM []byte) (*ssh.Client, error) {
	var last error
	for attempt := 1; attempt <= s.DialErrorLimit; attempt++ {
		c, err := s.dialOnce(privateKeyPEM)
		if err == nil {
			return c, nil
		}
		last = err
		if errors.Is(err, ErrHostKeyMismatch) {
			break
		}
		if attempt < s.DialErrorLimit {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
	}
	return nil, fmt.Errorf("host %s (%s): %w", s.Name, addr(s.Target), last)
}

func (s Settings) dialOnce(key []byte) (*ssh.Client, error) {
	target, err := s.ClientConfig(s.Target, key)
	if err != nil {
		return nil, err
	}
	pin(target)
	if s.Jump == nil {
		return ssh.Dial("tcp", addr(s.Target), target)
	}
	jumpCfg, err := s.ClientConfig(*s.Jump, key)
	if err != nil {
		return nil, err
	}
	pin(jumpCfg)
	jump, err := ssh.Dial("tcp", addr(*s.Jump), jumpCfg)
	if err != nil {
		return nil, fmt.Errorf("jump host %s: %w", addr(*s.Jump), err)
	}
	conn, err := jump.Dial("tcp", addr(s.Target))
	if err != nil {
		jump.Close()
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr(s.Target), target)
	if err != nil {
		jump.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// pin marks host key refusals so Dial stops at once.
func pin(c *ssh.ClientConfig) {
	fixed := c.HostKeyCallback
	c.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if err := fixed(hostname, remote, key); err != nil {
			return fmt.Errorf("%w (%v)", ErrHostKeyMismatch, err)
		}
		return nil
	}
}

func addr(e Endpoint) string { return net.JoinHostPort(e.Address, strconv.Itoa(e.Port)) }

// knownHostsLine pins e's host key for OpenSSH: "[address]:port type key"
// ("address type key" on port 22), without the key's comment.
func knownHostsLine(e Endpoint) string {
	host := e.Address
	if e.Port != 22 {
		host = "[" + e.Address + "]:" + strconv.Itoa(e.Port)
	}
	key := strings.Fields(e.HostKey)
	if len(key) > 2 {
		key = key[:2]
	}
	return host + " " + strings.Join(key, " ") + "\n"
}

// ListenAddress joins an address and a port ("[v6]:port" for IPv6).
func ListenAddress(address string, port int) string {
	return net.JoinHostPort(address, strconv.Itoa(port))
}
