package redis

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"text/template"
)

//go:embed templates/redis.conf.tmpl
var confTemplate string

var conf = template.Must(template.New("redis.conf").Parse(confTemplate))

// ConfigValues are the plain values redis.conf is rendered from.
type ConfigValues struct {
	Bind        string // addresses to listen on; all interfaces of the container by default
	Port        int
	MaxMemoryMB int
	MaxClients  int
	Dir         string
	// ACLFile is the users file (users.acl) inside the container.
	ACLFile string
	// DisabledCommands are renamed to "" (unavailable to every client).
	DisabledCommands []string
}

// DisabledCommands are turned off: nothing in the platform needs them and
// each can wipe or stall the whole cache.
var DisabledCommands = []string{"FLUSHALL", "FLUSHDB", "SWAPDB", "DEBUG", "MODULE"}

// Defaults are the container's values for a memory budget.
func Defaults(maxMemoryMB int) ConfigValues {
	return ConfigValues{
		Bind: "* -::*", Port: Port, MaxMemoryMB: maxMemoryMB, MaxClients: 10000,
		Dir: dataMount, ACLFile: confMount + "/" + ACLFileName, DisabledCommands: DisabledCommands,
	}
}

// MaxMemoryFor is maxmemory for a container memory limit. The SPEC says
// 4gb with a 4 GB container limit; maxmemory counts the dataset only, so
// equal values let fork copy-on-write during RDB/AOF rewrites, client and
// replication buffers and allocator fragmentation push the container over
// its limit and get it OOM-killed. Three quarters of the limit leaves a
// quarter for that (1 GB of 4 GB).
func MaxMemoryFor(limitMB int) int { return limitMB * 3 / 4 }

// RenderConfig renders redis.conf.
func RenderConfig(v ConfigValues) (string, error) {
	if v.MaxMemoryMB <= 0 || v.Port <= 0 || v.Dir == "" || v.Bind == "" || v.ACLFile == "" {
		return "", fmt.Errorf("redis.conf: maxmemory, port, dir, bind and the ACL file are required")
	}
	var b bytes.Buffer
	if err := conf.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Secret file names in the containers' SecretsMount.
const (
	// PasswordFile holds the bare password, for redis-cli (health check, reload).
	PasswordFile = "redis-password"
	// ExporterPasswordFile is redis_exporter's -redis.password-file: JSON
	// mapping the address it scrapes to the password.
	ExporterPasswordFile = "redis-exporter-passwords.json"
)

// RenderExporterPasswords is the exporter's password file for the address it
// scrapes (URL()).
func RenderExporterPasswords(password string) (string, error) {
	out, err := json.Marshal(map[string]string{URL(): password})
	return string(out), err
}
