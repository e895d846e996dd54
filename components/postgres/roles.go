package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aurigraph/infra/internal/derive"
)

// The database's accounts. User (aurigraph, the image's POSTGRES_USER) is
// the superuser: initdb makes it, and only the bootstrap (RenderRoles) and
// the backup, restore and drill scripts use it, over the container's local
// socket. Every service logs in as one of the roles below.
const (
	// AppUser owns the application's schema: it creates, migrates, reads
	// and writes its tables, and can do nothing outside them.
	AppUser = "aurigraph_app"
	// ReportingUser reads the application's tables (ReadOnlyGroup).
	ReportingUser = "aurigraph_reporting"
	// ExporterUser is postgres_exporter's: pg_monitor, no table data.
	ExporterUser = "aurigraph_exporter"
	// VaultUser is Vault's database secrets engine's: it creates and drops
	// the short-lived roles it hands out, in ReadOnlyGroup or ReadWriteGroup.
	VaultUser = "aurigraph_vault"
	// ReadOnlyGroup and ReadWriteGroup hold the privileges on the
	// application's tables (no login): reporting and Vault's roles get them
	// through membership.
	ReadOnlyGroup  = "aurigraph_readonly"
	ReadWriteGroup = "aurigraph_readwrite"
	// Schema is the application's schema. public, not a schema of its own:
	// the application has always created its tables there, so a running
	// cluster keeps its data where it is, and the bootstrap only changes
	// owners.
	Schema = "public"
)

// RolePasswords are the login roles' passwords, each derived from the
// superuser's (internal/derive explains why derived), each a secret.
type RolePasswords struct {
	App, Reporting, Exporter, Vault pulumi.StringOutput
}

// DerivePasswords derives the login roles' passwords from the superuser's.
func DerivePasswords(superuser pulumi.StringInput) RolePasswords {
	return RolePasswords{
		App:       derive.Secret(superuser, purpose(AppUser)),
		Reporting: derive.Secret(superuser, purpose(ReportingUser)),
		Exporter:  derive.Secret(superuser, purpose(ExporterUser)),
		Vault:     derive.Secret(superuser, purpose(VaultUser)),
	}
}

// purpose names a role's password for derive.
func purpose(role string) string { return "postgres/" + role }

// RolePassword is DerivePasswords' value for one role, in plain text: for
// tests and tools that hold the superuser's password already.
func RolePassword(superuserPassword, role string) string {
	return derive.Password(superuserPassword, purpose(role))
}

// RoleValues are what roles.sql is rendered from: names, and a SCRAM
// verifier (ScramVerifier) per login role, never a password.
type RoleValues struct {
	Database, Schema, Superuser         string
	App, Reporting, Exporter, Vault     string
	ReadOnly, ReadWrite                 string
	SuperuserVerifier, AppVerifier      string
	ReportingVerifier, ExporterVerifier string
	VaultVerifier                       string
}

// Roles are the values for this deployment, given the superuser's password.
func Roles(superuserPassword string) RoleValues {
	v := func(role string) string {
		return ScramVerifier(RolePassword(superuserPassword, role))
	}
	return RoleValues{
		Database: Database, Schema: Schema, Superuser: User,
		App: AppUser, Reporting: ReportingUser, Exporter: ExporterUser, Vault: VaultUser,
		ReadOnly: ReadOnlyGroup, ReadWrite: ReadWriteGroup,
		SuperuserVerifier: ScramVerifier(superuserPassword),
		AppVerifier:       v(AppUser),
		ReportingVerifier: v(ReportingUser),
		ExporterVerifier:  v(ExporterUser),
		VaultVerifier:     v(VaultUser),
	}
}

// AllRoles are the roles the bootstrap creates when missing (the
// superuser exists from initdb).
func (v RoleValues) AllRoles() []string {
	return []string{v.ReadOnly, v.ReadWrite, v.App, v.Reporting, v.Exporter, v.Vault}
}

var (
	roleNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)
)

// RenderRoles renders roles.sql, the idempotent bootstrap of the accounts.
func RenderRoles(v RoleValues) (string, error) {
	var p []string
	for _, n := range append(v.AllRoles(), v.Database, v.Schema, v.Superuser) {
		if !roleNameRE.MatchString(n) {
			p = append(p, fmt.Sprintf("%q is not a plain lower-case name", n))
		}
	}
	for _, s := range []string{v.SuperuserVerifier, v.AppVerifier, v.ReportingVerifier, v.ExporterVerifier, v.VaultVerifier} {
		if !verifierRE.MatchString(s) {
			p = append(p, "every login role needs a SCRAM-SHA-256 verifier")
			break
		}
	}
	if len(p) > 0 {
		return "", fmt.Errorf("roles.sql: %s", strings.Join(p, "; "))
	}
	return render("roles.sql.tmpl", v)
}

// ScramIterations is PostgreSQL's own (scram_iterations' default).
const ScramIterations = 4096

// ScramVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password
// (RFC 5802/7677, PostgreSQL's "SCRAM-SHA-256$iter:salt$StoredKey:ServerKey"):
// ALTER ROLE ... PASSWORD takes it as is, so the plain password never
// reaches the server, its logs or the bootstrap's text. The salt is derived
// from the password, so the same password gives the same verifier (no diff).
func ScramVerifier(password string) string {
	saltMac := hmac.New(sha256.New, []byte(password))
	saltMac.Write([]byte("aurigraph/scram-salt"))
	salt := saltMac.Sum(nil)[:16]
	salted, err := pbkdf2.Key(sha256.New, password, salt, ScramIterations, sha256.Size)
	if err != nil {
		panic(err) // only for a key length beyond the hash's limits
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", ScramIterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key")))
}

// sqlLiteral quotes s as an SQL string literal; sqlIdent as an identifier.
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func sqlIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
