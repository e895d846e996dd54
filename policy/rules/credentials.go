package rules

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// WeakCredentials are the documents' defaults and other values no credential
// may ever have (compared trimmed and case-insensitively); empty is weak too.
var WeakCredentials = []string{"changeme", "admin", "myroot", "password", "root", "secret", "default", "test", "123456", "passw0rd", "letmein", "aurigraph", "postgres", "redis", "elastic", "vault"}

// credentialWords mark a property or variable name as holding a credential.
var credentialWords = []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "credential", "authkey"}

// notCredentialSuffixes name references to a credential (a file, a path, a
// switch), not the credential itself.
var notCredentialSuffixes = []string{"file", "path", "dir", "enabled", "ttl", "name", "length", "algorithm", "rotation", "keys"}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]`)

// IsCredentialName reports a property or environment variable name that
// holds a credential: POSTGRES_PASSWORD, privateKeyPem, VAULT_TOKEN,
// DATA_SOURCE_PASS… but not GF_SECURITY_ADMIN_PASSWORD__FILE.
func IsCredentialName(name string) bool {
	n := nonAlnum.ReplaceAllString(strings.ToLower(name), "")
	if n == "" {
		return false
	}
	for _, s := range notCredentialSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	if strings.HasSuffix(n, "pass") {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// IsWeakCredential reports an empty or well-known default value.
func IsWeakCredential(v string) bool {
	t := strings.ToLower(strings.TrimSpace(v))
	if t == "" || strings.Contains(t, "changeme") {
		return true
	}
	return isOneOf(t, WeakCredentials)
}

// credential is one credential-bearing value found in a resource's inputs.
type credential struct {
	path   string // where, e.g. envs[3] (POSTGRES_PASSWORD) or connection.privateKey
	value  string
	state  state
	secret bool // the value or an enclosing value is a secret
}

var envNameRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.\-]*)=(.*)$`)

