package host

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChronyConfUsesOnlyTheConfiguredServers(t *testing.T) {
	conf, err := RenderChronyConf([]string{"ntp1.example.net", "192.0.2.123", "2001:db8::123"})
	require.NoError(t, err)
	var sources []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "server" || f[0] == "pool" || f[0] == "peer" || f[0] == "sourcedir" || f[0] == "confdir" || f[0] == "include") {
			sources = append(sources, line)
		}
	}
	assert.Equal(t, []string{"server ntp1.example.net iburst", "server 192.0.2.123 iburst", "server 2001:db8::123 iburst"}, sources,
		"no Debian pool, no DHCP or sources.d directory: the configured servers only")
	assert.Contains(t, conf, "\nrtcsync\n", "node_timex_sync_status follows chrony")
	assert.Contains(t, conf, "\nmakestep 1 3\n")
}

func TestChronyConfRefusesWhatIsNotAServer(t *testing.T) {
	for _, servers := range [][]string{
		nil,
		{"ntp.example.net\nserver evil.example.net"},
		{"ntp.example.net iburst maxpoll 17"},
		{"203.0.113.300"},
		{"fe80::1%eth0"},
		{"NTP.example.net"},
		{"ntp"},
		{"127.0.0.1"},
		{"0.0.0.0"},
		{"ntp.example.net", "ntp.example.net"},
		strings.Fields(strings.Repeat("a.example.net ", MaxTimeServers+1)),
	} {
		_, err := RenderChronyConf(servers)
		assert.Error(t, err, "%q", servers)
	}
}

func TestTimeSyncStepRunsFirstAndWaitsWithinTheBound(t *testing.T) {
	require.Equal(t, TimeSyncStep, Steps[0].Name, "TLS and signature checks of the later steps need a right clock")
	a := sampleArgs()
	a.TimeServers = []string{"ntp1.example.net", "192.0.2.123"}
	a.MaxClockOffsetMs = 250
	v, err := NewPrepareValues(a)
	require.NoError(t, err)
	script, err := RenderStep(v, TimeSyncStep)
	require.NoError(t, err)
	for _, want := range []string{
		"ensure_packages chrony",
		"ensure_file /etc/chrony/chrony.conf 0644 0:0",
		"\nserver ntp1.example.net iburst\nserver 192.0.2.123 iburst\n",
		"MAX_OFFSET='0.250'",
		"TIME_SYNC_WAIT_SECONDS=${TIME_SYNC_WAIT_SECONDS:-120}",
		`chronyc waitsync "$tries" "$MAX_OFFSET" 0 2`,
		"ensure_file /usr/local/lib/aurigraph/clock-metrics 0755 0:0",
		"ensure_file /etc/systemd/system/aurigraph-clock-metrics.timer 0644 0:0",
		"\n" + strings.TrimRight(ClockMetricsScript, "\n") + "\nAURIGRAPH_EOF\n",
	} {
		assert.Contains(t, script, want)
	}

	// Unset settings take the defaults; out-of-range bounds are refused.
	v, err = NewPrepareValues(sampleArgs())
	require.NoError(t, err)
	assert.Equal(t, "0.100", v.MaxOffsetSeconds)
	assert.Contains(t, v.ChronyConf, "server 0.debian.pool.ntp.org iburst\n")
	for _, bad := range []int{-1, MaxClockOffsetBoundMs + 1} {
		a.MaxClockOffsetMs = bad
		_, err = NewPrepareValues(a)
		assert.Error(t, err, bad)
		_, err = RenderPreflight(NewPreflightValues(a))
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "1.500", offsetSeconds(1500))
	assert.Equal(t, "0.005", offsetSeconds(5))
}

func TestPreflightRefusesAClockOffByMoreThanTheBound(t *testing.T) {
	a := sampleArgs()
	a.MaxClockOffsetMs = 50
	v := NewPreflightValues(a)
	pre, err := RenderPreflight(v)
	require.NoError(t, err)
	assert.Contains(t, pre, "max_clock_offset_ms=50\n")
	ok := Figures{CPUs: 32, MemoryGB: 64, DiskFreeGB: 200, OS: "debian", Kernel: "6.1.0", ClockOffsetMs: 50}
	assert.Empty(t, Refusal(v, ok))
	ok.ClockOffsetMs = -1 // not measured
	assert.Empty(t, Refusal(v, ok))
	off := ok
	off.ClockOffsetMs = 51
	assert.Equal(t, "host prod-obs-01 refused: clock off by 51 ms (chrony), at most 50 ms allowed", Refusal(v, off))
}
