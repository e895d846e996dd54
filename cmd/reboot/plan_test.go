package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	offline "github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/stacks"
)

func config(t *testing.T, stack string) *stacks.Config {
	t.Helper()
	c, err := offline.Config("../..", stack)
	require.NoError(t, err)
	return c
}

func names(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Host.Name)
	}
	return out
}

// downLines are the servers a configuration marks down.
func downLines(conf string) []string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasSuffix(line, " down;") {
			out = append(out, strings.Fields(line)[1])
		}
	}
	return out
}

func TestPlanCoversEveryHostInInventoryOrderAndDrainsEachReplicaOnItsHost(t *testing.T) {
	c := config(t, "prod")
	p, err := NewPlan(c, nil, false)
	require.NoError(t, err)
	var inventory []string
	for _, h := range c.Hosts {
		inventory = append(inventory, h.Name)
	}
	assert.Equal(t, inventory, names(p.Targets))
	assert.Equal(t, "prod-edge-01", p.Gateway.Name)
	assert.Equal(t, "/srv/aurigraph/nginx", p.GatewayDir)
	assert.Equal(t, "/srv/aurigraph/.staging", p.StagingDir)
	assert.Empty(t, downLines(p.Undrained), "what `pulumi up` installs drains nothing")

	drainedBy := map[string]string{}
	for _, tg := range p.Targets {
		assert.False(t, tg.Listed)
		if !strings.HasPrefix(tg.Host.Name, "prod-app-") {
			assert.Empty(t, tg.Drain, "%s runs no replica", tg.Host.Name)
			assert.Empty(t, tg.Drained)
			continue
		}
		require.NotEmpty(t, tg.Drain, tg.Host.Name)
		assert.ElementsMatch(t, tg.Drain, downLines(tg.Drained), "%s: exactly its servers are down", tg.Host.Name)
		assert.Equal(t, p.Undrained, strings.ReplaceAll(tg.Drained, " down;", ";"), "nothing else changes")
		for _, s := range tg.Drain {
			assert.Empty(t, drainedBy[s], "%s drained by two hosts", s)
			drainedBy[s] = tg.Host.Name
		}
	}
	// Every replica's REST and gRPC server is drained with its own host.
	place := stacks.Place(c)
	require.Len(t, drainedBy, 2*len(place.Replicas))
	for _, r := range place.Replicas {
		assert.Equal(t, r.Host, drainedBy[r.Name+":9003"], r.Name)
		assert.Equal(t, r.Host, drainedBy[r.Name+":9004"], r.Name)
	}

	byName := map[string]Target{}
	for _, tg := range p.Targets {
		byName[tg.Host.Name] = tg
	}
	assert.Contains(t, byName["prod-edge-01"].Refused, "runs the gateway")
	assert.Contains(t, byName["prod-data-01"].Services, stacks.Postgres)
	assert.Empty(t, byName["prod-data-01"].Refused, "unavailable services are reported, not refused")
	assert.Empty(t, byName["prod-app-01"].Refused)
}

func TestListedHostsGoInInventoryOrder(t *testing.T) {
	c := config(t, "prod")
	p, err := NewPlan(c, []string{"prod-app-03", "prod-app-01"}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"prod-app-01", "prod-app-03"}, names(p.Targets))
	for _, tg := range p.Targets {
		assert.True(t, tg.Listed)
	}

	_, err = NewPlan(c, []string{"prod-app-01", "prod-app-99", "prod-edge-01"}, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prod-app-99 is not a host of stack prod")
	assert.Contains(t, err.Error(), "prod-edge-01 runs the gateway")

	p, err = NewPlan(c, []string{"prod-edge-01"}, true)
	require.NoError(t, err, "-allow-outage reboots the gateway's host too")
	assert.Equal(t, []string{"prod-edge-01"}, names(p.Targets))
}

// With a single application host, its reboot takes every replica away: it
// is not drained (that would leave no server) but refused unless allowed.
func TestAHostWithEveryReplicaOfASlotIsNotDrainedButRefused(t *testing.T) {
	c := config(t, "prod")
	var hosts []stacks.Host
	for _, h := range c.Hosts {
		if !h.HasRole(stacks.RoleApp) || h.Name == "prod-app-01" {
			hosts = append(hosts, h)
		}
	}
	c.Hosts = hosts
	p, err := NewPlan(c, nil, false)
	require.NoError(t, err)
	app := p.Targets[len(p.Targets)-1]
	require.Equal(t, "prod-app-01", app.Host.Name)
	assert.Contains(t, app.Refused, "prod-app-01 cannot be drained")
	assert.Contains(t, app.Refused, "leaves upstream app_blue (weight 100) with no server")
	assert.Empty(t, app.Drained)

	_, err = NewPlan(c, []string{"prod-app-01"}, false)
	assert.ErrorContains(t, err, "prod-app-01 cannot be drained")
	p, err = NewPlan(c, []string{"prod-app-01"}, true)
	require.NoError(t, err)
	assert.Empty(t, p.Targets[0].Refused)
	assert.Empty(t, p.Targets[0].Drained, "rebooted without draining")
}