// credentials walks every input and returns the credential-bearing values:
// values of credential-named keys, NAME=value strings with a credential
// name (environment lists), and passwords inside URLs.
func credentials(m property.Map) []credential {
	var out []credential
	var walk func(path string, v property.Value, secret bool, credKey bool)
	walk = func(path string, v property.Value, secret bool, credKey bool) {
		secret = secret || v.Secret()
		switch {
		case v.IsComputed():
			if credKey {
				out = append(out, credential{path: path, state: unknown, secret: secret})
			}
		case v.IsMap():
			for k, e := range v.AsMap().AllStable {
				walk(join(path, k), e, secret, IsCredentialName(k))
			}
		case v.IsArray():
			for i, e := range v.AsArray().AsSlice() {
				walk(fmt.Sprintf("%s[%d]", path, i), e, secret, credKey)
			}
		case v.IsString():
			s := v.AsString()
			if credKey {
				out = append(out, credential{path: path, value: s, state: known, secret: secret})
				return
			}
			if g := envNameRE.FindStringSubmatch(s); g != nil && IsCredentialName(g[1]) {
				out = append(out, credential{path: fmt.Sprintf("%s (%s)", path, g[1]), value: g[2], state: known, secret: secret})
				return
			}
			if pw, ok := urlPassword(s); ok {
				out = append(out, credential{path: path + " (URL password)", value: pw, state: known, secret: secret})
			}
		}
	}
	for k, v := range m.AllStable {
		walk(k, v, false, IsCredentialName(k))
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var urlRE = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'"]+`)

// urlPassword finds a password in a URL's user information (user:pw@host).
func urlPassword(s string) (string, bool) {
	for _, raw := range urlRE.FindAllString(s, -1) {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			continue
		}
		if pw, ok := u.User.Password(); ok {
			return pw, true
		}
	}
	return "", false
}

func credentialRules() []Rule {
	return []Rule{
		{
			Name:        "no-weak-credentials",
			Description: "No input holds a default or weak credential (changeme, admin, myroot, password, empty, …), secret or not.",
			Resource:    checkWeakCredentials,
		},
		{
			Name: "container-secrets-as-files",
			Description: "No container has a credential in its environment, secret or not (docker inspect shows it, child processes inherit it): secrets are files in a read-only mount at " + SecretsMount +
				", except the documented kinds whose image reads them only from its environment.",
			Types:    []string{ContainerType},
			Resource: checkSecretsAsFiles,
		},
		{
			Name:        "credentials-are-secrets",
			Description: "Every credential-bearing input (passwords, tokens, private keys, URL passwords) is a Pulumi secret.",
			Resource:    checkCredentialsSecret,
		},
		{
			Name:        "no-database-superuser-logins",
			Description: "No container logs in to PostgreSQL as a superuser (aurigraph, postgres): services use their own roles.",
			Types:       []string{ContainerType},
			Resource:    checkDatabaseSuperuserLogins,
		},
	}
}

// DatabaseSuperusers are PostgreSQL superusers' names: the image's default
// and the stack's (components/postgres.User), which only the database
// container (initdb), the roles bootstrap and the backups use.
var DatabaseSuperusers = []string{"postgres", "aurigraph"}

// databaseLoginEnv names the variables a PostgreSQL client logs in with
// (libpq, postgres_exporter, Quarkus); POSTGRES_USER is not one: it tells
// the image's initdb which superuser to create.
var databaseLoginEnv = regexp.MustCompile(`^(PGUSER|DATA_SOURCE_USER|[A-Z0-9_]*DATASOURCE_USER(NAME)?)$`)

func checkDatabaseSuperuserLogins(r policyx.AnalyzerResource, _ Env) []Finding {
	var out []Finding
	envs, ok := r.Properties.GetOk("envs")
	if !ok || envs.IsComputed() || !envs.IsArray() {
		return nil
	}
	for i, e := range envs.AsArray().AsSlice() {
		if e.IsComputed() || !e.IsString() {
			continue
		}
		name, value, ok := strings.Cut(e.AsString(), "=")
		if !ok {
			continue
		}
		user := ""
		if databaseLoginEnv.MatchString(name) {
			user = value
		} else if u, err := url.Parse(value); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.User != nil {
			user = u.User.Username()
		}
		if isOneOf(strings.ToLower(strings.TrimSpace(user)), DatabaseSuperusers) {
			out = append(out, found(r, "%s: envs[%d] (%s) logs in to PostgreSQL as the superuser %s: use the service's own role", urnName(r.URN), i, name, user))
		}
	}
	return sorted(out)
}

// SecretEnvExceptions are the service kinds that may keep credentials in
// their environment, and why. Every other container reads them from files.
var SecretEnvExceptions = map[string]string{
	Kibana: "kibana.yml takes elasticsearch.password and the encryption keys only as ${VAR} from the environment or from Kibana's keystore; " +
		"the image has no _FILE variant, and a keystore is made by the image's own tool (kibana-keystore) with its own password, in the environment again",
	Logstash: "the pipeline takes the writer's password only as ${VAR} from the environment or from Logstash's keystore; " +
		"the image has no _FILE variant, and the keystore's password (LOGSTASH_KEYSTORE_PASS) would be in the environment instead",
}

func checkSecretsAsFiles(r policyx.AnalyzerResource, _ Env) []Finding {
	p := r.Properties
	name := displayName(p, r.URN)
	var out []Finding
	if _, exempt := SecretEnvExceptions[kindOf(p)]; !exempt {
		if envs, s := arr(p.Get("envs")); s == known {
			for _, e := range envs {
				kv, ks := str(e)
				if g := envNameRE.FindStringSubmatch(kv); ks == known && g != nil && IsCredentialName(g[1]) {
					out = append(out, found(r, "container %s has the credential %s in its environment: write it as a secret file (mounted read-only at %s) and give the image its path (%s_FILE or the like)",
						name, g[1], SecretsMount, g[1]))
				}
			}
		}
	}
	if mounts, s := arr(p.Get("mounts")); s == known {
		for _, m := range mounts {
			mm, _ := obj(m)
			target, ts := str(mm.Get("target"))
			ro, rs := boolean(mm.Get("readOnly"))
			if ts == known && path.Clean(target) == SecretsMount && rs != unknown && !ro {
				out = append(out, found(r, "container %s mounts its secret files (%s) writable: mount them read-only", name, SecretsMount))
			}
		}
	}
	return out
}

func checkWeakCredentials(r policyx.AnalyzerResource, _ Env) []Finding {
	var out []Finding
	for _, c := range credentials(r.Properties) {
		if c.state == known && IsWeakCredential(c.value) {
			// never print the value: it may be a real (if weak) secret
			out = append(out, found(r, "%s: input %s is an empty or well-known default credential", urnName(r.URN), c.path))
		}
	}
	return sorted(out)
}

func checkCredentialsSecret(r policyx.AnalyzerResource, _ Env) []Finding {
	var out []Finding
	for _, c := range credentials(r.Properties) {
		if c.state == known && c.value != "" && !c.secret {
			out = append(out, found(r, "%s: input %s holds a credential in plain text: make it a Pulumi secret", urnName(r.URN), c.path))
		}
	}
	return sorted(out)
}

func sorted(fs []Finding) []Finding {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Message < fs[j].Message })
	return fs
}
