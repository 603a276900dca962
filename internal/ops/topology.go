package ops

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Topology is a deployment as `vigil plan` reads it. The file format is the
// YAML subset in yaml.go (or JSON); keys mirror Redis's directive names:
//
//	master-name: mymaster            # sentinel monitor <name>
//	quorum: 2
//	down-after-milliseconds: 5000
//	failover-timeout: 60000
//	parallel-syncs: 1
//	redis-port: 6379                 # data nodes
//	sentinel-port: 26379
//	sentinel-auth: false             # also password-protect Sentinels
//	app-servers: [192.168.1.20]      # may reach 6379 and 26379
//	hosts:
//	  - name: redis-master
//	    address: 192.168.1.10       # private IP, written into configs
//	    role: master                # master | replica | sentinel
//	    priority: 100               # optional replica-priority (data nodes)
//
// See examples/tutorial-topology.yaml.
type Topology struct {
	MasterName      string
	Quorum          int
	DownAfterMS     int
	FailoverTimeout int
	ParallelSyncs   int
	RedisPort       int
	SentinelPort    int
	SentinelAuth    bool
	AppServers      []string
	Hosts           []Host
}

// Host is one machine with one role.
type Host struct {
	Name     string
	Address  string
	Role     string // RoleMaster, RoleReplica, RoleSentinel
	Priority int    // replica-priority for data nodes
	line     int
}

// Roles.
const (
	RoleMaster   = "master"
	RoleReplica  = "replica"
	RoleSentinel = "sentinel"
)

// Port is the port the host's role listens on.
func (t *Topology) Port(h Host) int {
	if h.Role == RoleSentinel {
		return t.SentinelPort
	}
	return t.RedisPort
}

// Master returns the master host.
func (t *Topology) Master() Host {
	for _, h := range t.Hosts {
		if h.Role == RoleMaster {
			return h
		}
	}
	return Host{}
}

// ByRole returns the hosts with role r, in file order.
func (t *Topology) ByRole(r string) []Host {
	var out []Host
	for _, h := range t.Hosts {
		if h.Role == r {
			out = append(out, h)
		}
	}
	return out
}

// DataNodes returns master and replicas.
func (t *Topology) DataNodes() []Host {
	return append(t.ByRole(RoleMaster), t.ByRole(RoleReplica)...)
}

// TopologyError lists every problem found, one per line.
type TopologyError struct {
	File     string
	Problems []string
}

func (e *TopologyError) Error() string {
	if len(e.Problems) == 1 {
		return e.File + ": " + e.Problems[0]
	}
	return fmt.Sprintf("%s: %d problems: %s", e.File, len(e.Problems), strings.Join(e.Problems, "; "))
}

// LoadTopology reads and validates a topology file. Warnings (valid but
// not recommended) are returned separately.
func LoadTopology(path string) (*Topology, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseTopology(path, string(data))
}

var topKeys = []string{"master-name", "quorum", "down-after-milliseconds", "failover-timeout",
	"parallel-syncs", "redis-port", "sentinel-port", "sentinel-auth", "app-servers", "hosts"}
var hostKeys = []string{"name", "address", "role", "roles", "priority"}

// ParseTopology parses and validates a topology; name is used in errors.
func ParseTopology(name, data string) (*Topology, []string, error) {
	root, err := parseYAML(data)
	if err != nil {
		return nil, nil, &TopologyError{name, []string{err.Error()}}
	}
	d := &decoder{}
	t := d.topology(root)
	if len(d.problems) == 0 {
		d.validate(t)
	}
	if len(d.problems) > 0 {
		return nil, d.warnings, &TopologyError{name, d.problems}
	}
	return t, d.warnings, nil
}

type decoder struct {
	problems []string
	warnings []string
}

func (d *decoder) errf(line int, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	d.problems = append(d.problems, msg)
}

func (d *decoder) checkKeys(n *node, known []string, where string) {
	for _, k := range n.keys {
		ok := false
		for _, kk := range known {
			ok = ok || k == kk
		}
		if !ok {
			d.errf(n.m[k].line, "unknown key %q in %s (known: %s)", k, where, strings.Join(known, ", "))
		}
	}
}

func (d *decoder) str(n *node, key, def string) (string, int) {
	v, ok := n.m[key]
	if !ok || v.kind == nullNode {
		return def, n.line
	}
	if v.kind != scalarNode {
		d.errf(v.line, "%s must be a single value", key)
		return def, v.line
	}
	return v.value, v.line
}

