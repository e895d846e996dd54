//go:build integration

package pgbouncer

import (
	"bufio"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// pgConn is a minimal PostgreSQL protocol 3.0 client for the load test: a
// startup with the parameters pgjdbc sends, SCRAM-SHA-256 authentication
// and the simple query protocol. It is test code: goroutines are far
// cheaper than 500 psql processes on a 2-core machine.
type pgConn struct {
	c net.Conn
	r *bufio.Reader
}

// jdbcStartup are the startup parameters pgjdbc 42 sends besides user and
// database (PgBouncer must accept extra_float_digits).
var jdbcStartup = map[string]string{
	"client_encoding": "UTF8", "DateStyle": "ISO", "TimeZone": "UTC",
	"extra_float_digits": "2", "application_name": "PostgreSQL JDBC Driver",
}

func (p *pgConn) send(kind byte, body []byte) error {
	msg := make([]byte, 0, 5+len(body))
	if kind != 0 {
		msg = append(msg, kind)
	}
	msg = binary.BigEndian.AppendUint32(msg, uint32(4+len(body)))
	_, err := p.c.Write(append(msg, body...))
	return err
}

func (p *pgConn) recv() (byte, []byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(p.r, head); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	_, err := io.ReadFull(p.r, body)
	return head[0], body, err
}

// pgError is an ErrorResponse's fields joined: severity, code, message.
func pgError(body []byte) error {
	var parts []string
	for _, f := range strings.Split(string(body), "\x00") {
		if len(f) > 1 && strings.ContainsRune("SCM", rune(f[0])) {
			parts = append(parts, f[1:])
		}
	}
	return fmt.Errorf("server error: %s", strings.Join(parts, " "))
}

// dialPG connects and authenticates user with password (SCRAM-SHA-256).
func dialPG(addr, user, password, database string) (*pgConn, error) {
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	p := &pgConn{c: c, r: bufio.NewReader(c)}
	body := binary.BigEndian.AppendUint32(nil, 196608) // protocol 3.0
	params := map[string]string{"user": user, "database": database}
	for k, v := range jdbcStartup {
		params[k] = v
	}
	for k, v := range params {
		body = append(append(append(append(body, k...), 0), v...), 0)
	}
	if err := p.send(0, append(body, 0)); err != nil {
		c.Close()
		return nil, err
	}
	if err := p.auth(user, password); err != nil {
		c.Close()
		return nil, err
	}
	return p, nil
}

func (p *pgConn) auth(user, password string) error {
	var nonce, clientFirstBare string
	var serverSig []byte
	for {
		kind, body, err := p.recv()
		if err != nil {
			return err
		}
		switch kind {
		case 'E':
			return pgError(body)
		case 'Z':
			return nil
		case 'R':
			code := binary.BigEndian.Uint32(body)
			switch code {
			case 0: // AuthenticationOk
			case 10: // SASL: mechanisms follow
				if !strings.Contains(string(body[4:]), "SCRAM-SHA-256\x00") {
					return fmt.Errorf("no SCRAM-SHA-256 offered")
				}
				raw := make([]byte, 18)
				_, _ = rand.Read(raw)
				nonce = base64.StdEncoding.EncodeToString(raw)
				clientFirstBare = "n=,r=" + nonce
				first := "n,," + clientFirstBare
				msg := append([]byte("SCRAM-SHA-256\x00"), binary.BigEndian.AppendUint32(nil, uint32(len(first)))...)
				if err := p.send('p', append(msg, first...)); err != nil {
					return err
				}
			case 11: // SASLContinue: server-first-message
				serverFirst := string(body[4:])
				f := map[string]string{}
				for _, kv := range strings.Split(serverFirst, ",") {
					if len(kv) > 2 {
						f[kv[:1]] = kv[2:]
					}
				}
				if !strings.HasPrefix(f["r"], nonce) {
					return fmt.Errorf("server nonce does not extend ours")
				}
				salt, err := base64.StdEncoding.DecodeString(f["s"])
				if err != nil {
					return err
				}
				iter, err := strconv.Atoi(f["i"])
				if err != nil {
					return err
				}
				salted, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
				if err != nil {
					return err
				}
				mac := func(key []byte, s string) []byte {
					h := hmac.New(sha256.New, key)
					h.Write([]byte(s))
					return h.Sum(nil)
				}
				clientKey := mac(salted, "Client Key")
				stored := sha256.Sum256(clientKey)
				finalNoProof := "c=biws,r=" + f["r"]
				authMsg := clientFirstBare + "," + serverFirst + "," + finalNoProof
				sig := mac(stored[:], authMsg)
				proof := make([]byte, len(clientKey))
				for i := range clientKey {
					proof[i] = clientKey[i] ^ sig[i]
				}
				serverSig = mac(mac(salted, "Server Key"), authMsg)
				if err := p.send('p', []byte(finalNoProof+",p="+base64.StdEncoding.EncodeToString(proof))); err != nil {
					return err
				}
			case 12: // SASLFinal: the server proves it knows the password too
				if string(body[4:]) != "v="+base64.StdEncoding.EncodeToString(serverSig) {
					return fmt.Errorf("server signature does not match")
				}
			default:
				return fmt.Errorf("authentication method %d not supported by the test client", code)
			}
		}
	}
}

// exec runs one simple query and returns the first column of its rows.
func (p *pgConn) exec(sql string) ([]string, error) {
	if err := p.send('Q', append([]byte(sql), 0)); err != nil {
		return nil, err
	}
	var rows []string
	var failed error
	for {
		kind, body, err := p.recv()
		if err != nil {
			return nil, err
		}
		switch kind {
		case 'E':
			failed = pgError(body)
		case 'D':
			if binary.BigEndian.Uint16(body) > 0 {
				n := int32(binary.BigEndian.Uint32(body[2:]))
				if n >= 0 {
					rows = append(rows, string(body[6:6+n]))
				}
			}
		case 'Z':
			return rows, failed
		}
	}
}

func (p *pgConn) close() {
	_ = p.send('X', nil)
	_ = p.c.Close()
}
