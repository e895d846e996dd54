package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/diagram"
	"github.com/aurigraph/infra/internal/plan"
	"github.com/aurigraph/infra/tests/harness"
)

// diagramStacks are the stacks whose diagram docs/ARCHITECTURE.md shows.
var diagramStacks = []string{"prod", "staging"}

// diagramPlans holds one offline plan per stack, built as `make diagram`
// builds it (plan.Build on the committed stack files): the run is the slow part.
var diagramPlans = map[string]*plan.Plan{}

func diagramPlan(t *testing.T, root, stack string) *plan.Plan {
	t.Helper()
	if p, ok := diagramPlans[stack]; ok {
		return p
	}
	p, err := plan.Build(root, stack)
	require.NoError(t, err)
	diagramPlans[stack] = p
	return p
}

// The committed .dot is what the generator draws from the program now, and
// the committed SVG was rendered from that .dot: change a container, a host
// or an address and this fails until `make diagram` is run.
func TestDiagramIsCurrent(t *testing.T) {
	root := harness.RepoRoot(t)
	for _, stack := range diagramStacks {
		t.Run(stack, func(t *testing.T) {
			files := diagram.Files(filepath.Join(root, "docs"), stack)
			want := diagram.Source(diagramPlan(t, root, stack))
			got, err := os.ReadFile(files.DOT)
			require.NoError(t, err, "no committed diagram: run `make diagram`")
			require.Equal(t, want, string(got), "%s is stale: run `make diagram` and commit docs/", files.DOT)

			svg, err := os.ReadFile(files.SVG)
			require.NoError(t, err, "no committed SVG: run `make diagram`")
			name, hash, ok := diagram.SourceOf(svg)
			require.True(t, ok, "%s has no source comment: run `make diagram`", files.SVG)
			assert.Equal(t, files.DOTName(), name)
			assert.Equal(t, diagram.Hash(string(got)), hash, "%s was not rendered from the current %s: run `make diagram`", files.SVG, files.DOTName())
		})
	}
}

// Every host of the inventory is drawn, and every container of the plan is
// in exactly one box, on the host the plan puts it on.
func TestDiagramDrawsEveryHostAndContainer(t *testing.T) {
	root := harness.RepoRoot(t)
	for _, stack := range diagramStacks {
		t.Run(stack, func(t *testing.T) {
			p := diagramPlan(t, root, stack)
			g := diagram.Build(p)

			var hosts []string
			drawnOn := map[string]string{}
			for _, h := range g.Hosts {
				hosts = append(hosts, h.Name)
				for _, n := range h.Nodes {
					for _, m := range n.Members {
						_, twice := drawnOn[m]
						assert.False(t, twice, "%s drawn twice", m)
						drawnOn[m] = h.Name
					}
				}
			}
			assert.Equal(t, harness.HostNames(t, harness.Stack(t, stack)), hosts, "one cluster per host, inventory order, none for nothing")

			placed := map[string]string{}
			hostOf := p.ContainerHosts()
			for _, r := range p.Resources {
				if r.Type == plan.ContainerType {
					placed[r.Inputs["name"].(string)] = hostOf[r.URN]
				}
			}
			assert.Equal(t, placed, drawnOn)
			assert.NotEmpty(t, g.Edges)
		})
	}
}
