package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPinnedImage(t *testing.T) {
	for ref, pinned := range map[string]bool{
		"postgres:15.10-alpine":                  true,
		"docker.elastic.co/kibana/kibana:8.11.0": true,
		"registry.example.com:5000/app:1.2":      true,
		"aurigraph/v11@sha256:" + sha:            true,
		"aurigraph/v11":                          false,
		"aurigraph/v11:latest":                   false,
		"registry.example.com:5000/app":          false,
		"nginx:":                                 false,
	} {
		assert.Equal(t, pinned, PinnedImage(ref), ref)
	}
}

const sha = "4d2f0c0b5b7e1f3a9c8d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"

func TestWeakCredentials(t *testing.T) {
	for _, weak := range []string{"", "changeme", "admin", "myroot", "password", "  Password  ", "short-1"} {
		assert.True(t, IsWeakCredential(weak), "%q must be refused", weak)
	}
	assert.False(t, IsWeakCredential("c0rrect-h0rse-battery-staple"))
}

func testConfig() *Config {
	c := &Config{
		Environment: "prod",
		Hosts: []Host{
			{Name: "edge", Roles: []string{RoleManager, RoleEdge, RoleData, RoleMonitoring, RoleLogging}},
			{Name: "app-1", Roles: []string{RoleApp}},
			{Name: "app-2", Roles: []string{RoleApp}},
			{Name: "app-3", Roles: []string{RoleApp}},
		},
		Tiers: Tiers{
			Validator: Tier{Replicas: 5},
			Business:  Tier{Replicas: 15, Groups: []int{8, 7}},
			Slim:      Tier{Replicas: 5},
		},
		Release: Release{Blue: Slot{Image: "aurigraph/v11:1.0.0", Weight: 100}},
	}
	applyDefaults(c)
	return c
}

func TestPlaceSpreadsTiersAndGroups(t *testing.T) {
	c := testConfig()
	p := Place(c)
	require.Len(t, p.Replicas, 25)
	counts := map[string]int{}
	groups := map[int]int{}
	perHost := map[string]int{}
	for _, r := range p.Replicas {
		counts[r.Tier]++
		if r.Tier == TierBusiness {
			groups[r.Group]++
		}
		perHost[r.Host]++
		assert.Equal(t, "blue", r.Slot)
		assert.Equal(t, "aurigraph/v11:1.0.0", r.Image)
	}
	assert.Equal(t, map[string]int{TierValidator: 5, TierBusiness: 15, TierSlim: 5}, counts)
	assert.Equal(t, map[int]int{1: 8, 2: 7}, groups)
	assert.Len(t, perHost, 3, "replicas spread over every app host")
	for _, svc := range Services {
		assert.Equal(t, "edge", p.Services[svc], svc)
	}
}

func TestScalingOneTierMovesNoOtherReplica(t *testing.T) {
	c := testConfig()
	before := Place(c)
	c.Tiers.Business = Tier{Replicas: 16, Groups: []int{8, 8}}
	after := Place(c)
	hosts := map[string]string{}
	for _, r := range after.Replicas {
		hosts[r.Name] = r.Host
	}
	for _, r := range before.Replicas {
		assert.Equal(t, r.Host, hosts[r.Name], "%s moved", r.Name)
	}
	assert.Len(t, after.Replicas, 26)
}

func TestGreenSlotMirrorsTiersOnlyWithAnImage(t *testing.T) {
	c := testConfig()
	c.Release.Green = Slot{Image: "aurigraph/v11:1.1.0", Weight: 5}
	c.Release.Blue.Weight = 95
	p := Place(c)
	green := 0
	for _, r := range p.Replicas {
		if r.Slot == "green" {
			green++
			assert.Equal(t, "aurigraph/v11:1.1.0", r.Image)
		}
	}
	assert.Equal(t, 25, green)
}

func TestTierImageOverridesBlueSlot(t *testing.T) {
	c := testConfig()
	c.Tiers.Slim.Image = "aurigraph/v11:1.0.1"
	for _, r := range Place(c).Replicas {
		want := "aurigraph/v11:1.0.0"
		if r.Tier == TierSlim {
			want = "aurigraph/v11:1.0.1"
		}
		assert.Equal(t, want, r.Image, r.Name)
	}
}

