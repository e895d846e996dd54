// Package testserver starts the real servers that integration tests hand
// generated files to: on loopback, stopped when the test ends, and waited
// for until they accept connections.
package testserver

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort is a loopback TCP port nothing listens on right now, and one
// FreePort has not handed out before in this process: the kernel may give
// a just-closed port again at once, and two ports of one test (an nginx's
// HTTP and HTTPS) were seen to collide.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("no free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no free port that was not handed out before")
	return 0
}

var handedOut = struct {
	mu    sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Serve serves h on addr (loopback) until the test ends: the stand-in
// targets, exporters and webhooks the real programs talk to.
func Serve(t testing.TB, addr string, h http.Handler) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
}

// Server is a started process.
type Server struct {
	logs   *buffer
	exited chan error
}

// Logs is what the process printed (when Start captured its output).
func (s *Server) Logs() string { return s.logs.String() }

// Start runs cmd, capturing its output unless cmd already sends it elsewhere,
// stops it when the test ends (stop, then a kill after 5 s; stop nil means
// kill at once), and waits up to timeout until addr accepts TCP connections.
// A process that exits first fails the test with its output.
func Start(t testing.TB, cmd *exec.Cmd, addr string, timeout time.Duration, stop os.Signal) *Server {
	t.Helper()
	s := &Server{logs: &buffer{}, exited: make(chan error, 1)}
	if cmd.Stdout == nil && cmd.Stderr == nil {
		cmd.Stdout, cmd.Stderr = s.logs, s.logs
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if stop == nil {
			stop = syscall.SIGKILL
		}
		_ = cmd.Process.Signal(stop)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("%s exited before listening on %s (%v):\n%s", cmd.Path, addr, err, s.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within %s:\n%s", cmd.Path, addr, timeout, s.Logs())
		}
	}
}

// buffer is a bytes.Buffer safe for the process's two output streams.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