func (d *decoder) num(n *node, key string, def, lo, hi int) int {
	s, line := d.str(n, key, "")
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		d.errf(line, "%s must be an integer between %d and %d, got %q", key, lo, hi, s)
		return def
	}
	return v
}

func (d *decoder) topology(root *node) *Topology {
	t := &Topology{}
	if root.kind != mapNode {
		d.errf(root.line, "the topology must be a mapping of keys (master-name, quorum, hosts, ...)")
		return t
	}
	d.checkKeys(root, topKeys, "the topology")
	t.MasterName, _ = d.str(root, "master-name", "mymaster")
	t.Quorum = d.num(root, "quorum", 0, 1, 1000)
	t.DownAfterMS = d.num(root, "down-after-milliseconds", 5000, 100, 3600000)
	t.FailoverTimeout = d.num(root, "failover-timeout", 60000, 1000, 86400000)
	t.ParallelSyncs = d.num(root, "parallel-syncs", 1, 1, 1000)
	t.RedisPort = d.num(root, "redis-port", 6379, 1, 65535)
	t.SentinelPort = d.num(root, "sentinel-port", 26379, 1, 65535)
	if s, line := d.str(root, "sentinel-auth", "false"); s == "true" || s == "yes" {
		t.SentinelAuth = true
	} else if s != "false" && s != "no" {
		d.errf(line, "sentinel-auth must be true or false, got %q", s)
	}
	if a, ok := root.m["app-servers"]; ok && a.kind != nullNode {
		if a.kind != seqNode {
			d.errf(a.line, "app-servers must be a list of addresses")
		}
		for _, it := range a.items {
			if it.kind != scalarNode {
				d.errf(it.line, "app-servers entries must be addresses")
				continue
			}
			t.AppServers = append(t.AppServers, it.value)
		}
	}
	hosts, ok := root.m["hosts"]
	if !ok || hosts.kind == nullNode {
		d.errf(0, "no hosts: list the master, its replicas and the Sentinels under 'hosts:'")
		return t
	}
	if hosts.kind != seqNode {
		d.errf(hosts.line, "hosts must be a list of '- name: ... address: ... role: ...' entries")
		return t
	}
	for i, hn := range hosts.items {
		if hn.kind != mapNode {
			d.errf(hn.line, "host #%d must be a mapping with name, address and role", i+1)
			continue
		}
		d.checkKeys(hn, hostKeys, "a host")
		h := Host{line: hn.line}
		h.Name, _ = d.str(hn, "name", "")
		h.Address, _ = d.str(hn, "address", "")
		var roles []string
		for _, key := range []string{"role", "roles"} {
			rn, ok := hn.m[key]
			if !ok {
				continue
			}
			switch rn.kind {
			case scalarNode:
				roles = append(roles, rn.value)
			case seqNode:
				for _, it := range rn.items {
					roles = append(roles, it.value)
				}
			}
		}
		label := h.Name
		if label == "" {
			label = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case len(roles) == 0:
			d.errf(hn.line, "host %s has no role (want one of master, replica, sentinel)", label)
		case len(roles) > 1:
			d.errf(hn.line, "host %s has %d roles (%s); put each role on its own host so losing one machine costs at most one vote or one copy of the data", label, len(roles), strings.Join(roles, ", "))
		default:
			h.Role = roles[0]
		}
		h.Priority = d.num(hn, "priority", 100, 0, 1<<30)
		t.Hosts = append(t.Hosts, h)
	}
	return t
}

