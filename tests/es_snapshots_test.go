package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/internal/derive"
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

// The log store's snapshots, whole stack: the repository directory is
// prepared on the logging host for Elasticsearch alone, mounted at
// path.repo, registered with the snapshot user by a setup step, and the
// daily job is installed on that host after it; the snapshot user's
// password stays secret everywhere. In a preview too.
func TestElasticsearchSnapshotsOnTheLoggingHost(t *testing.T) {
	const elastic = "Distinct-elastic-Value-5b2e"
	snapshotPw := derive.Password(elastic, elasticsearch.SnapshotUser)
	for _, stack := range engineStacks {
		for _, preview := range []bool{false, true} {
			name := stack
			if preview {
				name += "/preview"
			}
			t.Run(name, func(t *testing.T) {
				s := harness.Stack(t, stack).SetSecret(stacks.SecretElasticPassword, elastic)
				var res *mockrun.Result
				if preview {
					res = harness.Preview(t, s)
				} else {
					res = harness.Run(t, s)
				}
				es, ok := harness.Containers(res)[elasticsearch.Name]
				require.True(t, ok, "the Elasticsearch container")
				esHost := harness.Host(res, es)
				require.NotEmpty(t, esHost)
				serviceDir := ""
				for _, p := range harness.ContainerHostPaths(es) {
					if strings.HasSuffix(p, "/snapshots") {
						serviceDir = strings.TrimSuffix(p, "/snapshots")
					}
				}
				require.NotEmpty(t, serviceDir, "the snapshot repository is mounted from the host")
				repo := elasticsearch.SnapshotsHostDir(serviceDir)

				var env []string
				for _, e := range harness.Elements(es.Inputs["envs"]) {
					env = append(env, harness.Plain(e).StringValue())
				}
				assert.Contains(t, env, "path.repo="+elasticsearch.SnapshotsDir)

				if !preview {
					var dir *harness.HostFile
					for _, f := range harness.HostFiles(res, esHost) {
						if f.Path == repo && f.Dir {
							f := f
							dir = &f
						}
					}
					require.NotNil(t, dir, "host preparation creates %s on %s", repo, esHost)
					assert.Equal(t, "0700", dir.Mode)
					assert.Equal(t, "1000:0", dir.Owner)
				}

				timers := res.Named("command:remote:Command", elasticsearch.Name+"-snapshot-timers")
				require.NotNil(t, timers)
				assert.Equal(t, esHost, harness.Host(res, *timers), "the job runs where Elasticsearch does")
				job := elasticsearch.Jobs(serviceDir)[0]
				installer := harness.Str(timers.Inputs, "stdin")
				assert.Contains(t, installer, "OnCalendar="+elasticsearch.SnapshotEvery)
				assert.Contains(t, installer, "ExecStart="+job.Command)
				assert.Contains(t, installer, "seed_run 'elasticsearch' 'snapshot' 93600")

				setup := res.Named("command:remote:Command", elasticsearch.Name+"-snapshot-setup")
				require.NotNil(t, setup)
				closure := harness.Closure(res, timers.URN)
				assert.True(t, closure[setup.URN], "the timer waits for the repository and the user")
				assert.True(t, closure[es.URN], "and for the container")
				assert.True(t, setup.Inputs["stdin"].ContainsSecrets() || setup.Inputs["stdin"].IsComputed() || setup.Inputs["stdin"].IsOutput(),
					"the setup's passwords are secret")

				if !preview {
					lines := strings.Split(harness.Plain(setup.Inputs["stdin"]).StringValue(), "\n")
					require.Len(t, lines, 3)
					assert.Equal(t, snapshotPw, lines[1], "the user gets the derived password")
					var file *harness.Write
					for _, w := range harness.Writes(res) {
						if w.Path == elasticsearch.SnapshotPasswordPath(serviceDir) {
							w := w
							file = &w
						}
					}
					require.NotNil(t, file, "the snapshot job's password file")
					assert.Equal(t, snapshotPw, file.Content, "the job reads the password the user has")
					assert.Equal(t, esHost, file.Host)
					scripts := harness.InstalledFiles(res)
					assert.Contains(t, scripts, serviceDir+"/bin/snapshot.sh")
					assert.Contains(t, scripts, serviceDir+"/bin/restore.sh")
				}
				assert.Empty(t, harness.PlaintextContaining(res, snapshotPw), "the snapshot password leaks in plain text")
				assert.Empty(t, harness.PlaintextContaining(res, elastic), "the elastic password leaks in plain text")
			})
		}
	}
}
