//go:build integration

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurigraph/infra/internal/diagram"
	"github.com/aurigraph/infra/tests/harness"
)

// The committed SVG is exactly Graphviz's rendering of the committed .dot
// (Graphviz's output is byte-stable for one version: the one .ci/install-deps
// installs), so nobody can hand-edit the picture.
func TestIntegrationDiagramSVGIsDotRendering(t *testing.T) {
	_, err := exec.LookPath("dot")
	require.NoError(t, err, diagram.InstallHint)
	root := harness.RepoRoot(t)
	for _, stack := range diagramStacks {
		t.Run(stack, func(t *testing.T) {
			files := diagram.Files(filepath.Join(root, "docs"), stack)
			src, err := os.ReadFile(files.DOT)
			require.NoError(t, err)
			want, err := diagram.RenderSVG(string(src), files.DOTName())
			require.NoError(t, err)
			got, err := os.ReadFile(files.SVG)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "%s is not dot's rendering of %s: run `make diagram`", files.SVG, files.DOTName())
		})
	}
}