var (
	hostnameRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	masterNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

func (d *decoder) validate(t *Topology) {
	if !masterNameRE.MatchString(t.MasterName) {
		d.errf(0, "master-name %q must be letters, digits, '.', '_' or '-'", t.MasterName)
	}
	if t.RedisPort == t.SentinelPort {
		d.errf(0, "duplicate port %d: redis-port and sentinel-port must differ", t.RedisPort)
	}
	names := map[string]Host{}
	addrs := map[string]Host{}
	for _, h := range t.Hosts {
		if !hostnameRE.MatchString(h.Name) {
			d.errf(h.line, "host name %q is not a valid hostname (letters, digits, '-')", h.Name)
		} else if o, dup := names[h.Name]; dup {
			d.errf(h.line, "duplicate host name %q (also on line %d)", h.Name, o.line)
		} else {
			names[h.Name] = h
		}
		ip := net.ParseIP(h.Address)
		switch {
		case h.Address == "":
			d.errf(h.line, "host %s has no address (its private IP)", h.Name)
		case ip == nil:
			d.errf(h.line, "host %s: address %q is not an IP address (use the private IP)", h.Name, h.Address)
		default:
			key := ip.String()
			if o, dup := addrs[key]; dup {
				if o.Role != h.Role {
					d.errf(h.line, "hosts %s and %s share address %s: that puts two roles (%s, %s) on one host", o.Name, h.Name, key, o.Role, h.Role)
				} else {
					d.errf(h.line, "duplicate address %s (hosts %s and %s)", key, o.Name, h.Name)
				}
			} else {
				addrs[key] = h
			}
			if ip.IsLoopback() || ip.IsUnspecified() {
				d.errf(h.line, "host %s: address %s is not reachable from other hosts; use its private IP", h.Name, key)
			}
		}
		switch h.Role {
		case RoleMaster, RoleReplica, RoleSentinel, "":
		default:
			hint := ""
			if h.Role == "slave" || h.Role == "primary" {
				hint = fmt.Sprintf(" (did you mean %s?)", map[string]string{"slave": "replica", "primary": "master"}[h.Role])
			}
			d.errf(h.line, "host %s: unknown role %q%s; want master, replica or sentinel", h.Name, h.Role, hint)
		}
	}
	seenApp := map[string]bool{}
	for _, a := range t.AppServers {
		ip := net.ParseIP(a)
		if ip == nil {
			d.errf(0, "app-servers: %q is not an IP address", a)
			continue
		}
		if seenApp[ip.String()] {
			d.errf(0, "app-servers: duplicate address %s", a)
		}
		seenApp[ip.String()] = true
	}
	masters, replicas, sentinels := len(t.ByRole(RoleMaster)), len(t.ByRole(RoleReplica)), len(t.ByRole(RoleSentinel))
	switch {
	case masters == 0:
		d.errf(0, "missing master: exactly one host needs 'role: master'")
	case masters > 1:
		var n []string
		for _, h := range t.ByRole(RoleMaster) {
			n = append(n, h.Name)
		}
		d.errf(0, "%d masters (%s): exactly one host is the initial master; make the others replicas", masters, strings.Join(n, ", "))
	}
	switch {
	case replicas == 0:
		d.errf(0, "no replica: Sentinel needs at least one replica to fail over to")
	case replicas == 1:
		d.warnings = append(d.warnings, "only one replica: after a failover nothing is left to take over until the old master returns; the tutorial recommends at least two in production")
	}
	switch {
	case sentinels == 0:
		d.errf(0, "no Sentinels: add at least three hosts with 'role: sentinel'")
	case sentinels%2 == 0:
		d.errf(0, "even number of Sentinels (%d): a network split can leave no majority; use an odd number (%d or %d)", sentinels, sentinels-1, sentinels+1)
	case sentinels < 3:
		d.errf(0, "only %d Sentinel: a single Sentinel cannot survive its own failure; use at least 3", sentinels)
	}
	if sentinels > 0 {
		majority := sentinels/2 + 1
		switch {
		case t.Quorum == 0:
			d.errf(0, "quorum is missing (with %d Sentinels use %d)", sentinels, majority)
		case t.Quorum > sentinels:
			d.errf(0, "quorum %d is above the number of Sentinels (%d): no failover could ever start", t.Quorum, sentinels)
		case t.Quorum < majority:
			d.errf(0, "quorum %d is below a majority of the %d Sentinels (%d): a minority could flag the master down", t.Quorum, sentinels, majority)
		}
	}
	if t.FailoverTimeout <= t.DownAfterMS {
		d.warnings = append(d.warnings, fmt.Sprintf("failover-timeout (%d ms) is not longer than down-after-milliseconds (%d ms)", t.FailoverTimeout, t.DownAfterMS))
	}
}

// sortedHosts returns hosts ordered master, replicas, sentinels (file order
// within a role).
func (t *Topology) sortedHosts() []Host {
	rank := map[string]int{RoleMaster: 0, RoleReplica: 1, RoleSentinel: 2}
	hs := append([]Host(nil), t.Hosts...)
	sort.SliceStable(hs, func(i, j int) bool { return rank[hs[i].Role] < rank[hs[j].Role] })
	return hs
}
