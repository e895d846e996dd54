// Package testhost starts throwaway Debian hosts for integration tests: a
// container with a real systemd as PID 1 and a real OpenSSH server, reached
// over SSH on 127.0.0.1, so that the program's remote scripts can install
// units, reload systemd and enable timers exactly as on a server.
//
// The code is built only with the integration build tag; this file keeps the
// package visible (and documented) in ordinary builds.
package testhost
