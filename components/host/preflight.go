package host

import (
	"fmt"
	"strings"
)

// Minimums that are not stack settings: every stack needs them.
const (
	MinDocker   = "20.10"
	MinKernel   = "4.19"
	SupportedOS = "debian ubuntu" // os-release IDs: preparation uses apt and systemd
)

// PreflightValues are the figures a host must meet.
type PreflightValues struct {
	Host        string
	DataPath    string
	MinCPUs     int
	MinMemoryGB int
	MinDiskGB   int
	MinKernel   string
	MinDocker   string
	SupportedOS string
	// MaxClockOffsetMs: a host whose running chronyd reports a larger
	// offset is refused (preflight.sh.tmpl says why only chrony's figure).
	MaxClockOffsetMs int
}

// NewPreflightValues takes the thresholds from the host's arguments.
func NewPreflightValues(a HostArgs) PreflightValues {
	v := PreflightValues{
		Host: a.Name, DataPath: a.DataPath,
		MinCPUs: a.Thresholds.MinCPUs, MinMemoryGB: a.Thresholds.MinMemoryGB, MinDiskGB: a.Thresholds.MinDiskGB,
		MinKernel: MinKernel, MinDocker: MinDocker, SupportedOS: SupportedOS,
	}
	_, v.MaxClockOffsetMs = timeSettings(a)
	return v
}

// RenderPreflight renders the preflight script: it prints the figures it
// found and exits 1 with Refusal's message when the host falls short.
func RenderPreflight(v PreflightValues) (string, error) {
	if v.Host == "" || !strings.HasPrefix(v.DataPath, "/") {
		return "", fmt.Errorf("preflight: host name and an absolute data path are required")
	}
	if v.MaxClockOffsetMs < 1 || v.MaxClockOffsetMs > MaxClockOffsetBoundMs {
		return "", fmt.Errorf("preflight: the clock offset bound must be 1-%d ms, got %d", MaxClockOffsetBoundMs, v.MaxClockOffsetMs)
	}
	return render("preflight.sh.tmpl", v)
}

// Figures are what preflight measures on a host. Memory and disk are decimal
// GB (10^9 bytes), rounded down.
type Figures struct {
	CPUs       int
	MemoryGB   int
	DiskFreeGB int
	OS         string // os-release ID
	Kernel     string // e.g. 6.1.0
	Docker     string // "" when absent
	// ClockOffsetMs is chronyd's offset, rounded, absolute; -1 when not
	// measured (no running, synchronised chronyd).
	ClockOffsetMs int
}

// Refusal is the one message preflight prints for a host that falls short,
// "" when it passes: "host <name> refused: <found>, <required>; ...". The
// script builds the same text; tests hold the two to each other.
func Refusal(v PreflightValues, f Figures) string {
	var short []string
	if f.CPUs < v.MinCPUs {
		short = append(short, fmt.Sprintf("%d CPU cores found, %d required", f.CPUs, v.MinCPUs))
	}
	if f.MemoryGB < v.MinMemoryGB {
		short = append(short, fmt.Sprintf("%d GB memory found, %d required", f.MemoryGB, v.MinMemoryGB))
	}
	if f.DiskFreeGB < v.MinDiskGB {
		short = append(short, fmt.Sprintf("%d GB free disk on %s found, %d required", f.DiskFreeGB, v.DataPath, v.MinDiskGB))
	}
	supported := false
	for _, id := range strings.Fields(v.SupportedOS) {
		supported = supported || id == f.OS
	}
	if !supported {
		short = append(short, fmt.Sprintf("OS %s found, one of %s required", f.OS, v.SupportedOS))
	}
	if !versionAtLeast(f.Kernel, v.MinKernel) {
		short = append(short, fmt.Sprintf("kernel %s found, %s required", f.Kernel, v.MinKernel))
	}
	if f.Docker != "" && !versionAtLeast(f.Docker, v.MinDocker) {
		short = append(short, fmt.Sprintf("Docker %s found, %s required", f.Docker, v.MinDocker))
	}
	if f.ClockOffsetMs > v.MaxClockOffsetMs {
		short = append(short, fmt.Sprintf("clock off by %d ms (chrony), at most %d ms allowed", f.ClockOffsetMs, v.MaxClockOffsetMs))
	}
	if len(short) == 0 {
		return ""
	}
	return fmt.Sprintf("host %s refused: %s", v.Host, strings.Join(short, "; "))
}

// versionAtLeast compares dotted numeric versions.
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		var hv, wv int
		if i < len(h) {
			fmt.Sscanf(h[i], "%d", &hv)
		}
		fmt.Sscanf(w[i], "%d", &wv)
		if hv != wv {
			return hv > wv
		}
	}
	return true
}
