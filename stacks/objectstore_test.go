package stacks

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/stackfile"
)

// backupObjectStore's problems are reported all at once, each on its key
// with its fix; a good bucket passes.
func TestBackupObjectStoreIsValidated(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	s, err := stackfile.Load(filepath.Dir(filepath.Dir(file)), "prod")
	require.NoError(t, err)
	good := BackupObjectStore{Endpoint: "https://s3.eu-central-1.amazonaws.com", Bucket: "aurigraph-backups", Prefix: "prod", Region: "eu-central-1"}
	keys := map[string]string{SecretBackupRepositoryPassword: "Distinct-Repository-Password",
		SecretBackupObjectStoreAccessKeyID: "AKIAEXAMPLE0123", SecretBackupObjectStoreSecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	for _, c := range []struct {
		name  string
		store BackupObjectStore
		keys  map[string]string // overrides
		want  map[string]string // key -> part of "message; fix"
	}{
		{"good", good, nil, nil},
		{"loopback http", BackupObjectStore{Endpoint: "http://127.0.0.1:9000", Bucket: "abc"}, nil, nil},
		{"everything wrong", BackupObjectStore{Endpoint: "http://192.0.2.9:9000/path", Bucket: "Aurigraph_Backups", Prefix: "/prod/", Region: "EU 1"},
			map[string]string{SecretBackupObjectStoreAccessKeyID: "AKIA EXAMPLE", SecretBackupObjectStoreSecretAccessKey: "secret"},
			map[string]string{
				"backupObjectStore.endpoint":           "scheme and a host only",
				"backupObjectStore.bucket":             "3-63 lower-case letters",
				"backupObjectStore.prefix":             "single slashes",
				"backupObjectStore.region":             "region name",
				SecretBackupObjectStoreAccessKeyID:     "white space",
				SecretBackupObjectStoreSecretAccessKey: "weak or default credential",
			}},
		{"plain http across the network", BackupObjectStore{Endpoint: "http://s3.example.net", Bucket: "abc"}, nil,
			map[string]string{"backupObjectStore.endpoint": "only loopback may use http; use https://host[:port]"}},
		{"on the data host", BackupObjectStore{Endpoint: "https://198.51.100.20:9000", Bucket: "abc"}, nil,
			map[string]string{"backupObjectStore.endpoint": "the PostgreSQL host itself"}},
		{"no endpoint", BackupObjectStore{Bucket: "abc"}, nil,
			map[string]string{"backupObjectStore.endpoint": "is not set, but other backupObjectStore fields are"}},
		{"no keys", good, map[string]string{SecretBackupObjectStoreAccessKeyID: "", SecretBackupObjectStoreSecretAccessKey: ""},
			map[string]string{
				SecretBackupObjectStoreAccessKeyID:     "required secret is not set; run `pulumi config set --secret backupObjectStoreAccessKeyId",
				SecretBackupObjectStoreSecretAccessKey: "required secret is not set",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, raw := prodConfig(t, s)
			cfg.BackupObjectStore = c.store
			for k, v := range keys {
				raw[k] = v
			}
			for k, v := range c.keys {
				raw[k] = v
			}
			got := map[string]string{}
			for _, p := range Validate(cfg, raw) {
				got[p.Key] += p.Message + "; " + p.Fix
			}
			require.Len(t, got, len(c.want), "%v", got)
			for k, part := range c.want {
				assert.Contains(t, got[k], part, k)
			}
		})
	}
}
