package ops

import (
	"strings"
	"testing"
)

const validTopo = `
master-name: mymaster
quorum: 2
hosts:
  - name: m
    address: 10.0.0.1
    role: master
  - name: r1
    address: 10.0.0.2
    role: replica
  - name: r2
    address: 10.0.0.3
    role: replica
  - name: s1
    address: 10.0.0.4
    role: sentinel
  - name: s2
    address: 10.0.0.5
    role: sentinel
  - name: s3
    address: 10.0.0.6
    role: sentinel
`

func TestTopologyValid(t *testing.T) {
	top, warn, err := ParseTopology("t.yaml", validTopo)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 0 {
		t.Errorf("warnings: %v", warn)
	}
	if top.RedisPort != 6379 || top.SentinelPort != 26379 || top.DownAfterMS != 5000 || top.FailoverTimeout != 60000 || top.ParallelSyncs != 1 {
		t.Errorf("defaults: %+v", top)
	}
	if top.Master().Name != "m" || len(top.ByRole(RoleReplica)) != 2 || len(top.ByRole(RoleSentinel)) != 3 {
		t.Errorf("roles: %+v", top.Hosts)
	}
}

func TestTopologyExampleHasSingleReplicaWarning(t *testing.T) {
	top, warn, err := LoadTopology("../../examples/tutorial-topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "only one replica") {
		t.Errorf("warnings = %q, want the single-replica warning", warn)
	}
	if top.Master().Address != "192.168.1.10" || top.Quorum != 2 || len(top.AppServers) != 1 {
		t.Errorf("%+v", top)
	}
}

// edit applies replacements to validTopo.
func edit(pairs ...string) string {
	return strings.NewReplacer(pairs...).Replace(validTopo)
}

func TestTopologyErrors(t *testing.T) {
	s4 := "    role: sentinel\n  - name: s4\n    address: 10.0.0.7\n    role: sentinel\n"
	cases := []struct{ name, src, want string }{
		{"even sentinels", strings.Replace(validTopo, "    role: sentinel\n", s4, 1), "even number of Sentinels (4)"},
		{"quorum above count", edit("quorum: 2", "quorum: 4"), "quorum 4 is above the number of Sentinels (3)"},
		{"quorum below majority", edit("quorum: 2", "quorum: 1"), "quorum 1 is below a majority of the 3 Sentinels (2)"},
		{"quorum missing", edit("quorum: 2\n", ""), "quorum is missing (with 3 Sentinels use 2)"},
		{"two roles", edit("    role: master", "    roles: [master, sentinel]"), "host m has 2 roles (master, sentinel)"},
		{"two roles by address", edit("address: 10.0.0.4", "address: 10.0.0.1"), "share address 10.0.0.1: that puts two roles (master, sentinel) on one host"},
		{"duplicate address", edit("address: 10.0.0.3", "address: 10.0.0.2"), "duplicate address 10.0.0.2 (hosts r1 and r2)"},
		{"duplicate name", edit("name: r2", "name: r1"), `duplicate host name "r1"`},
		{"duplicate ports", edit("quorum: 2", "quorum: 2\nredis-port: 7000\nsentinel-port: 7000"), "duplicate port 7000"},
		{"missing master", edit("role: master", "role: replica"), "missing master"},
		{"two masters", edit("    address: 10.0.0.3\n    role: replica", "    address: 10.0.0.3\n    role: master"), "2 masters (m, r2)"},
		{"unknown role", edit("    address: 10.0.0.3\n    role: replica", "    address: 10.0.0.3\n    role: slave"), `unknown role "slave" (did you mean replica?)`},
		{"no role", edit("    address: 10.0.0.3\n    role: replica\n", "    address: 10.0.0.3\n"), "host r2 has no role"},
		{"no replica", edit("role: replica", "role: sentinel", "quorum: 2", "quorum: 3"), "no replica"},
		{"unknown key", edit("quorum: 2", "qourum: 2"), `unknown key "qourum"`},
		{"bad address", edit("10.0.0.3", "redis-replica-2.example"), `address "redis-replica-2.example" is not an IP address`},
		{"loopback address", edit("10.0.0.3", "127.0.0.1"), "is not reachable from other hosts"},
		{"bad number", edit("quorum: 2", "quorum: two"), `quorum must be an integer between 1 and 1000, got "two"`},
		{"no hosts", "master-name: x\nquorum: 2\n", "no hosts"},
		{"one sentinel", edit("quorum: 2", "quorum: 1", "    role: sentinel\n  - name: s2\n    address: 10.0.0.5\n    role: sentinel\n  - name: s3\n    address: 10.0.0.6\n    role: sentinel\n", "    role: sentinel\n"), "only 1 Sentinel"},
		{"tab indentation", "hosts:\n\t- name: x\n", "line 2: tab used for indentation"},
		{"bad yaml", "hosts:\n  - name: a\n   address: b\n", "line 3: unexpected indentation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseTopology("t.yaml", c.src)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\n does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestTopologySingleReplicaIsWarningOnly(t *testing.T) {
	src := edit("  - name: r2\n    address: 10.0.0.3\n    role: replica\n", "")
	_, warn, err := ParseTopology("t.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "only one replica") {
		t.Errorf("warnings = %q", warn)
	}
}

func TestTopologyJSON(t *testing.T) {
	src := `{"master-name":"mymaster","quorum":2,"hosts":[
	 {"name":"m","address":"10.0.0.1","role":"master"},
	 {"name":"r","address":"10.0.0.2","role":"replica"},
	 {"name":"r2","address":"10.0.0.5","role":"replica"},
	 {"name":"s1","address":"10.0.0.3","role":"sentinel"},
	 {"name":"s2","address":"10.0.0.4","role":"sentinel"},
	 {"name":"s3","address":"10.0.0.6","role":"sentinel"}]}`
	top, _, err := ParseTopology("t.json", src)
	if err != nil {
		t.Fatal(err)
	}
	if top.Master().Address != "10.0.0.1" || top.Quorum != 2 {
		t.Errorf("%+v", top)
	}
}

func TestYAMLSubset(t *testing.T) {
	src := `---
# comment
a: 1   # trailing comment
b: "x # not a comment"
c: 'it''s'
d: [p, "q, r", s]
e:
- one
- two
f:
  g:
    - h: 1
      i: 2
    -
      h: 3
`
	n, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	if n.m["a"].value != "1" || n.m["b"].value != "x # not a comment" || n.m["c"].value != "it's" {
		t.Errorf("scalars: %q %q %q", n.m["a"].value, n.m["b"].value, n.m["c"].value)
	}
	if d := n.m["d"]; len(d.items) != 3 || d.items[1].value != "q, r" {
		t.Errorf("flow: %+v", d)
	}
	if e := n.m["e"]; len(e.items) != 2 || e.items[1].value != "two" {
		t.Errorf("same-indent list: %+v", e)
	}
	g := n.m["f"].m["g"]
	if len(g.items) != 2 || g.items[0].m["i"].value != "2" || g.items[1].m["h"].value != "3" {
		t.Errorf("nested: %+v", g)
	}
	for _, bad := range []string{"a: &x 1", "a: |\n  text", "a: {b: 1}", "a: 1\na: 2", "- a\nb: 1"} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
