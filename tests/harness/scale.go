package harness

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/aurigraph/infra/internal/stackfile"
)

// Scale is the shape of a generated stack: prod's edge, data and
// observability hosts plus AppHosts application hosts running Nodes
// application replicas.
type Scale struct {
	Nodes    int
	AppHosts int
}

// ScaleStack is prod with its application hosts replaced by sc.AppHosts
// generated ones (each with its own address and host key) and its tiers grown
// to sc.Nodes replicas: 30 % validators in rolling groups of at most 10,
// 40 % business nodes in groups of at most 20, 30 % slim nodes.
//
// Everything a stack of that size must raise besides hosts and tiers is set
// here, and only here: the pooler's client connections and Prometheus's memory.
// PostgreSQL's connections stay prod's: the pooler bounds them.
func ScaleStack(t testing.TB, sc Scale) *stackfile.Stack {
	t.Helper()
	require.Positive(t, sc.AppHosts)
	require.GreaterOrEqual(t, sc.Nodes, 3)
	s := Stack(t, "prod")
	var hosts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(s.Config["aurigraph:hosts"]), &hosts))
	var kept []map[string]any
	for _, h := range hosts {
		if !hasRole(h, "app") {
			kept = append(kept, h)
		}
	}
	for i := 1; i <= sc.AppHosts; i++ {
		kept = append(kept, ScaleAppHost(t, i))
	}
	validators := sc.Nodes * 3 / 10
	slim := sc.Nodes * 3 / 10
	business := sc.Nodes - validators - slim
	tiers := map[string]any{
		"validator": map[string]any{"replicas": validators, "groups": groupsOf(validators, 10)},
		"business":  map[string]any{"replicas": business, "groups": groupsOf(business, 20)},
		"slim":      map[string]any{"replicas": slim},
	}
	// The pooler takes every replica of both slots with prod's JDBC pool of
	// 30 (stacks.validatePooler); its server pool stays prod's.
	pooler := map[string]any{"maxClientConn": max(2*sc.Nodes*30, 4000), "defaultPoolSize": 150, "reservePoolSize": 25}
	// Prometheus holds every replica's series (stacks.validatePrometheusLimits):
	// 12 GB on the observability host from 250 nodes on.
	s = s.Set("hosts", mustJSON(t, kept)).Set("tiers", mustJSON(t, tiers)).Set("pooler", mustJSON(t, pooler))
	if sc.Nodes > 250 {
		s = s.Set("resources", `{"prometheus":{"cpus":4,"cpusReservation":2,"memoryMb":12288,"memoryReservationMb":8192}}`)
	}
	return s
}

// ScaleAppHost is the i-th generated application host (from 1): 128 cores
// and 512 GB hold ten replicas of prod's size (8 cores, 16 GB reserved each)
// with room to spare.
func ScaleAppHost(t testing.TB, i int) map[string]any {
	t.Helper()
	seed := sha256.Sum256([]byte(fmt.Sprintf("scale-app-host-%d", i)))
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public())
	require.NoError(t, err)
	return map[string]any{
		"name":           fmt.Sprintf("scale-app-%03d", i),
		"address":        fmt.Sprintf("198.18.%d.%d", i/250, i%250+1),
		"privateAddress": fmt.Sprintf("10.20.%d.%d", i/250, i%250+1),
		"sshUser":        "deploy",
		"hostKey":        strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		"kind":           "bare-metal",
		"roles":          []string{"app"},
		"capacity":       map[string]int{"cpus": 128, "memoryGb": 512, "diskGb": 1000},
	}
}

// groupsOf splits n into rolling groups of at most size, the first ones full.
func groupsOf(n, size int) []int {
	var out []int
	for n > 0 {
		g := min(n, size)
		out = append(out, g)
		n -= g
	}
	return out
}

func hasRole(h map[string]any, role string) bool {
	roles, _ := h["roles"].([]any)
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}
