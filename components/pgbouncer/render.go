package pgbouncer

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/aurigraph/infra/components/container"
	"github.com/aurigraph/infra/components/postgres"
)

//go:embed templates/pgbouncer.ini.tmpl
var iniTemplate string

var ini = template.Must(template.New("pgbouncer.ini").Parse(iniTemplate))

// Pool is the pooler's arithmetic: how many clients it accepts and how many
// server connections it opens to PostgreSQL.
type Pool struct {
	// MaxClientConn is max_client_conn: every application replica's JDBC
	// pool, at its largest, is that many clients.
	MaxClientConn int
	// DefaultPoolSize is default_pool_size: the server connections of the
	// application's pool (one database, one user).
	DefaultPoolSize int
	// ReservePoolSize is reserve_pool_size: extra server connections for
	// clients that waited reserve_pool_timeout.
	ReservePoolSize int
}

// ServerPool is the most server connections PostgreSQL ever sees from the
// pooler: the pool and its reserve (max_db_connections caps it).
func (p Pool) ServerPool() int { return p.DefaultPoolSize + p.ReservePoolSize }

// NoFileMargin is the descriptors PgBouncer needs besides one per client
// and one per server connection: its listening sockets, logs, DNS lookups.
const NoFileMargin = 1024

// NoFile is the container's nofile ulimit: every client, every server
// connection and the margin, and never below the platform's default.
func (p Pool) NoFile() int {
	return max(container.NoFileLimit, p.MaxClientConn+p.ServerPool()+NoFileMargin)
}

// MaxPreparedStatements is max_prepared_statements: JDBC statements the
// pooler keeps prepared per server connection. pgjdbc's default per
// connection cache is 256 queries; 200 covers the application's queries
// with room, and PgBouncer's documentation suggests 100-200.
const MaxPreparedStatements = 200

// MinPreparedStatementsVersion is the first PgBouncer that supports
// max_prepared_statements (1.21.0): the pinned image must be at least it
// (ImageSupportsPreparedStatements, checked in stacks/validate.go).
var MinPreparedStatementsVersion = [3]int{1, 21, 0}

// ConfigValues are the plain values pgbouncer.ini is rendered from.
type ConfigValues struct {
	ListenAddr string
	Port       int
	// The PostgreSQL server and database the pool connects to.
	ServerHost string
	ServerPort int
	Database   string
	AuthFile   string // path of the auth file inside the container
	StatsUser  string
	Pool
	MaxPreparedStatements   int // 0 leaves the line out (PgBouncer before 1.21)
	IgnoreStartupParameters string
	QueryWaitTimeout        int // seconds
	IdleTransactionTimeout  int // seconds
}

// Defaults are the container's values for a pool: in front of the
// PostgreSQL container, on the overlay.
func Defaults(p Pool) ConfigValues {
	return ConfigValues{
		ListenAddr: "0.0.0.0", Port: Port,
		ServerHost: postgres.ContainerName, ServerPort: postgres.Port, Database: postgres.Database,
		AuthFile: confMount + "/" + AuthFileName, StatsUser: StatsUser, Pool: p,
		MaxPreparedStatements: MaxPreparedStatements,
		// extra_float_digits: pgjdbc and lib/pq both send it.
		IgnoreStartupParameters: "extra_float_digits",
		// 120 s: longer than any healthy wait, short enough that a stuck
		// pool surfaces as errors while PgBouncerClientsWaiting fires.
		QueryWaitTimeout: 120,
		// 300 s: no application transaction stays idle that long.
		IdleTransactionTimeout: 300,
	}
}

// RenderConfig renders pgbouncer.ini.
func RenderConfig(v ConfigValues) (string, error) {
	var p []string
	if v.Port <= 0 || v.ServerPort <= 0 || v.ServerHost == "" || v.Database == "" || v.AuthFile == "" || v.ListenAddr == "" {
		p = append(p, "listen address, port, server, database and auth file are required")
	}
	if v.MaxClientConn < 1 || v.DefaultPoolSize < 1 || v.ReservePoolSize < 0 {
		p = append(p, fmt.Sprintf("max_client_conn %d and default_pool_size %d must be positive, reserve_pool_size %d not negative",
			v.MaxClientConn, v.DefaultPoolSize, v.ReservePoolSize))
	}
	for _, s := range []string{v.ServerHost, v.Database, v.StatsUser, v.AuthFile, v.ListenAddr, v.IgnoreStartupParameters} {
		if strings.ContainsAny(s, " \n\r;#=\"'") {
			p = append(p, fmt.Sprintf("%q cannot be written in pgbouncer.ini", s))
		}
	}
	if len(p) > 0 {
		return "", fmt.Errorf("pgbouncer.ini: %s", strings.Join(p, "; "))
	}
	var b bytes.Buffer
	if err := ini.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// User is one line of the auth file.
type User struct{ Name, Password string }

// RenderAuthFile renders the auth file (userlist.txt): "name" "password"
// per line, a double quote inside a value doubled, as PgBouncer reads it.
// The plain password is what lets PgBouncer log in to PostgreSQL with SCRAM
// for its clients; the file is a secret file (mode 0600).
func RenderAuthFile(users []User) (string, error) {
	var b strings.Builder
	for _, u := range users {
		if u.Name == "" || u.Password == "" {
			return "", fmt.Errorf("auth file: every user needs a name and a password")
		}
		if strings.ContainsAny(u.Name+u.Password, "\n\r\x00") {
			return "", fmt.Errorf("auth file: user %q: a name or password cannot hold a line break or NUL", u.Name)
		}
		q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
		fmt.Fprintf(&b, "%s %s\n", q(u.Name), q(u.Password))
	}
	return b.String(), nil
}

// ExporterPassFile is the exporter's password file (PGPASSFILE, read by
// lib/pq, which skips it unless only its owner may read it).
const ExporterPassFile = "pgpass"

// RenderExporterPassFile is the one .pgpass line for the exporter's
// connection (ExporterConnection): host, port, database and user exact,
// with ':' and '\' escaped as the format requires.
func RenderExporterPassFile(password string) string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return fmt.Sprintf("%s:%d:%s:%s:%s\n", ContainerName, Port, AdminDatabase, StatsUser, esc.Replace(password))
}
