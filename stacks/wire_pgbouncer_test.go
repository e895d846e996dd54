package stacks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poolerProblems are the problems Validate reports on the pool arithmetic's keys.
func poolerProblems(c *Config) []Problem {
	var out []Problem
	for _, p := range Validate(c, nil) {
		if strings.HasPrefix(p.Key, "pooler.") || p.Key == "postgres.maxConnections" || p.Key == "images."+ImagePgBouncer {
			out = append(out, p)
		}
	}
	return out
}

func TestPoolerDefaults(t *testing.T) {
	c := testConfig()
	assert.Equal(t, PoolerSettings{MaxClientConn: 10000, DefaultPoolSize: 100, ReservePoolSize: 20}, c.Pooler)
	// A stack that sets the pool keeps its reserve of 0.
	p := PoolerSettings{DefaultPoolSize: 50}
	applyPoolerDefaults(&p)
	assert.Equal(t, PoolerSettings{MaxClientConn: 10000, DefaultPoolSize: 50, ReservePoolSize: 0}, p)
	assert.Equal(t, 20, postgresReservedTotal(), "the former headroom, now named")
}

func TestValidatePoolArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []Problem
	}{
		{"defaults fit", func(c *Config) {}, nil},
		{"1,000 replicas fit a pooler sized for them, with the database's default ceiling", func(c *Config) {
			c.Tiers = Tiers{Validator: Tier{Replicas: 200, Groups: []int{200}}, Business: Tier{Replicas: 500, Groups: []int{500}}, Slim: Tier{Replicas: 300, Groups: []int{300}}}
			c.App.DatasourceMaxSize = 30
			c.Pooler.MaxClientConn = 60000
		}, nil},
		{"the replicas' pools exceed the pooler's clients", func(c *Config) {
			c.App.DatasourceMaxSize = 30
			c.Pooler.MaxClientConn = 1499
		}, []Problem{{Key: "pooler.maxClientConn",
			Message: "1499 is below the 1500 client connections the application can open (50 replicas of both slots x app.datasourceMaxSize 30)",
			Fix:     "raise pooler.maxClientConn to at least 1500, or lower app.datasourceMaxSize or the tiers' replicas"}}},
		{"exactly enough clients", func(c *Config) {
			c.App.DatasourceMaxSize = 30
			c.Pooler.MaxClientConn = 1500
		}, nil},
		{"the server pool exceeds what PostgreSQL leaves", func(c *Config) {
			c.Postgres.MaxConnections = 100
			c.Pooler.DefaultPoolSize, c.Pooler.ReservePoolSize = 70, 11
		}, []Problem{{Key: "pooler.defaultPoolSize",
			Message: "70 + pooler.reservePoolSize 11 = 81 server connections do not fit postgres.maxConnections 100 minus the 20 reserved (" + postgresReservedList() + ")",
			Fix:     "lower pooler.defaultPoolSize + pooler.reservePoolSize to at most 80, or raise postgres.maxConnections to at least 101 (PostgreSQL applies it on its next restart)"}}},
		{"exactly what PostgreSQL leaves", func(c *Config) {
			c.Postgres.MaxConnections = 100
			c.Pooler.DefaultPoolSize, c.Pooler.ReservePoolSize = 70, 10
		}, nil},
		{"PostgreSQL below its reservations", func(c *Config) {
			c.Postgres.MaxConnections = 10
			c.Pooler.DefaultPoolSize, c.Pooler.ReservePoolSize = 1, 0
		}, []Problem{{Key: "pooler.defaultPoolSize",
			Message: "1 + pooler.reservePoolSize 0 = 1 server connections do not fit postgres.maxConnections 10 minus the 20 reserved (" + postgresReservedList() + ")",
			Fix:     "lower pooler.defaultPoolSize + pooler.reservePoolSize to at most 0, or raise postgres.maxConnections to at least 21 (PostgreSQL applies it on its next restart)"}}},
		{"out of range: reported once, no arithmetic on it", func(c *Config) {
			c.Pooler.MaxClientConn = 0
			c.Pooler.ReservePoolSize = -1
		}, []Problem{
			{Key: "pooler.maxClientConn", Message: "is 0", Fix: "use 1-100000"},
			{Key: "pooler.reservePoolSize", Message: "is -1", Fix: "use 0-100000"},
		}},
		{"a PgBouncer before 1.21 cannot take max_prepared_statements", func(c *Config) {
			c.Images = Images{ImagePgBouncer: "edoburu/pgbouncer:1.18.0"}
		}, []Problem{{Key: "images.pgbouncer",
			Message: `"edoburu/pgbouncer:1.18.0" is not PgBouncer 1.21 or later: pgbouncer.ini sets max_prepared_statements, which JDBC's prepared statements need in transaction mode`,
			Fix:     "pin an edoburu/pgbouncer tag of that version or later, e.g. edoburu/pgbouncer:v1.25.2-p0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			c.Images = Images{ImagePgBouncer: "edoburu/pgbouncer:v1.25.2-p0"}
			tc.change(c)
			require.Equal(t, tc.want, poolerProblems(c))
		})
	}
}
