package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func serviceRules() []Rule {
	return []Rule{
		{
			Name:        "vault-no-dev-mode",
			Description: "Vault runs in server mode with a configuration, never in dev mode (in-memory, unsealed, root token); the official image's default command is dev mode, so the command must be explicit.",
			Types:       []string{ContainerType},
			Resource:    checkVaultDevMode,
		},
		{
			Name:        "elasticsearch-security",
			Description: "Elasticsearch runs with security enabled, stated explicitly (xpack.security.enabled=true), and never with HTTP or transport TLS switched off.",
			Types:       []string{ContainerType},
			Resource:    checkElasticsearchSecurity,
		},
	}
}

// env reads a container's environment as NAME → value; ok is false while
// any element is unknown. Secret elements are read like the others.
func env(p property.Map) (map[string]string, bool) {
	elems, s := arr(p.Get("envs"))
	if s == unknown {
		return nil, false
	}
	out := map[string]string{}
	for _, e := range elems {
		v, es := str(e)
		if es == unknown {
			return nil, false
		}
		if k, val, ok := strings.Cut(v, "="); ok {
			out[k] = val
		}
	}
	return out, true
}

func checkVaultDevMode(r policyx.AnalyzerResource, _ Env) []Finding {
	p := r.Properties
	if kindOf(p) != Vault {
		return nil
	}
	name := displayName(p, r.URN)
	entry, es := strs(p.Get("entrypoints"))
	cmd, cs := strs(p.Get("command"))
	vars, ok := env(p)
	if es == unknown || cs == unknown || !ok {
		return nil
	}
	var out []Finding
	args := append(append([]string{}, entry...), cmd...)
	server, dev := false, false
	for _, a := range args {
		server = server || a == "server"
		dev = dev || a == "-dev" || a == "--dev" || strings.HasPrefix(a, "-dev-") || strings.HasPrefix(a, "--dev-")
	}
	switch {
	case dev:
		out = append(out, found(r, "vault container %s runs in dev mode (%s)", name, strings.Join(args, " ")))
	case !server:
		out = append(out, found(r, "vault container %s has no explicit `server` command: the image's default is dev mode; run `server -config=…`", name))
	}
	for _, k := range []string{"VAULT_DEV_ROOT_TOKEN_ID", "VAULT_DEV_LISTEN_ADDRESS"} {
		if _, set := vars[k]; set {
			out = append(out, found(r, "vault container %s sets %s, a dev-mode setting", name, k))
		}
	}
	return out
}

// esSetting reads an Elasticsearch setting from the environment, in either
// spelling the image accepts (xpack.security.enabled or XPACK_SECURITY_ENABLED).
func esSetting(vars map[string]string, key string) (string, bool) {
	if v, ok := vars[key]; ok {
		return strings.ToLower(strings.TrimSpace(v)), true
	}
	upper := strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	v, ok := vars[upper]
	return strings.ToLower(strings.TrimSpace(v)), ok
}

func checkElasticsearchSecurity(r policyx.AnalyzerResource, _ Env) []Finding {
	p := r.Properties
	if kindOf(p) != Elasticsearch {
		return nil
	}
	vars, ok := env(p)
	if !ok {
		return nil
	}
	name := displayName(p, r.URN)
	var out []Finding
	if v, set := esSetting(vars, "xpack.security.enabled"); !set || v != "true" {
		out = append(out, found(r, "elasticsearch container %s does not set xpack.security.enabled=true", name))
	}
	for _, k := range []string{"xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled"} {
		if v, set := esSetting(vars, k); set && v == "false" {
			out = append(out, found(r, "elasticsearch container %s switches off TLS (%s=false)", name, k))
		}
	}
	return out
}
