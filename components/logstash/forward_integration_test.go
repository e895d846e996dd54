//go:build integration

package logstash

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/host"
	"github.com/aurigraph/infra/components/vault"
)

// testPKI is a CA, Logstash's server certificate and one host's client
// certificate, as the stack's PKI issues them (ECDSA; the client key in
// SEC1 "EC PRIVATE KEY" form, as pulumi-tls's privateKeyPem).
type testPKI struct {
	caPEM              []byte
	pool               *x509.CertPool
	server             tls.Certificate
	clientPEM, keyPEM  []byte
	otherPEM, otherKey []byte // a client certificate from another CA
}

func newTestPKI(t *testing.T, hostName string) testPKI {
	t.Helper()
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		ca, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	leaf := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, dns []string, ips []net.IP) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dns[0]}, DNSNames: dns, IPAddresses: ips,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		sec1, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	}
	ca, caKey, caPEM := newCA("Aurigraph test Root CA")
	var p testPKI
	p.caPEM = caPEM
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	srvCert, srvKey := leaf(ca, caKey, 2, TLSHosts("127.0.0.1")[:1], []net.IP{net.ParseIP("127.0.0.1")})
	var err error
	p.server, err = tls.X509KeyPair(srvCert, srvKey)
	require.NoError(t, err)
	p.clientPEM, p.keyPEM = leaf(ca, caKey, 3, []string{hostName}, nil)
	other, otherKey, _ := newCA("someone else's CA")
	p.otherPEM, p.otherKey = leaf(other, otherKey, 4, []string{hostName}, nil)
	return p
}

// frame is one line the listener received, and the client certificate of
// the connection it came on.
type frame struct {
	line   string
	client string
}

// listen is Logstash's hosts input on loopback: TLS with its certificate,
// a client certificate from the CA required.
func listen(t *testing.T, p testPKI) (port int, frames chan frame) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	frames = make(chan frame, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					return
				}
				cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName
				s := bufio.NewScanner(c)
				s.Buffer(make([]byte, 1<<20), 1<<20)
				for s.Scan() {
					frames <- frame{line: s.Text(), client: cn}
				}
			}(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, frames
}

// forwarder is a real rsyslogd running the generated config with test
// paths: containers, service log files and a journal socket under dir.
type forwarder struct {
	dir, conf, main, sock string
}

func newForwarder(t *testing.T, dir string, port int, p testPKI, certPEM, keyPEM []byte, peer string) forwarder {
	t.Helper()
	f := forwarder{dir: dir, conf: filepath.Join(dir, "60-aurigraph.conf"), main: filepath.Join(dir, "rsyslog.conf"), sock: filepath.Join(dir, "journal.sock")}
	for _, d := range []string{"work", "tls", "containers", "vault/logs", "app/aurigraph-v11-blue-slim-1/logs"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
	}
	for name, content := range map[string][]byte{"ca.crt": p.caPEM, "client.crt": certPEM, "client.key": keyPEM} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tls", name), content, 0o600))
	}
	files := append(vault.LogFiles(filepath.Join(dir, "vault")), app.LogFiles(filepath.Join(dir, "app"))...)
	conf, err := host.RenderRsyslog(host.RsyslogValues{
		Host: "it-host-01", Target: "127.0.0.1", Port: port, PeerName: peer,
		CAFile: filepath.Join(dir, "tls", "ca.crt"), CertFile: filepath.Join(dir, "tls", "client.crt"), KeyFile: filepath.Join(dir, "tls", "client.key"),
		ContainerGlob: filepath.Join(dir, "containers", "*", "*-json.log"), Files: files,
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.conf, []byte(conf), 0o644))
	// Debian's rsyslog.conf in small: the work directory and the system
	// socket journald forwards to (here a test socket), then our drop-in.
	main := fmt.Sprintf("global(workDirectory=%q)\nmodule(load=\"imuxsock\" SysSock.Use=\"off\")\ninput(type=\"imuxsock\" Socket=%q)\ninclude(file=%q)\n",
		filepath.Join(dir, "work"), f.sock, f.conf)
	require.NoError(t, os.WriteFile(f.main, []byte(main), 0o644))
	return f
}

func (f forwarder) start(t *testing.T, rsyslogd string) {
	t.Helper()
	cmd := exec.Command(rsyslogd, "-n", "-f", f.main, "-i", filepath.Join(f.dir, "rsyslogd.pid"))
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{out, &mu}, lockedWriter{out, &mu}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(f.sock); err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "rsyslogd did not open its socket")
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = fh.WriteString(line + "\n")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
}

