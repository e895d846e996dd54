package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// StrongCurves are the ECDSA curves accepted (P-256 or better).
var StrongCurves = []string{"P256", "P384", "P521"}

// MinRSABits is the smallest RSA key accepted.
const MinRSABits = 2048

func tlsRules() []Rule {
	return []Rule{
		{
			Name:        "tls-key-strength",
			Description: "Every TLS private key is RSA of at least 2048 bits, ECDSA on P-256 or a larger curve, or Ed25519.",
			Types:       []string{PrivateKeyType},
			Resource:    checkKeyStrength,
		},
		{
			Name:        "tls-certificate-validity",
			Description: "Every certificate's validity lies within the pack's bounds (minValidityHours…maxValidityHours for server certificates, maxCaValidityHours for CAs) and outlasts its early-renewal window.",
			Types:       []string{LocallySignedType, SelfSignedType},
			Schema:      numberSchema("minValidityHours", "maxValidityHours", "maxCaValidityHours"),
			Resource:    checkValidity,
		},
	}
}

func checkKeyStrength(r policyx.AnalyzerResource, _ Env) []Finding {
	p := r.Properties
	alg, s := str(p.Get("algorithm"))
	if s == unknown {
		return nil
	}
	name := urnName(r.URN)
	switch strings.ToUpper(alg) {
	case "RSA":
		bits, bs := num(p.Get("rsaBits"))
		if bs == absent {
			bits = 2048 // the provider's default
		}
		if bs == known || bs == absent {
			if bits < MinRSABits {
				return []Finding{found(r, "key %s is RSA %g bits: use at least %d", name, bits, MinRSABits)}
			}
		}
		return nil
	case "ECDSA":
		curve, cs := str(p.Get("ecdsaCurve"))
		if cs == unknown {
			return nil
		}
		if cs == absent {
			curve = "P224" // the provider's default, too weak
		}
		if !isOneOf(strings.ToUpper(curve), StrongCurves) {
			return []Finding{found(r, "key %s is ECDSA on %s: use P256 or a larger curve", name, curve)}
		}
		return nil
	case "ED25519":
		return nil
	}
	return []Finding{found(r, "key %s has algorithm %q: use RSA (2048+), ECDSA (P256+) or ED25519", name, alg)}
}

func checkValidity(r policyx.AnalyzerResource, env Env) []Finding {
	p := r.Properties
	name := urnName(r.URN)
	hours, hs := num(p.Get("validityPeriodHours"))
	if hs == unknown {
		return nil
	}
	if hs != known {
		return []Finding{found(r, "certificate %s states no validityPeriodHours", name)}
	}
	var out []Finding
	isCA, _ := boolean(p.Get("isCaCertificate"))
	if isCA {
		if max := env.Num("maxCaValidityHours", 87600); hours > max {
			out = append(out, found(r, "CA certificate %s is valid for %g hours, above the pack's %g", name, hours, max))
		}
	} else {
		min, max := env.Num("minValidityHours", 24), env.Num("maxValidityHours", 9528)
		if hours < min || hours > max {
			out = append(out, found(r, "certificate %s is valid for %g hours, outside the pack's %g–%g", name, hours, min, max))
		}
	}
	if early, es := num(p.Get("earlyRenewalHours")); es == known && early >= hours {
		out = append(out, found(r, "certificate %s renews %g hours early but lives only %g: it would renew on every run", name, early, hours))
	}
	return out
}
