//go:build integration

package tests

import (
	"testing"

	"github.com/aurigraph/infra/tests/harness"
)

// The 1,000-node stack on 100 app hosts validates, passes every mandatory
// policy, places every replica within capacity, and every replica is in the
// gateway's upstreams and Prometheus's targets exactly once. A few seconds
// on two cores, so it runs with the integration tests (make test).
func TestIntegrationScale1000NodesOn100Hosts(t *testing.T) {
	checkScaleStack(t, harness.ScaleStack(t, harness.Scale{Nodes: 1000, AppHosts: 100}))
}
