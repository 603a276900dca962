package ops

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
)

// Target says what to look at: Sentinels to ask, data nodes known up
// front (vigil up knows them; otherwise they are discovered through the
// Sentinels), and credentials.
type Target struct {
	MasterName       string
	Sentinels        []Member
	Nodes            []Member
	Password         string // data nodes
	SentinelPassword string
	Timeout          time.Duration // per connection and call
}

// Member is a named address.
type Member struct {
	Name string `json:"name"`
	Addr string `json:"address"`
}

// NodeStatus is one data node as seen directly (INFO replication) and by
// the Sentinels.
type NodeStatus struct {
	Name          string `json:"name"`
	Addr          string `json:"address"`
	Reachable     bool   `json:"reachable"`
	Role          string `json:"role"`              // master, replica, "" when unreachable
	Follows       string `json:"follows,omitempty"` // replica: its master's address
	Link          string `json:"link,omitempty"`    // replica: up/down (master_link_status)
	Offset        int64  `json:"offset"`
	LagBytes      *int64 `json:"lag_bytes,omitempty"`   // master offset - replica offset
	LagSeconds    *int64 `json:"lag_seconds,omitempty"` // master's view of the last ack
	Priority      *int64 `json:"priority,omitempty"`    // replica-priority
	Replicas      int    `json:"connected_replicas,omitempty"`
	SentinelFlags string `json:"sentinel_flags,omitempty"` // first answering Sentinel's flags
	Error         string `json:"error,omitempty"`

	slaves map[string]slaveLine // master: INFO's slaveN lines by address
}

// SentinelStatus is one Sentinel's view.
type SentinelStatus struct {
	Name           string `json:"name"`
	Addr           string `json:"address"`
	Reachable      bool   `json:"reachable"`
	Master         string `json:"master,omitempty"` // GET-MASTER-ADDR-BY-NAME
	MasterFlags    string `json:"master_flags,omitempty"`
	ConfigEpoch    int64  `json:"config_epoch"`
	LeaderEpoch    int64  `json:"leader_epoch"` // highest voted-leader-epoch among its peers (Sentinel has no command for current-epoch)
	Quorum         int64  `json:"quorum"`
	OtherSentinels int64  `json:"other_sentinels"`
	KnownReplicas  int64  `json:"known_replicas"`
	CKQuorumOK     bool   `json:"ckquorum_ok"`
	CKQuorum       string `json:"ckquorum,omitempty"`
	Error          string `json:"error,omitempty"`

	replicas []map[string]string
}

// Snapshot is `vigil status` at one moment.
type Snapshot struct {
	Time       time.Time        `json:"time"`
	MasterName string           `json:"master_name"`
	Master     string           `json:"master,omitempty"` // what most Sentinels say
	Agree      bool             `json:"sentinels_agree"`  // every reachable Sentinel names Master
	Agreeing   int              `json:"sentinels_agreeing"`
	Reachable  int              `json:"sentinels_reachable"`
	Nodes      []NodeStatus     `json:"nodes"`
	Sentinels  []SentinelStatus `json:"sentinels"`
	Problems   []string         `json:"problems"`
}

// Collect asks every Sentinel and data node, concurrently.
func Collect(ctx context.Context, t Target) *Snapshot {
	if t.Timeout == 0 {
		t.Timeout = time.Second
	}
	s := &Snapshot{Time: time.Now(), MasterName: t.MasterName, Problems: []string{}}
	s.Sentinels = make([]SentinelStatus, len(t.Sentinels))
	var wg sync.WaitGroup
	for i, m := range t.Sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Sentinels[i] = querySentinel(m, t)
		}()
	}
	wg.Wait()

	// The master most Sentinels name.
	votes := map[string]int{}
	for _, ss := range s.Sentinels {
		if ss.Reachable {
			s.Reachable++
			if ss.Master != "" {
				votes[ss.Master]++
			}
		}
	}
	for addr, n := range votes {
		if n > s.Agreeing || (n == s.Agreeing && addr < s.Master) {
			s.Master, s.Agreeing = addr, n
		}
	}
	s.Agree = s.Reachable > 0 && s.Agreeing == s.Reachable

	// Data nodes: the known ones, then the master and replicas the
	// Sentinels report.
	members := append([]Member(nil), t.Nodes...)
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Addr] = true
	}
	addNode := func(addr string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			members = append(members, Member{Name: addr, Addr: addr})
		}
	}
	addNode(s.Master)
	var extra []string
	for _, ss := range s.Sentinels {
		for _, r := range ss.replicas {
			extra = append(extra, net.JoinHostPort(r["ip"], r["port"]))
		}
	}
	sort.Strings(extra)
	for _, a := range extra {
		addNode(a)
	}
	s.Nodes = make([]NodeStatus, len(members))
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Nodes[i] = queryNode(m, t)
		}()
	}
	wg.Wait()
	s.derive()
	return s
}

