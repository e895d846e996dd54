package tests

import (
	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

func runRecording(s *stackfile.Stack) (*mockrun.Result, error) {
	return mockrun.RunStack(stacks.Run, s)
}
