// Package derive makes the passwords of a data store's service accounts
// from the one secret the operator sets for that store (postgresPassword,
// redisPassword): HMAC-SHA-256 keyed with the secret, over the account's
// purpose.
//
// Why derived, not one more required secret per account: the secret they
// come from is the store's superuser (or admin user), which already holds
// every right over those accounts, so knowing it reveals nothing more; the
// HMAC is one way, so a leaked service password never reveals the
// superuser's or another service's; the same secret always gives the same
// passwords (no spurious diffs); and the operator still sets one secret per
// store. Changing the store's secret rotates every derived password (the
// bootstrap re-sets them).
package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Password is the password of the account purpose, derived from root: 43
// URL-safe base64 characters (256 bits), nothing any config file, URL or
// shell needs to quote.
func Password(root, purpose string) string {
	mac := hmac.New(sha256.New, []byte(root))
	mac.Write([]byte("aurigraph/" + purpose))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Secret is Password of a secret root, a secret itself.
func Secret(root pulumi.StringInput, purpose string) pulumi.StringOutput {
	out := root.ToStringOutput().ApplyT(func(r string) string { return Password(r, purpose) }).(pulumi.StringOutput)
	return pulumi.ToSecret(out).(pulumi.StringOutput)
}