func TestProblemsListEveryProblemSorted(t *testing.T) {
	var ps Problems
	ps.Add("tiers.slim.replicas", "is 0", "run at least 1 replica")
	ps.Add("hosts[0].address", `"x" is not an IP address`, "set it")
	err := ps.Err("prod")
	require.Error(t, err)
	assert.Equal(t, "stack \"prod\" has 2 configuration problem(s):\n"+
		"  - aurigraph:hosts[0].address \"x\" is not an IP address; set it\n"+
		"  - aurigraph:tiers.slim.replicas is 0; run at least 1 replica", err.Error())
	assert.NoError(t, Problems(nil).Err("prod"))
}

func TestStrictForms(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjDoPUvC43u5PWXOIa8010fhjT38gSORY0nRUjCBLh+"
	for v, ok := range map[string]bool{
		key:                                    true,
		key + " root@prod-edge-01":             true,
		key + "\n" + key:                       false, // a second line
		key + "\n":                             false,
		"restrict " + key:                      false, // an authorized_keys option
		key + " a comment with words":          false,
		key + " $(id)":                         false,
		"ssh-rsa " + key[len("ssh-ed25519 "):]: false, // type and key disagree
		"":                                     false,
	} {
		var ps Problems
		checkHostKey(&ps, "k", v, "fix")
		assert.Equal(t, ok, len(ps) == 0, "%q", v)
	}
	for v, ok := range map[string]bool{
		"203.0.113.10": true, "2001:db8::1": true, "fe80::1%eth0": false, "::ffff:203.0.113.10": false,
		"203.0.113.010": false, "203.0.113.10 ": false, "host.example.com": false,
	} {
		_, err := parseAddr(v)
		assert.Equal(t, ok, err == nil, "%q", v)
	}
	for v, ok := range map[string]bool{
		"/srv/aurigraph": true, "/data/aurigraph-1": true, "/var/lib/aurigraph": true,
		"/": false, "/tmp": false, "/tmp/x": false, "/var/tmp/x": false, "/etc": false, "/proc/x": false,
		"/sys": false, "/dev/shm": false, "/run/x": false, "/srv": false, "/srv/": false, "/srv//a": false,
		"/srv/../etc": false, "/srv/./a": false, "srv/a": false, "/srv/a b": false, "/srv/a$b": false,
	} {
		var ps Problems
		checkDataPath(&ps, "p", v)
		assert.Equal(t, ok, len(ps) == 0, "%q: %v", v, ps)
	}
	for v, ok := range map[string]bool{
		"deploy": true, "_ci": true, "ops-2": true, "Deploy": false, "1ops": false, "de ploy": false,
		"deploy;id": false, "-oProxyCommand=x": false, "": false, "abcdefghijklmnopqrstuvwxyz0123456": false,
	} {
		var ps Problems
		checkUser(&ps, "u", v)
		assert.Equal(t, ok, len(ps) == 0, "%q", v)
	}
	for v, ok := range map[string]bool{
		"bastion.example.net": true, "jump-1": true, "203.0.113.5": true, "-oProxyCommand=x": false,
		"a..b": false, "a_b.example": false, "": false, "x.example.com;id": false,
	} {
		assert.Equal(t, ok, isHostName(v), "%q", v)
	}
}

// A rolling release's group-by-group phases: imageGroups needs the tier's
// image and at most its groups; the groups beyond it keep blue's image.
func TestTierImageGroups(t *testing.T) {
	c := testConfig()
	c.Tiers.Business = Tier{Replicas: 15, Groups: []int{8, 7}, ImageGroups: 1}
	var ps Problems
	validateTiers(c, &ps)
	require.Len(t, ps, 1)
	assert.Equal(t, "tiers.business.imageGroups", ps[0].Key)
	assert.Contains(t, ps[0].Message, "tiers.business.image is not set")

	c.Tiers.Business.Image, c.Tiers.Business.ImageGroups = "aurigraph/v11:2.0.0", 3
	ps = nil
	validateTiers(c, &ps)
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Message, "the tier has 2 rolling groups")

	c.Tiers.Business.ImageGroups = 1
	ps = nil
	validateTiers(c, &ps)
	assert.Empty(t, ps)
	assert.Equal(t, "aurigraph/v11:2.0.0", c.TierImage(TierBusiness, 1))
	assert.Equal(t, c.Release.Blue.Image, c.TierImage(TierBusiness, 2))
	c.Tiers.Business.ImageGroups = 0
	assert.Equal(t, "aurigraph/v11:2.0.0", c.TierImage(TierBusiness, 2), "0: every group")
}
