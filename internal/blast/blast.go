// Package blast measures the blast radius of a configuration change: it
// compares two mocked runs of the program resource by resource, the way the
// engine would decide between create, delete, update and same.
package blast

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/aurigraph/infra/internal/mockrun"
)

// Changes is what differs between two runs, each list a sorted set of URNs.
type Changes struct {
	Added   []string
	Removed []string
	Changed []string
	// Why says, for each changed URN, which inputs (or "provider", "parent") differ.
	Why map[string][]string
}

// Diff compares before and after by URN. A resource is changed when its
// inputs differ deeply (secret-wrapped values included: a value that becomes
// or stops being secret is a change), or its provider or parent differs.
// Dependencies are not compared: the engine does not update a resource
// whose only difference is its DependsOn list.
func Diff(before, after *mockrun.Result) Changes {
	c := Changes{Why: map[string][]string{}}
	old := index(before)
	cur := index(after)
	for urn, a := range cur {
		b, ok := old[urn]
		if !ok {
			c.Added = append(c.Added, urn)
			continue
		}
		if why := differences(b, a); len(why) > 0 {
			c.Changed = append(c.Changed, urn)
			c.Why[urn] = why
		}
	}
	for urn := range old {
		if _, ok := cur[urn]; !ok {
			c.Removed = append(c.Removed, urn)
		}
	}
	sort.Strings(c.Added)
	sort.Strings(c.Removed)
	sort.Strings(c.Changed)
	return c
}

func index(r *mockrun.Result) map[string]*mockrun.Resource {
	out := map[string]*mockrun.Resource{}
	if r == nil {
		return out
	}
	for i := range r.Resources {
		out[r.Resources[i].URN] = &r.Resources[i]
	}
	return out
}

// differences lists the inputs (sorted), then provider and parent, that differ.
func differences(b, a *mockrun.Resource) []string {
	var why []string
	keys := map[resource.PropertyKey]bool{}
	for k := range b.Inputs {
		keys[k] = true
	}
	for k := range a.Inputs {
		keys[k] = true
	}
	for k := range keys {
		if !equal(b.Inputs, a.Inputs, k) {
			why = append(why, string(k))
		}
	}
	sort.Strings(why)
	if b.Provider != a.Provider {
		why = append(why, "provider")
	}
	if b.Parent != a.Parent {
		why = append(why, "parent")
	}
	return why
}

// equal compares one key; an absent key equals a null one, as in the engine.
func equal(b, a resource.PropertyMap, k resource.PropertyKey) bool {
	bv, bok := b[k]
	av, aok := a[k]
	if !bok || !aok {
		return (!bok || !bv.HasValue()) && (!aok || !av.HasValue())
	}
	return bv.DeepEquals(av)
}

// Empty reports whether nothing differs.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// All is every touched URN, sorted.
func (c Changes) All() []string {
	all := append(append(append([]string{}, c.Added...), c.Removed...), c.Changed...)
	sort.Strings(all)
	return all
}

// String is a readable summary: counts, then each URN with a +, - or ~ mark
// and, for changes, the inputs that differ.
func (c Changes) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d removed, %d changed\n", len(c.Added), len(c.Removed), len(c.Changed))
	for _, u := range c.Added {
		fmt.Fprintf(&b, "  + %s\n", u)
	}
	for _, u := range c.Removed {
		fmt.Fprintf(&b, "  - %s\n", u)
	}
	for _, u := range c.Changed {
		fmt.Fprintf(&b, "  ~ %s (%s)\n", u, strings.Join(c.Why[u], ", "))
	}
	return b.String()
}