// dockerLine is a line as Docker's json-file driver writes it with the
// options every container has (container.Spec: labels, tag).
func dockerLine(t *testing.T, service, name, stream, msg string) string {
	b, err := json.Marshal(map[string]any{
		"log": msg + "\n", "stream": stream, "time": "2026-12-06T04:40:18.301929979Z",
		"attrs": map[string]string{"com.aurigraph.service": service, host.ContainerNameAttr: name},
	})
	require.NoError(t, err)
	return string(b)
}

func rsyslogd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Fatalf("rsyslogd is required (apt-get install rsyslog rsyslog-gnutls): %v", err)
	}
	if out, err := exec.Command("sh", "-c", "ls /usr/lib/*/rsyslog/lmnsd_gtls.so").CombinedOutput(); err != nil {
		t.Fatalf("rsyslog's TLS driver is required (apt-get install rsyslog-gnutls): %s", out)
	}
	return p
}

// The generated forwarding, run by the real rsyslogd: every source reaches
// a TLS listener that requires the host's client certificate, as JSON
// lines the json_lines codec decodes, and the pipeline's routing (the same
// table its conditionals are rendered from) files each in its index.
func TestIntegrationRsyslogForwardsEverySourceAsJSONLinesOverMutualTLS(t *testing.T) {
	bin := rsyslogd(t)
	services := testArgs().Services
	p := newTestPKI(t, "it-host-01")
	port, frames := listen(t, p)
	dir := t.TempDir()
	f := newForwarder(t, dir, port, p, p.clientPEM, p.keyPEM, TLSName)
	out, err := exec.Command(bin, "-N1", "-f", f.main).CombinedOutput()
	require.NoError(t, err, "rsyslogd -N1:\n%s", out)
	f.start(t, bin)

	auditLine := `{"time":"2026-12-06T04:40:18Z","type":"request","auth":{"display_name":"approle"},"request":{"path":"secret/data/app","data":"` + strings.Repeat("x", 20000) + `"},"marker":"src-vault-audit"}`
	type source struct {
		name, marker, index, dataset, service, container string
		write                                            func()
	}
	containerFile := func(id string) string { return filepath.Join(dir, "containers", id, id+"-json.log") }
	sources := []source{
		{"nginx JSON access log (container stdout)", "src-nginx", Index(StreamNginx), host.DatasetContainer, "nginx", "nginx", func() {
			appendLine(t, containerFile("c1"), dockerLine(t, "nginx", "nginx", "stdout", `{"time":"2026-12-06T04:40:18+00:00","status":200,"request":"GET /api/v11/health","marker":"src-nginx"}`))
		}},
		{"PostgreSQL log (container stderr)", "src-postgres", Index(StreamDatabase), host.DatasetContainer, "postgres", "postgres", func() {
			appendLine(t, containerFile("c2"), dockerLine(t, "postgres", "postgres", "stderr", `2026-12-06 04:40:18.123 UTC [42] app@aurigraph LOG:  src-postgres checkpoint complete`))
		}},
		{"application container", "src-app-container", Index(StreamApp), host.DatasetContainer, "aurigraph-v11", "aurigraph-v11-blue-slim-1", func() {
			appendLine(t, containerFile("c3"), dockerLine(t, "aurigraph-v11", "aurigraph-v11-blue-slim-1", "stdout", `{"level":"INFO","message":"src-app-container started"}`))
		}},
		{"Vault server log (container)", "src-vault-server", Index(StreamVault), host.DatasetContainer, "vault", "vault", func() {
			appendLine(t, containerFile("c4"), dockerLine(t, "vault", "vault", "stderr", `[INFO]  core: src-vault-server vault is unsealed`))
		}},
		{"another service's container (Grafana)", "src-grafana", Index(StreamPlatform), host.DatasetContainer, "grafana", "grafana", func() {
			appendLine(t, containerFile("c5"), dockerLine(t, "grafana", "grafana", "stdout", `logger=server msg="src-grafana HTTP Server Listen"`))
		}},
		{"Vault audit device (20 kB line)", "src-vault-audit", Index(StreamVault), host.DatasetFile, "vault", "", func() {
			appendLine(t, vault.LogFiles(filepath.Join(dir, "vault"))[0].Glob, auditLine)
		}},
		{"application /app/logs file", "src-app-file", Index(StreamApp), host.DatasetFile, "aurigraph-v11", "", func() {
			appendLine(t, filepath.Join(dir, "app", "aurigraph-v11-blue-slim-1", "logs", "aurigraph-v11.log"), `2026-12-06 04:40:18,123 INFO  [io.aur.v11] (main) src-app-file ready`)
		}},
		{"host journal", "src-journal", Index(StreamSystem), host.DatasetJournal, "", "", func() {
			c, err := net.Dial("unixgram", f.sock)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("<38>Dec  6 04:40:18 sshd[123]: src-journal Accepted publickey for deploy"))
			require.NoError(t, err)
		}},
	}
	for _, s := range sources {
		s.write()
	}

	got := map[string]map[string]any{}
	deadline := time.After(60 * time.Second)
	for len(got) < len(sources) {
		select {
		case fr := <-frames:
			assert.Equal(t, "it-host-01", fr.client, "the host's own client certificate")
			// The json_lines codec: one UTF-8 JSON object per line.
			require.True(t, utf8.ValidString(fr.line))
			var ev map[string]any
			require.NoError(t, json.Unmarshal([]byte(fr.line), &ev), "a frame the json_lines codec decodes: %.300s", fr.line)
			for _, s := range sources {
				if strings.Contains(fr.line, s.marker) {
					got[s.marker] = ev
				}
			}
		case <-deadline:
			t.Fatalf("after 60 s, %d of %d sources arrived: %v", len(got), len(sources), keysOf(got))
		}
	}
	for _, s := range sources {
		ev := got[s.marker]
		t.Run(s.name, func(t *testing.T) {
			assert.Equal(t, s.index, services.IndexOf(ev), "routed by the pipeline's table")
			assert.Equal(t, "it-host-01", field(ev, "host", "name"))
			assert.Equal(t, s.dataset, field(ev, "event", "dataset"))
			if s.service != "" {
				assert.Equal(t, s.service, field(ev, "service", "name"))
			} else {
				assert.Nil(t, field(ev, "service", "name"), "the journal names no service")
			}
			if s.container != "" {
				assert.Equal(t, s.container, field(ev, "container", "name"))
				assert.Equal(t, "2026-12-06T04:40:18.301929979Z", ev["@timestamp"], "Docker's time")
				assert.True(t, strings.HasSuffix(ev["message"].(string), "\n"), "Docker's newline, which the pipeline trims")
			} else {
				ts, ok := ev["@timestamp"].(string)
				require.True(t, ok)
				_, err := time.Parse(time.RFC3339, ts)
				assert.NoError(t, err, "@timestamp %q", ts)
			}
			if s.dataset == host.DatasetFile {
				assert.Contains(t, field(ev, "log", "file", "path"), dir)
			}
		})
	}
	assert.Equal(t, auditLine, got["src-vault-audit"]["message"], "a 20 kB audit line arrives whole")
	var pg map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(got["src-nginx"]["message"].(string))), &pg), "the nginx access line stays JSON for the pipeline's json filter")
	assert.Equal(t, "sshd", field(got["src-journal"], "process", "name"))
	assert.Equal(t, "info", field(got["src-journal"], "log", "syslog", "severity", "name"))
	assert.Equal(t, "auth", field(got["src-journal"], "log", "syslog", "facility", "name"))
}

// Authentication both ways: a host whose certificate is not from the
// stack's CA gets nothing through (the listener refuses the handshake), and
// rsyslog sends nothing to a receiver whose certificate lacks the name it
// checks. The lines stay queued on the host.
func TestIntegrationRsyslogDeliversNothingWithoutMutualAuthentication(t *testing.T) {
	bin := rsyslogd(t)
	p := newTestPKI(t, "it-host-01")
	for name, c := range map[string]struct {
		cert, key []byte
		peer      string
	}{
		"foreign client certificate": {p.otherPEM, p.otherKey, TLSName},
		"receiver of another name":   {p.clientPEM, p.keyPEM, "elasticsearch"},
	} {
		t.Run(name, func(t *testing.T) {
			port, frames := listen(t, p)
			dir := t.TempDir()
			f := newForwarder(t, dir, port, p, c.cert, c.key, c.peer)
			f.start(t, bin)
			appendLine(t, filepath.Join(dir, "containers", "c1", "c1-json.log"), dockerLine(t, "nginx", "nginx", "stdout", "must not arrive"))
			select {
			case fr := <-frames:
				t.Fatalf("a frame arrived: %s", fr.line)
			case <-time.After(5 * time.Second):
			}
		})
	}
}

func keysOf(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
