package redis

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/derive"
)

// Redis's ACL users (users.acl). The default user, which any client that
// does not authenticate is, is off: every client names its user.
const (
	// AdminUser may run every command: operators, the container's health
	// check and the config reload (CONFIG SET, ACL LOAD). Its password is
	// the stack's redisPassword.
	AdminUser = "admin"
	// AppUser is the application's: data commands on AppKeyPatterns only.
	AppUser = "aurigraph"
	// ExporterUser is redis_exporter's: the read-only commands a scrape runs
	// (MonitorCommands), no key, no channel.
	ExporterUser = "redis_exporter"
	// GrafanaUser is Grafana's Redis datasource's: the same as the exporter's.
	GrafanaUser = "grafana"
)

// AppKeyPatterns are the application's key prefixes: its own namespace
// and Quarkus's Redis cache (cache:<cache-name>:<key>, the extension's
// default prefix). Keys outside them are refused.
var AppKeyPatterns = []string{"aurigraph:*", "cache:*"}

// AppCategories are what the application may run: reading and writing
// data and transactions, and what a client needs on its connection
// (AUTH, HELLO, PING, SELECT, CLIENT SETNAME). Everything in @dangerous
// (CONFIG, FLUSHALL, FLUSHDB, DEBUG, SHUTDOWN, KEYS, ACL, MONITOR, ...) and
// @admin is taken away again afterwards, whatever category also holds it.
// No scripting and no pub/sub: the application uses neither.
var AppCategories = []string{"+@read", "+@write", "+@transaction", "+@connection", "-@admin", "-@dangerous"}

// MonitorCommands are what redis_exporter runs on a scrape (exporter.go
// scrapeRedisHost, v1.66): PING, CLIENT SETNAME, CONFIG GET * (maxmemory,
// maxclients, databases), INFO ALL, LATENCY LATEST and HISTOGRAM, SLOWLOG
// GET and LEN; SELECT for the database it names. CONFIG GET is read-only
// (no password is in the config: the passwords live in the ACL).
var MonitorCommands = []string{"+ping", "+client|setname", "+config|get", "+info", "+latency|latest", "+latency|histogram",
	"+slowlog|get", "+slowlog|len", "+select"}

// Passwords are the ACL users' passwords, secrets. The non-admin ones are
// derived from redisPassword (internal/derive explains why derived).
type Passwords struct {
	Admin, App, Exporter, Grafana pulumi.StringOutput
}

// DerivePasswords derives every user's password from the admin's.
func DerivePasswords(admin pulumi.StringInput) Passwords {
	return Passwords{
		Admin:    pulumi.ToSecret(admin.ToStringOutput()).(pulumi.StringOutput),
		App:      derive.Secret(admin, purpose(AppUser)),
		Exporter: derive.Secret(admin, purpose(ExporterUser)),
		Grafana:  derive.Secret(admin, purpose(GrafanaUser)),
	}
}

func purpose(user string) string { return "redis/" + user }

// UserPassword is DerivePasswords' value for one user, in plain text: for
// tests and tools that hold the admin password already.
func UserPassword(adminPassword, user string) string {
	if user == AdminUser {
		return adminPassword
	}
	return derive.Password(adminPassword, purpose(user))
}

// ACLUser is one line of users.acl.
type ACLUser struct{ Name, Rules string }

// Users are the ACL users for an admin password: each with its rules and
// the SHA-256 of its password (#<hex>, Redis's hashed form), so the file
// holds no password.
func Users(adminPassword string) []ACLUser {
	hash := func(user string) string {
		sum := sha256.Sum256([]byte(UserPassword(adminPassword, user)))
		return "#" + hex.EncodeToString(sum[:])
	}
	var keys []string
	for _, p := range AppKeyPatterns {
		keys = append(keys, "~"+p)
	}
	rules := func(parts ...[]string) string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return strings.Join(all, " ")
	}
	monitor := append([]string{"resetkeys", "resetchannels", "-@all"}, MonitorCommands...)
	return []ACLUser{
		// Off, no password, no right: a client that does not log in can do nothing.
		{Name: "default", Rules: "off resetpass resetkeys resetchannels -@all"},
		{Name: AdminUser, Rules: rules([]string{"on", hash(AdminUser), "~*", "&*", "+@all"})},
		{Name: AppUser, Rules: rules([]string{"on", hash(AppUser), "resetkeys"}, keys, []string{"resetchannels", "-@all"}, AppCategories)},
		{Name: ExporterUser, Rules: rules([]string{"on", hash(ExporterUser)}, monitor)},
		{Name: GrafanaUser, Rules: rules([]string{"on", hash(GrafanaUser)}, monitor)},
	}
}

//go:embed templates/users.acl.tmpl
var aclTemplate string

var acl = template.Must(template.New("users.acl").Parse(aclTemplate))

var (
	aclNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	plainPass = regexp.MustCompile(`(^|\s)>`) // a clear-text password rule
)

// RenderACL renders users.acl.
func RenderACL(users []ACLUser) (string, error) {
	seen := map[string]bool{}
	for _, u := range users {
		if !aclNameRE.MatchString(u.Name) || seen[u.Name] || strings.ContainsAny(u.Rules, "\n\r") {
			return "", fmt.Errorf("users.acl: user %q: a plain, unique name and rules on one line are required", u.Name)
		}
		if plainPass.MatchString(u.Rules) {
			return "", fmt.Errorf("users.acl: user %q: passwords go in hashed (#<sha256>), never in clear", u.Name)
		}
		seen[u.Name] = true
	}
	if !seen["default"] {
		return "", fmt.Errorf("users.acl: the default user must be defined (off), or Redis keeps it on without a password")
	}
	var b bytes.Buffer
	if err := acl.Execute(&b, struct{ Users []ACLUser }{users}); err != nil {
		return "", err
	}
	return b.String(), nil
}
