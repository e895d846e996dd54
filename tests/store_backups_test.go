package tests

import (
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/grafana"
	"github.com/aurigraph/infra/components/vault"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/tests/harness"
)

// storeBackup is one store's scripts and timer as a stack deploys them.
type storeBackup struct {
	store, container, serviceDir string
	render                       func(serviceDir string) (backup, restore string, err error)
	jobs                         func(binDir string) []backupjob.Job
	packages                     []string
}

var storeBackups = []storeBackup{
	{store: "vault", container: vault.ContainerName, serviceDir: "/srv/aurigraph/vault", jobs: vault.Jobs,
		render: func(dir string) (string, string, error) {
			b, err := vault.RenderBackup(vault.Backup(dir))
			if err != nil {
				return "", "", err
			}
			r, err := vault.RenderRestore(vault.Backup(dir))
			return b, r, err
		}},
	{store: "grafana", container: grafana.ContainerName, serviceDir: "/srv/aurigraph/grafana", jobs: grafana.Jobs,
		packages: grafana.BackupPackages,
		render: func(dir string) (string, string, error) {
			b, err := grafana.RenderBackup(grafana.Backup(dir))
			if err != nil {
				return "", "", err
			}
			r, err := grafana.RenderRestore(grafana.Backup(dir))
			return b, r, err
		}},
}

// TestStoreBackupsInstalledBesideTheirStore: Vault's and Grafana's backup
// and restore scripts (the renderers' own output), their root-only backups
// directory and their hourly timer land on the host their container runs
// on; the timer waits for the scripts and the container; no secret of the
// stack is in clear anywhere. In a first preview too, where every provider
// value is unknown.
func TestStoreBackupsInstalledBesideTheirStore(t *testing.T) {
	for _, stack := range []string{"prod", "staging"} {
		for _, mode := range []string{"run", "preview"} {
			t.Run(stack+"/"+mode, func(t *testing.T) {
				s := harness.Stack(t, stack)
				var res *mockrun.Result
				if mode == "run" {
					res = harness.Run(t, s)
				} else {
					res = harness.Preview(t, s)
				}
				installed := harness.InstalledFiles(res)
				for _, sb := range storeBackups {
					c := res.Named(harness.ContainerType, sb.container)
					require.NotNil(t, c, sb.container)
					h := harness.Host(res, *c)
					require.NotEmpty(t, h)

					backup, restore, err := sb.render(sb.serviceDir)
					require.NoError(t, err)
					bin := path.Join(sb.serviceDir, "bin")
					files := map[string]harness.HostFile{}
					for _, f := range harness.HostFiles(res, h) {
						files[f.Path] = f
					}
					for p, want := range map[string]string{path.Join(bin, "backup.sh"): backup, path.Join(bin, "restore.sh"): restore} {
						assert.Equal(t, want, installed[p], "%s is the rendered script", p)
						f, ok := files[p]
						require.True(t, ok, "%s is installed on %s, %s's host", p, h, sb.container)
						assert.Equal(t, "0750", f.Mode, p)
						assert.Equal(t, "0:0", f.Owner, p)
					}
					dir, ok := files[path.Join(sb.serviceDir, "backups")]
					require.True(t, ok, "host preparation creates %s/backups", sb.serviceDir)
					assert.Equal(t, harness.HostFile{Host: h, Path: path.Join(sb.serviceDir, "backups"), Mode: "0700", Owner: "0:0", Dir: true}, dir)

					timers := res.Named("command:remote:Command", sb.store+"-backup-timers")
					require.NotNil(t, timers, sb.store)
					assert.Equal(t, h, harness.Host(res, *timers), "the timer runs on %s's host", sb.container)
					want, err := backupjob.RenderTimers(backupjob.TimerValues{Jobs: sb.jobs(bin), Packages: sb.packages})
					require.NoError(t, err)
					assert.Equal(t, want, harness.Plain(timers.Inputs["stdin"]).StringValue())
					stdin := harness.Plain(timers.Inputs["stdin"]).StringValue()
					assert.Contains(t, stdin, "ExecStart=/bin/bash "+path.Join(bin, "backup.sh"))
					assert.Contains(t, stdin, "OnCalendar=hourly")
					waits := harness.Closure(res, timers.URN)
					assert.True(t, waits[c.URN], "the timer waits for %s", sb.container)
				}
				assertNoPlaceholderInClear(t, s, res)
			})
		}
	}
}
