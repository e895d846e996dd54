package tests

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/stacks"
	"github.com/aurigraph/infra/tests/harness"
)

const (
	prodDataHost = "198.51.100.20" // prod-data-01: PostgreSQL
	prodObsHost  = "198.51.100.30" // prod-obs-01: the first monitoring host
)

func TestBackupDrillRunsFromTheCopyOnAnotherHost(t *testing.T) {
	password := "Distinct-Repository-Password-5e2a"
	s, key := withBackupTarget(t, password)
	res := harness.Run(t, s)
	assert.Empty(t, harness.PlaintextContaining(res, password), "the repository password stays secret")
	assert.Empty(t, harness.PlaintextContaining(res, strings.Split(key, "\n")[1]), "the login key stays secret")

	// Which host installs which backup job: the drill is on prod-obs-01
	// (the default, the first monitoring host), never on the data host.
	jobsOn := map[string][]string{}
	for _, r := range res.OfType("command:remote:Command") {
		stdin := harness.Str(r.Inputs, "stdin")
		for _, unit := range []string{"aurigraph-backup-postgres-drill.timer", "aurigraph-backup-postgres-dump.timer", "aurigraph-backup-postgres-offsite-copy.timer"} {
			if strings.Contains(stdin, "seed_run") && strings.Contains(stdin, unit) {
				h := harness.Host(res, r)
				jobsOn[h] = append(jobsOn[h], unit)
			}
		}
	}
	for _, units := range jobsOn {
		sort.Strings(units)
	}
	assert.Equal(t, map[string][]string{
		prodDataHost: {"aurigraph-backup-postgres-dump.timer", "aurigraph-backup-postgres-offsite-copy.timer"},
		prodObsHost:  {"aurigraph-backup-postgres-drill.timer"},
	}, jobsOn)

	// The drill host reads the copy with its own copy of the secrets,
	// root-only files from stdin; it gets no copy timers (ReadOnly).
	secrets := map[string]map[string]string{}
	for _, w := range harness.Writes(res) {
		if strings.Contains(w.Path, "/backups/offsite/postgres/") {
			if secrets[w.Host] == nil {
				secrets[w.Host] = map[string]string{}
			}
			secrets[w.Host][w.Path[strings.LastIndex(w.Path, "/")+1:]] = w.Content
		}
	}
	want := map[string]string{"repository-password": password, "ssh-key": key}
	assert.Equal(t, map[string]map[string]string{prodDataHost: want, prodObsHost: want}, secrets)

	// The drill script: the copy's script on that host, the live image,
	// no network, the data host's dump directory in the copy.
	var script, scriptHost string
	for _, w := range harness.Writes(res) {
		if strings.HasSuffix(w.Path, "/backups/bin/postgres-drill.sh") {
			scriptHost = w.Host
		}
	}
	for p, content := range harness.InstalledFiles(res) {
		if strings.HasSuffix(p, "/backups/bin/postgres-drill.sh") {
			script = content
		}
	}
	require.NotEmpty(t, script, "postgres-drill.sh is installed")
	assert.Equal(t, prodObsHost, scriptHost)
	cfg := harness.Config(t, s)
	assert.Contains(t, script, "IMAGE=${IMAGE:-'"+cfg.Images["postgres"]+"'}")
	assert.Contains(t, script, "--network none")
	assert.Contains(t, script, "OFFSITE=${OFFSITE:-'/srv/aurigraph/backups/bin/offsite-postgres.sh'}")
	assert.Contains(t, script, "BACKUP_DIR=${BACKUP_DIR:-'/srv/aurigraph/postgres/backups'}")
	assert.Contains(t, script, "aurigraph_restore_drill_time_to_usable_seconds")

	// The image is pulled on the drill host and the timer waits for it.
	var imageStep string
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "postgres-drill-image") {
			imageStep = harness.Host(res, r) + " " + harness.Str(r.Inputs, "create")
		}
	}
	assert.Equal(t, prodObsHost+" docker image inspect --format '{{.Id}}' '"+cfg.Images["postgres"]+"' >/dev/null", imageStep)

	harness.Preview(t, s)
}

// With the bucket alone the drill runs from it, on the drill host too.
func TestBackupDrillFromTheBucketAlone(t *testing.T) {
	s := withObjectStore(harness.Stack(t, "prod").SetSecret(stacks.SecretBackupRepositoryPassword, "Distinct-Repository-Password-3a9f"))
	res := harness.Run(t, s)
	var drillHost, dataTimers string
	for _, r := range res.OfType("command:remote:Command") {
		switch {
		case strings.HasSuffix(r.URN, "postgres-drill-timers"):
			drillHost = harness.Host(res, r)
		case strings.HasSuffix(r.URN, "postgres-backup-timers"):
			dataTimers = harness.Str(r.Inputs, "stdin")
		}
	}
	assert.Equal(t, prodObsHost, drillHost)
	assert.NotContains(t, dataTimers, "aurigraph-backup-postgres-drill.timer", "no drill on the data host")
	harness.Preview(t, s)
}

func TestBackupDrillScheduleAndAllowance(t *testing.T) {
	s, _ := withBackupTarget(t, "Distinct-Repository-Password-5e2a")
	res := harness.Run(t, s.Set("backupDrill", `{"host": "prod-app-01", "schedule": "Sat *-*-01..07 02:30:00", "maxAgeHours": 900}`))
	var timers, host string
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "postgres-drill-timers") {
			timers, host = harness.Str(r.Inputs, "stdin"), harness.Host(res, r)
		}
	}
	assert.Equal(t, "198.51.100.41", host, "on backupDrill.host")
	assert.Contains(t, timers, "OnCalendar=Sat *-*-01..07 02:30:00")
	assert.Contains(t, timers, "seed_run 'postgres' 'drill' 3240000", "900 h")

	// Without backupTarget the drill stays on the data host, on the schedule.
	res = harness.Run(t, harness.Stack(t, "prod").Set("backupDrill", `{"schedule": "Sat *-*-01..07 02:30:00"}`))
	for _, r := range res.OfType("command:remote:Command") {
		if strings.HasSuffix(r.URN, "postgres-backup-timers") {
			timers, host = harness.Str(r.Inputs, "stdin"), harness.Host(res, r)
		}
	}
	assert.Equal(t, prodDataHost, host)
	assert.Contains(t, timers, "OnCalendar=Sat *-*-01..07 02:30:00")
	assert.Contains(t, timers, "drill.sh")
}

func TestBackupDrillIsRefusedWithKeyAndFix(t *testing.T) {
	s, _ := withBackupTarget(t, "Distinct-Repository-Password-5e2a")
	err := harness.RunErr(s.Set("backupDrill", `{"host": "prod-data-01", "schedule": "every $(reboot)", "maxAgeHours": 2}`))
	require.Error(t, err)
	for _, want := range []string{
		"aurigraph:backupDrill.host prod-data-01 is the PostgreSQL host",
		"set backupDrill.host to another host of the stack",
		"aurigraph:backupDrill.schedule \"every $(reboot)\" is not a systemd OnCalendar expression",
		"aurigraph:backupDrill.maxAgeHours is 2",
	} {
		assert.Contains(t, err.Error(), want)
	}
	err = harness.RunErr(s.Set("backupDrill", `{"host": "prod-nowhere"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aurigraph:backupDrill.host \"prod-nowhere\" is not a host of the stack")
	err = harness.RunErr(harness.Stack(t, "prod").Set("backupDrill", `{"host": "prod-obs-01"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aurigraph:backupDrill.host is prod-obs-01, but neither backupTarget nor backupObjectStore is set")
}