func querySentinel(m Member, t Target) SentinelStatus {
	ss := SentinelStatus{Name: m.Name, Addr: m.Addr}
	c, err := dial(m.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		ss.Error = shortErr(err)
		return ss
	}
	defer c.Close()
	v, err := c.do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", t.MasterName)
	if err != nil {
		ss.Error = shortErr(err)
		return ss
	}
	ss.Reachable = true
	if e := v.Err(); e != nil {
		ss.Error = e.Error()
		return ss
	}
	if len(v.Elems) == 2 {
		ss.Master = net.JoinHostPort(string(v.Elems[0].Str), string(v.Elems[1].Str))
	}
	if v, err := c.do("SENTINEL", "MASTER", t.MasterName); err == nil && v.Err() == nil {
		f := fields(v)
		ss.MasterFlags = f["flags"]
		ss.ConfigEpoch = atoi64(f["config-epoch"])
		ss.Quorum = atoi64(f["quorum"])
		ss.OtherSentinels = atoi64(f["num-other-sentinels"])
		ss.KnownReplicas = atoi64(f["num-slaves"])
	}
	if v, err := c.do("SENTINEL", "CKQUORUM", t.MasterName); err == nil {
		ss.CKQuorumOK = v.Type != '-'
		ss.CKQuorum = string(v.Str)
	}
	if v, err := c.do("SENTINEL", "REPLICAS", t.MasterName); err == nil && v.Err() == nil {
		for _, e := range v.Elems {
			ss.replicas = append(ss.replicas, fields(e))
		}
	}
	if v, err := c.do("SENTINEL", "SENTINELS", t.MasterName); err == nil && v.Err() == nil {
		for _, e := range v.Elems {
			ss.LeaderEpoch = max(ss.LeaderEpoch, atoi64(fields(e)["voted-leader-epoch"]))
		}
	}
	return ss
}

type slaveLine struct {
	offset, lag int64
}

func queryNode(m Member, t Target) NodeStatus {
	n := NodeStatus{Name: m.Name, Addr: m.Addr}
	c, err := dial(m.Addr, t.Password, t.Timeout)
	if err != nil {
		n.Error = shortErr(err)
		return n
	}
	defer c.Close()
	info, err := c.do("INFO", "replication")
	if err != nil {
		n.Error = shortErr(err)
		return n
	}
	n.Reachable = true
	if e := info.Err(); e != nil {
		n.Error = e.Error()
		return n
	}
	f := parseInfo(string(info.Str))
	switch f["role"] {
	case "master":
		n.Role = "master"
		n.Offset = atoi64(f["master_repl_offset"])
		n.Replicas = int(atoi64(f["connected_slaves"]))
	case "slave":
		n.Role = "replica"
		n.Follows = net.JoinHostPort(f["master_host"], f["master_port"])
		n.Link = f["master_link_status"]
		n.Offset = atoi64(f["slave_repl_offset"])
		if p, ok := f["slave_priority"]; ok {
			v := atoi64(p)
			n.Priority = &v
		}
	default:
		n.Role = f["role"]
	}
	if n.Priority == nil {
		if v, err := c.do("CONFIG", "GET", "replica-priority"); err == nil && v.Err() == nil && len(v.Elems) == 2 {
			p := atoi64(valueText(v.Elems[1]))
			n.Priority = &p
		}
	}
	// The master's own view of each replica (offset and seconds since
	// the last ACK), keyed by replica address.
	if n.Role == "master" {
		slaves := map[string]slaveLine{}
		for k, v := range f {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "ip=") {
				kvs := kv(v)
				slaves[net.JoinHostPort(kvs["ip"], kvs["port"])] = slaveLine{atoi64(kvs["offset"]), atoi64(kvs["lag"])}
			}
		}
		n.slaves = slaves
	}
	return n
}

