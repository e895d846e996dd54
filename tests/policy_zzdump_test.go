package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/aurigraph/infra/internal/mockrun"
	"github.com/aurigraph/infra/internal/stackfile"
	"github.com/aurigraph/infra/stacks"
)

func TestZZDump(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip()
	}
	s, err := stackfile.Load("..", os.Getenv("DUMP"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mockrun.RunStack(stacks.Run, s.WithPlaceholders())
	if err != nil {
		t.Log(err)
	}
	for _, r := range res.Resources {
		fmt.Printf("%s parent=%s provider=%s\n  %v\n", r.URN, r.Parent, r.Provider, r.Inputs)
	}
}
