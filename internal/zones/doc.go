package zones

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// DocFile is the generated matrix, relative to the project directory.
const DocFile = "docs/network-zones.md"

// Membership is which zones each role joins: the table's (Table), or one
// derived from a recorded run, so both render to the same document.
type Membership map[string][]Zone

// Table is the zone table as a Membership.
func Table() Membership {
	m := Membership{}
	for _, r := range Roles() {
		m[r], _ = Of(r)
	}
	return m
}

func (m Membership) shared(a, b string) []Zone {
	var out []Zone
	for _, z := range m[a] {
		if slices.Contains(m[b], z) {
			out = append(out, z)
		}
	}
	return out
}

func (m Membership) members(z Zone) []string {
	var out []string
	for _, r := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(m[r], z) {
			out = append(out, r)
		}
	}
	return out
}

// Markdown renders the membership as docs/network-zones.md, with the zone
// networks' names and subnets for the stack's network.name and
// network.subnet (the documented defaults).
func (m Membership) Markdown(base string, subnet netip.Prefix) ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Network trust zones\n\n")
	p("Generated from `internal/zones` by `go run ./cmd/configdocs`; do not edit. ")
	p("A test derives the same document from the mocked runs of both stacks.\n\n")
	p("Each zone is an encrypted, attachable overlay network with its own subnet inside `network.subnet`. ")
	p("A container joins only the zones its role lists, so two containers reach each other only over a zone both join; ")
	p("the policy rule `container-network-zones` refuses any other network, and the data stores (%s) on the edge zone. ", strings.Join(DataStores, ", "))
	p("A role is a container's name (`%s` label), or `aurigraph-v11` for every application replica. ", RoleLabel)
	p("Names and subnets are shown for network.name `%s` and network.subnet `%s`.\n\n", base, subnet)
	p("Host-level traffic is not on the zones: rsyslog ships to Logstash's published syslog port on the logging host, ")
	p("and Prometheus reaches the hosts' exporters at their cluster addresses.\n\n")

	p("## Zones\n\n| zone | network | subnet | members | carries |\n|---|---|---|---|---|\n")
	for _, info := range All {
		s, err := Subnet(subnet, info.Zone)
		if err != nil {
			return nil, err
		}
		p("| %s | `%s` | %s | %s | %s |\n", info.Zone, NetworkName(base, info.Zone), s, strings.Join(m.members(info.Zone), ", "), info.Purpose)
	}

	roles := slices.Sorted(maps.Keys(m))
	p("\n## Roles\n\n| role | zones |\n|---|---|\n")
	for _, r := range roles {
		names := make([]string, len(m[r]))
		for i, z := range m[r] {
			names[i] = string(z)
		}
		p("| %s | %s |\n", r, strings.Join(names, ", "))
	}

	p("\n## Who can reach whom\n\nThe zones a row's role shares with a column's; empty: neither can reach the other.\n\n|  |")
	for _, r := range roles {
		p(" %s |", r)
	}
	p("\n|---|%s\n", strings.Repeat("---|", len(roles)))
	for _, a := range roles {
		p("| **%s** |", a)
		for _, c := range roles {
			names := []string{}
			if a != c {
				for _, z := range m.shared(a, c) {
					names = append(names, string(z))
				}
			}
			p(" %s |", strings.Join(names, ", "))
		}
		p("\n")
	}
	return b.Bytes(), nil
}