// derive fills lag and sentinel flags and lists problems.
func (s *Snapshot) derive() {
	byAddr := map[string]*NodeStatus{}
	for i := range s.Nodes {
		byAddr[s.Nodes[i].Addr] = &s.Nodes[i]
	}
	// Sentinel flags from the first reachable Sentinel that knows the node.
	for _, ss := range s.Sentinels {
		if !ss.Reachable {
			continue
		}
		if n := byAddr[ss.Master]; n != nil && n.SentinelFlags == "" {
			n.SentinelFlags = ss.MasterFlags
		}
		for _, r := range ss.replicas {
			if n := byAddr[net.JoinHostPort(r["ip"], r["port"])]; n != nil && n.SentinelFlags == "" {
				n.SentinelFlags = r["flags"]
				if n.Priority == nil {
					p, ok := r["replica-priority"]
					if !ok {
						p, ok = r["slave-priority"]
					}
					if ok {
						v := atoi64(p)
						n.Priority = &v
					}
				}
			}
		}
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Role != "replica" {
			continue
		}
		m := byAddr[n.Follows]
		if m == nil || !m.Reachable || m.Role != "master" {
			continue
		}
		lag := max(m.Offset-n.Offset, 0)
		n.LagBytes = &lag
		if sl, ok := m.slaves[n.Addr]; ok {
			l := sl.lag
			n.LagSeconds = &l
		}
	}
	p := func(format string, a ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, a...)) }
	for _, ss := range s.Sentinels {
		switch {
		case !ss.Reachable:
			p("Sentinel %s (%s) is down: %s", ss.Name, ss.Addr, ss.Error)
		case ss.Error != "":
			p("Sentinel %s: %s", ss.Name, ss.Error)
		case ss.Master == "":
			p("Sentinel %s does not know master %q", ss.Name, s.MasterName)
		case ss.Master != s.Master:
			p("Sentinel %s says the master is %s, the majority says %s", ss.Name, ss.Master, s.Master)
		}
		if ss.Reachable && ss.Error == "" && ss.Master != "" && !ss.CKQuorumOK {
			p("Sentinel %s CKQUORUM: %s", ss.Name, ss.CKQuorum)
		}
		// Sentinels find each other through hello messages on the
		// master's and replicas' __sentinel__:hello channel. One that
		// knows fewer peers than answer here is cut off from them (a
		// firewall on the Sentinel port, a copied myid) or has only
		// just started: it cannot take part in an election.
		if ss.Reachable && ss.Error == "" && ss.Master != "" && ss.OtherSentinels < int64(s.Reachable-1) {
			p("Sentinel %s knows %d other Sentinels, %d others answer here", ss.Name, ss.OtherSentinels, s.Reachable-1)
		}
	}
	if len(s.Sentinels) > 0 && s.Reachable == 0 {
		p("no Sentinel answered")
	}
	var masters []string
	for _, n := range s.Nodes {
		switch {
		case !n.Reachable:
			p("node %s (%s) is down: %s", n.Name, n.Addr, n.Error)
		case n.Error != "":
			p("node %s: %s", n.Name, n.Error)
		case n.Role == "master":
			masters = append(masters, n.Addr)
		case n.Role == "replica" && n.Link != "up":
			p("replica %s: link to %s is %s", n.Name, n.Follows, n.Link)
		case n.Role == "replica" && s.Master != "" && n.Follows != s.Master:
			p("replica %s follows %s, not the Sentinels' master %s", n.Name, n.Follows, s.Master)
		}
	}
	if len(masters) > 1 {
		p("%d nodes claim the master role: %s", len(masters), strings.Join(masters, ", "))
	}
	if s.Master != "" {
		if n := byAddr[s.Master]; n != nil && n.Reachable && n.Role != "master" {
			p("the Sentinels' master %s reports role %s", s.Master, n.Role)
		}
	}
}

func shortErr(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "i/o timeout"):
		return "timeout"
	case strings.Contains(s, "EOF"):
		return "connection closed"
	}
	return s
}

func fmtBytes(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

var _ = resp.Value{}
