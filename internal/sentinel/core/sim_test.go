package core

// Seeded simulation of N sentinels running the core against modelled Redis
// instances over a faulty network. See TestSimulation.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	flagSeed      = flag.Int64("seed", -1, "replay a single simulation seed (prints its trace with -v)")
	flagSchedules = flag.Int("schedules", 10000, "number of random simulation schedules")
	flagSimBase   = flag.Int64("simbase", 1, "first seed of the random schedules")
)

// ---------------------------------------------------------------------------
// event queue

type simEv struct {
	at  int64
	seq uint64
	fn  func()
}

type simQueue []simEv

func (q *simQueue) less(i, j int) bool {
	a, b := (*q)[i], (*q)[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (q *simQueue) push(e simEv) {
	*q = append(*q, e)
	i := len(*q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		(*q)[i], (*q)[p] = (*q)[p], (*q)[i]
		i = p
	}
}

func (q *simQueue) pop() simEv {
	old := *q
	e := old[0]
	n := len(old) - 1
	old[0] = old[n]
	old[n] = simEv{}
	*q = old[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		(*q)[i], (*q)[m] = (*q)[m], (*q)[i]
		i = m
	}
	return e
}

// ---------------------------------------------------------------------------
// world

type simSentinel struct {
	ep        int
	addr      Addr
	runid     string
	node      *Node
	alive     bool
	paused    bool
	inc       int
	persisted [][]string
	deferred  []func()
	clockOff  int64
	cfgEpoch  uint64
	curEpoch  uint64
}

type simRedis struct {
	ep          int
	addr        Addr
	runid       string
	alive       bool
	paused      bool
	inc         int
	master      bool
	masterAddr  Addr
	offset      int64
	linkUp      bool
	downSince   int64
	syncAt      int64
	priority    int
	ignoreNoOne bool // scenario: never execute SLAVEOF NO ONE
	// PSYNC2 history IDs: a promotion moves replid to replid2 and starts a
	// new one; a sync adopts the master's.
	replid, replid2 string
	subs            []*simLink
	deferred        []func()
	safe            simRedisSafe // safe-mode model (sim_safe_test.go)
}

type simLink struct {
	owner  *simSentinel
	inc    int
	id     LinkID
	target int // endpoint
	pubsub bool
	up     bool
	closed bool
}

type linkKey struct {
	s  int
	id LinkID
}

type world struct {
	t        testing.TB
	seed     int64
	rnd      *rand.Rand
	now      int64
	seq      uint64
	q        simQueue
	sents    []*simSentinel
	reds     []*simRedis
	replIDs  int
	addrEp   map[Addr]int
	group    []int
	links    map[linkKey]*simLink
	linkList []*simLink // creation order, for deterministic iteration
	drop     float64
	maxLat   int64
	trace    bool
	log      []string
	failure  string

	// invariants
	leaders    map[uint64]string
	promotions map[uint64]Addr
	configs    map[uint64]string // config-epoch -> master address (from +switch-master)
	votes      map[string]map[uint64]string
	failovers  int // +failover-end count
	switches   int
	takeovers  int
	tilts      int

	masterName string
	block      map[[2]int]bool   // directed-pair link failures (scenario tests)
	cut        map[[2]int]simCut // one-way link failures: {from, to} -> messages from->to lost (sim_safe_test.go)
	record     bool
	events     []simRec
	onEvent    func(s *simSentinel, p Publish)
	onNoOne    func(r *simRedis, from *simSentinel) // a data node executes SLAVEOF NO ONE
	nodeOpts   Options
	compat     map[int]bool // sentinels behaving like redis-sentinel (no vigil timing rules)
	faultGen   int
	downAfter  int64
	foTimeout  int64
	safe       *simSafe // non-nil: vigil safe mode modelled (sim_safe_test.go)
}

func (w *world) at(d int64, fn func()) {
	w.seq++
	w.q.push(simEv{at: w.now + d, seq: w.seq, fn: fn})
}

func (w *world) logf(format string, a ...any) {
	if w.trace {
		w.log = append(w.log, fmt.Sprintf("%8d ", w.now)+fmt.Sprintf(format, a...))
	}
}

func (w *world) fail(format string, a ...any) {
	if w.failure == "" {
		w.failure = fmt.Sprintf("t=%d: ", w.now) + fmt.Sprintf(format, a...)
	}
}

func (w *world) latency() int64 { return 1 + w.rnd.Int64N(w.maxLat) }

func (w *world) reachable(a, b int) bool {
	if w.block != nil && (w.block[[2]int{a, b}] || w.block[[2]int{b, a}]) {
		return false
	}
	return w.group[a] == w.group[b]
}

type simRec struct {
	at int64
	s  int
	p  Publish
}

func (w *world) epAlive(ep int) bool {
	if ep < len(w.sents) {
		return w.sents[ep].alive
	}
	return w.reds[ep-len(w.sents)].alive
}

// newWorld builds nS sentinels monitoring one master (redis 0) with nR-1
// replicas. All sentinels start from a config that already knows the
// replicas and the other sentinels (an established deployment).
func newWorld(t testing.TB, seed int64, nS, nR int, discovery bool) *world {
	return newWorldCfg(t, seed, nS, nR, discovery, 1000, 3000, -1, Options{})
}

// newWorldCfg is newWorld with explicit down-after, failover-timeout,
// parallel-syncs (-1: random 1..2) and node options.
func newWorldCfg(t testing.TB, seed int64, nS, nR int, discovery bool, downAfter, foTimeout int64, psyncs int, opts Options) *world {
	w := &world{t: t, seed: seed, rnd: rand.New(rand.NewPCG(uint64(seed), 0x5e171e1)), addrEp: map[Addr]int{},
		links: map[linkKey]*simLink{}, leaders: map[uint64]string{}, promotions: map[uint64]Addr{}, configs: map[uint64]string{},
		votes: map[string]map[uint64]string{}, maxLat: 20, masterName: "mymaster"}
	w.downAfter = downAfter
	w.foTimeout = foTimeout
	w.nodeOpts = opts
	for i := 0; i < nS; i++ {
		s := &simSentinel{ep: i, addr: Addr{"10.0.1." + strconv.Itoa(i+1), 26379}, runid: fmt.Sprintf("%040x", uint64(i+1)*0x9e3779b97f4a7c15)}
		w.sents = append(w.sents, s)
		w.addrEp[s.addr] = i
	}
	for i := 0; i < nR; i++ {
		r := &simRedis{ep: nS + i, addr: Addr{"10.0.0." + strconv.Itoa(i+1), 6379}, alive: true, priority: 100}
		r.runid = w.newRunID()
		if i == 0 {
			r.master = true
			r.replid = w.newReplID()
		} else {
			r.replid = w.reds[0].replid
			r.masterAddr = w.reds0addr()
			r.linkUp = true
		}
		w.reds = append(w.reds, r)
		w.addrEp[r.addr] = nS + i
	}
	w.group = make([]int, nS+nR)
	quorum := nS/2 + 1
	ps := psyncs
	if ps < 0 {
		ps = 1 + w.rnd.IntN(2)
	}
	for _, s := range w.sents {
		lines := [][]string{
			{"sentinel", "myid", s.runid},
			{"sentinel", "monitor", w.masterName, "10.0.0.1", "6379", strconv.Itoa(quorum)},
			{"sentinel", "down-after-milliseconds", w.masterName, strconv.FormatInt(w.downAfter, 10)},
			{"sentinel", "failover-timeout", w.masterName, strconv.FormatInt(w.foTimeout, 10)},
			{"sentinel", "parallel-syncs", w.masterName, strconv.Itoa(ps)},
		}
		for _, r := range w.reds[1:] {
			lines = append(lines, []string{"sentinel", "known-replica", w.masterName, r.addr.IP, "6379"})
		}
		for _, o := range w.sents {
			if o != s && !discovery {
				lines = append(lines, []string{"sentinel", "known-sentinel", w.masterName, o.addr.IP, "26379", o.runid})
			}
		}
		s.persisted = lines
		s.clockOff = w.rnd.Int64N(1 << 40)
		w.startSentinel(s)
	}
	w.at(100, w.replicationTick)
	return w
}

func (w *world) reds0addr() Addr { return Addr{"10.0.0.1", 6379} }

func (w *world) newRunID() string {
	return fmt.Sprintf("%016x%016x%08x", w.rnd.Uint64(), w.rnd.Uint64(), w.rnd.Uint32())
}

// newReplID returns a fresh replication ID without drawing from w.rnd
// (seeds keep their schedules).
func (w *world) newReplID() string {
	w.replIDs++
	return fmt.Sprintf("%040x", uint64(w.replIDs)*0x9e3779b97f4a7c15+uint64(w.seed))
}

func (w *world) startSentinel(s *simSentinel) {
	st, err := ParseConfig(s.persisted)
	if err != nil {
		w.fail("sentinel %d: reload config: %v", s.ep, err)
		return
	}
	if m := st.Master(w.masterName); m != nil {
		if m.ConfigEpoch < s.cfgEpoch {
			w.fail("sentinel %d restarted with config-epoch %d < %d seen before crash", s.ep, m.ConfigEpoch, s.cfgEpoch)
		}
	}
	if st.CurrentEpoch < s.curEpoch {
		w.fail("sentinel %d restarted with current-epoch %d < %d", s.ep, st.CurrentEpoch, s.curEpoch)
	}
	s.alive = true
	s.paused = false
	s.inc++
	opt := w.nodeOpts
	if w.compat != nil && w.compat[s.ep] {
		opt.DisableTakeover, opt.DisableElectionDelay = true, true
	}
	opt.MyAddr = s.addr
	opt.Rand = rand.New(rand.NewPCG(w.rnd.Uint64(), uint64(s.ep)))
	s.node = NewNode(st, opt, w.now+s.clockOff)
	w.logf("S%d start epoch=%d", s.ep, st.CurrentEpoch)
	w.scheduleTick(s, s.inc, w.rnd.Int64N(100))
}

func (w *world) scheduleTick(s *simSentinel, inc int, d int64) {
	w.at(d, func() {
		if !s.alive || s.inc != inc || s.paused {
			return
		}
		s.node.Step(Tick{Now: w.now + s.clockOff})
		w.drain(s)
		w.scheduleTick(s, inc, 100)
	})
}

// deliver runs fn against sentinel s (if it is still the same incarnation),
// deferring while paused, then applies its Ready.
func (w *world) deliver(s *simSentinel, inc int, fn func()) {
	if !s.alive || s.inc != inc {
		return
	}
	if s.paused {
		s.deferred = append(s.deferred, func() { w.deliver(s, inc, fn) })
		return
	}
	fn()
	w.drain(s)
}

func (w *world) drain(s *simSentinel) {
	if !s.node.HasReady() {
		w.checkSentinel(s)
		return
	}
	rd := s.node.Ready()
	for _, a := range rd.Actions {
		switch a := a.(type) {
		case PersistState:
			s.persisted = a.Lines
		case Connect:
			ep, ok := w.addrEp[a.Addr]
			if !ok {
				ep = -1
			}
			l := &simLink{owner: s, inc: s.inc, id: a.Link, target: ep, pubsub: a.Kind == LinkPubSub}
			w.links[linkKey{s.ep, a.Link}] = l
			w.linkList = append(w.linkList, l)
			w.at(w.latency(), func() { w.connectResult(l) })
		case Disconnect:
			if l := w.links[linkKey{s.ep, a.Link}]; l != nil {
				w.closeLink(l)
			}
		case SendCommand:
			w.sendCommand(s, a)
		case Publish:
			w.onPublish(s, a)
		}
	}
	w.checkSentinel(s)
}

func (w *world) checkSentinel(s *simSentinel) {
	st := s.node.State()
	if st.CurrentEpoch < s.curEpoch {
		w.fail("S%d current-epoch went back %d -> %d", s.ep, s.curEpoch, st.CurrentEpoch)
	}
	s.curEpoch = st.CurrentEpoch
	if m := st.Master(w.masterName); m != nil {
		if m.ConfigEpoch < s.cfgEpoch {
			w.fail("S%d config-epoch went back %d -> %d", s.ep, s.cfgEpoch, m.ConfigEpoch)
		}
		s.cfgEpoch = m.ConfigEpoch
	}
}

func (w *world) onPublish(s *simSentinel, p Publish) {
	if w.record {
		w.events = append(w.events, simRec{w.now, s.ep, p})
	}
	if w.onEvent != nil {
		w.onEvent(s, p)
	}
	if w.trace && p.Level >= LevelNotice {
		w.logf("S%d %s %s", s.ep, p.Type, p.Msg)
	}
	switch p.Type {
	case EvElectedLeader:
		if prev, ok := w.leaders[p.Epoch]; ok && prev != s.runid {
			w.fail("two leaders elected in epoch %d: %s and %s", p.Epoch, prev[24:30], s.runid[24:30])
		}
		w.leaders[p.Epoch] = s.runid
	case EvVoteForLeader:
		f := strings.Fields(p.Msg)
		vm := w.votes[s.runid]
		if vm == nil {
			vm = map[uint64]string{}
			w.votes[s.runid] = vm
		}
		if prev, ok := vm[p.Epoch]; ok && prev != f[0] {
			w.fail("S%d voted twice in epoch %d: %s then %s", s.ep, p.Epoch, prev[24:30], f[0][24:30])
		}
		vm[p.Epoch] = f[0]
	case EvFailoverEnd:
		w.failovers++
	case EvSwitchMaster:
		w.switches++
		f := strings.Fields(p.Msg)
		to := f[3] + ":" + f[4]
		if prev, ok := w.configs[p.Epoch]; ok && prev != to && p.Epoch != 0 {
			w.fail("two configurations with config-epoch %d: %s and %s", p.Epoch, prev, to)
		}
		if p.Epoch != 0 {
			w.configs[p.Epoch] = to
		}
	case EvTakeover:
		w.takeovers++
	case EvTilt:
		w.tilts++
	}
}

func (w *world) connectResult(l *simLink) {
	if l.closed {
		return
	}
	ok := l.target >= 0 && w.epAlive(l.target) && w.reachable(l.owner.ep, l.target) && !w.cutConnect(l.owner.ep, l.target)
	if ok {
		l.up = true
		w.deliver(l.owner, l.inc, func() { l.owner.node.Step(LinkUp{Link: l.id}) })
		return
	}
	w.closeLink(l)
	w.deliver(l.owner, l.inc, func() { l.owner.node.Step(LinkDown{Link: l.id}) })
}

func (w *world) closeLink(l *simLink) {
	if l.closed {
		return
	}
	l.closed, l.up = true, false
	delete(w.links, linkKey{l.owner.ep, l.id})
	if l.pubsub && l.target >= len(w.sents) {
		r := w.reds[l.target-len(w.sents)]
		for i, x := range r.subs {
			if x == l {
				r.subs = append(r.subs[:i], r.subs[i+1:]...)
				break
			}
		}
	}
}

// breakLink closes a link from the network side and tells its owner.
func (w *world) breakLink(l *simLink) {
	if l.closed {
		return
	}
	w.closeLink(l)
	w.at(w.latency(), func() {
		w.deliver(l.owner, l.inc, func() { l.owner.node.Step(LinkDown{Link: l.id, Reason: "reset"}) })
	})
}

// breakAffected breaks every link that crosses a partition or ends at a dead
// endpoint.
func (w *world) breakAffected() {
	keep := w.linkList[:0]
	for _, l := range w.linkList {
		if l.up && (!w.reachable(l.owner.ep, l.target) || !w.epAlive(l.target) || !l.owner.alive) {
			w.breakLink(l)
		}
		if !l.closed {
			keep = append(keep, l)
		}
	}
	for i := len(keep); i < len(w.linkList); i++ {
		w.linkList[i] = nil
	}
	w.linkList = keep
}

func (w *world) sendCommand(s *simSentinel, c SendCommand) {
	l := w.links[linkKey{s.ep, c.Link}]
	if l == nil || !l.up {
		return
	}
	if c.Purpose == PurposePromote {
		a := l.owner.node.State().Master(w.masterName)
		_ = a
		if prev, ok := w.promotions[c.Epoch]; ok && prev != c.Addr {
			w.fail("two promotions in epoch %d: %v and %v", c.Epoch, prev, c.Addr)
		}
		w.promotions[c.Epoch] = c.Addr
		w.logf("S%d promote %v epoch %d", s.ep, c.Addr, c.Epoch)
	}
	if w.drop > 0 && w.rnd.Float64() < w.drop {
		return // lost without the link noticing
	}
	w.at(w.latency(), func() { w.deliverCmd(l, c) })
}

func (w *world) deliverCmd(l *simLink, c SendCommand) {
	if l.closed {
		return
	}
	if !w.reachable(l.owner.ep, l.target) || !w.epAlive(l.target) {
		w.breakLink(l)
		return
	}
	if w.cutOff(l.owner.ep, l.target) {
		return // one-way failure: the command never arrives
	}
	var reply Resp
	if l.target < len(w.sents) {
		t := w.sents[l.target]
		if t.paused {
			t.deferred = append(t.deferred, func() { w.deliverCmd(l, c) })
			return
		}
		reply = w.sentinelExec(t, c.Cmds[0])
	} else {
		r := w.reds[l.target-len(w.sents)]
		if r.paused {
			r.deferred = append(r.deferred, func() { w.deliverCmd(l, c) })
			return
		}
		reply = w.redisExec(r, l, c.Cmds)
	}
	if w.drop > 0 && w.rnd.Float64() < w.drop {
		return
	}
	id := c.ID
	w.at(w.latency(), func() {
		if l.closed {
			return
		}
		if !w.reachable(l.owner.ep, l.target) {
			w.breakLink(l)
			return
		}
		if w.cutOff(l.target, l.owner.ep) {
			return // one-way failure: the reply never arrives
		}
		w.deliver(l.owner, l.inc, func() { l.owner.node.Step(Reply{Link: l.id, ID: id, Value: reply}) })
	})
}

func (w *world) sentinelExec(t *simSentinel, cmd []string) Resp {
	switch strings.ToUpper(cmd[0]) {
	case "PING":
		return Status("PONG")
	case "SENTINEL":
		if len(cmd) == 6 && strings.EqualFold(cmd[1], "is-master-down-by-addr") {
			port, _ := strconv.Atoi(cmd[3])
			ep, _ := strconv.ParseUint(cmd[4], 10, 64)
			d, lr, le, _ := t.node.HandleIsMasterDownByAddr(cmd[2], port, ep, cmd[5])
			w.drain(t) // PersistState happens before the reply leaves
			return Array(Int(int64(d)), Bulk(lr), Int(int64(le)))
		}
	case "PUBLISH":
		t.node.Step(Message{Channel: cmd[1], Payload: cmd[2]})
		w.drain(t)
		return Int(1)
	}
	return ErrorReply("ERR unknown command")
}

func (w *world) redisExec(r *simRedis, l *simLink, cmds [][]string) Resp {
	var last Resp
	for _, cmd := range cmds {
		if w.safe != nil {
			w.safeOnCommand(r, l, cmd)
		}
		switch strings.ToUpper(cmd[0]) {
		case "PING":
			last = Status("PONG")
		case "INFO":
			last = Bulk(w.info(r))
		case "SUBSCRIBE":
			r.subs = append(r.subs, l)
			last = Array(Bulk("subscribe"), Bulk(cmd[1]), Int(1))
		case "PUBLISH":
			n := 0
			for _, sub := range r.subs {
				if !sub.up {
					continue
				}
				n++
				sub := sub
				msg := Message{Link: sub.id, Channel: cmd[1], Payload: cmd[2]}
				w.at(w.latency(), func() {
					if sub.closed || w.cutOff(r.ep, sub.owner.ep) {
						return
					}
					w.deliver(sub.owner, sub.inc, func() { sub.owner.node.Step(msg) })
				})
			}
			last = Int(int64(n))
		case "SLAVEOF", "REPLICAOF":
			if strings.EqualFold(cmd[1], "NO") {
				if r.ignoreNoOne {
					continue
				}
				if !r.master {
					w.logf("R%d SLAVEOF NO ONE", r.ep)
					r.replid2, r.replid = r.replid, w.newReplID()
				}
				if w.onNoOne != nil {
					w.onNoOne(r, l.owner)
				}
				r.master = true
				r.masterAddr = Addr{}
			} else {
				p, _ := strconv.Atoi(cmd[2])
				na := Addr{cmd[1], p}
				if r.master || r.masterAddr != na {
					w.logf("R%d SLAVEOF %v", r.ep, na)
					r.master = false
					r.masterAddr = na
					if r.linkUp {
						r.linkUp = false
						r.downSince = w.now
					}
					r.syncAt = 0
				}
			}
			last = Status("OK")
		case "EXEC":
			last = Array(Status("OK"), Status("OK"), Status("OK"), Int(0), Int(0))
		default:
			last = Status("OK")
		}
	}
	return last
}

func (w *world) info(r *simRedis) string {
	var b strings.Builder
	b.WriteString("# Server\r\nrun_id:")
	b.WriteString(r.runid)
	b.WriteString("\r\n\r\n# Replication\r\n")
	if r.master {
		b.WriteString("role:master\r\n")
		k := 0
		for _, o := range w.reds {
			if o.alive && !o.master && o.masterAddr == r.addr && o.linkUp {
				fmt.Fprintf(&b, "slave%d:ip=%s,port=%d,state=online,offset=%d,lag=0\r\n", k, o.addr.IP, o.addr.Port, o.offset)
				k++
			}
		}
		fmt.Fprintf(&b, "connected_slaves:%d\r\nmaster_repl_offset:%d\r\n", k, r.offset)
		w.infoReplIDs(&b, r)
	} else {
		st := "down"
		if r.linkUp {
			st = "up"
		}
		fmt.Fprintf(&b, "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\nslave_repl_offset:%d\r\n",
			r.masterAddr.IP, r.masterAddr.Port, st, r.offset)
		if !r.linkUp {
			fmt.Fprintf(&b, "master_link_down_since_seconds:%d\r\n", (w.now-r.downSince)/1000)
		}
		fmt.Fprintf(&b, "slave_priority:%d\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_repl_offset:%d\r\n", r.priority, r.offset)
		w.infoReplIDs(&b, r)
	}
	return b.String()
}

func (w *world) infoReplIDs(b *strings.Builder, r *simRedis) {
	id2 := r.replid2
	if id2 == "" {
		id2 = strings.Repeat("0", RunIDSize)
	}
	fmt.Fprintf(b, "master_replid:%s\r\nmaster_replid2:%s\r\n", r.replid, id2)
}

func (w *world) redisByAddr(a Addr) *simRedis {
	ep, ok := w.addrEp[a]
	if !ok || ep < len(w.sents) {
		return nil
	}
	return w.reds[ep-len(w.sents)]
}

// replicationTick advances the modelled replication every 100 ms: masters
// take writes (in safe mode only when its rules allow, sim_safe_test.go),
// replicas (re)sync and copy their master's offset (and history).
func (w *world) replicationTick() {
	for _, r := range w.reds {
		if r.alive && !r.paused && r.master {
			if w.safe == nil {
				r.offset += 1 + w.rnd.Int64N(1000)
			} else if w.safeCanWrite(r) {
				w.safeWrite(r)
			}
		}
	}
	for _, r := range w.reds {
		if !r.alive || r.paused || r.master {
			continue
		}
		m := w.redisByAddr(r.masterAddr)
		ok := m != nil && m.alive && !m.paused && m.master && w.reachable(r.ep, m.ep)
		// stream: m -> r (data, offsets); ack: r -> m (REPLCONF ACK).
		stream, ack := true, true
		if ok && w.cut != nil {
			stream, ack = !w.cutOff(m.ep, r.ep), !w.cutOff(r.ep, m.ep)
			// A link that is up keeps working in the direction that still
			// flows (a stalled direction is noticed only after
			// repl-timeout, longer than any fault); a (re)sync needs both.
			ok = (stream || ack) && (r.linkUp || (stream && ack))
		}
		if !ok {
			if r.linkUp {
				r.linkUp = false
				r.downSince = w.now
			}
			r.syncAt = 0
			continue
		}
		if !r.linkUp {
			if r.syncAt == 0 {
				r.syncAt = w.now + 200 + w.rnd.Int64N(800)
			} else if w.now >= r.syncAt {
				r.linkUp, r.syncAt, r.offset = true, 0, m.offset
				r.replid, r.replid2 = m.replid, m.replid2
			}
		} else if stream {
			r.offset = m.offset
		}
		if r.linkUp && w.safe != nil {
			w.safeCopy(r, m, stream, ack)
		}
	}
	if w.safe != nil {
		w.safeRecordAcks()
	}
	w.at(100, w.replicationTick)
}

// ---------------------------------------------------------------------------
// faults

func (w *world) crashRedis(r *simRedis) {
	if !r.alive {
		return
	}
	w.logf("R%d crash", r.ep)
	r.alive, r.paused, r.deferred, r.subs = false, false, nil, nil
	if r.linkUp {
		r.linkUp = false
	}
	w.breakAffected()
}

func (w *world) restartRedis(r *simRedis) {
	if r.alive {
		return
	}
	w.logf("R%d restart master=%v", r.ep, r.master)
	r.alive = true
	r.runid = w.newRunID()
	r.safe.unconfirmedSince = w.now
	r.safe.helloCur, r.safe.helloSelfSeen = nil, false // a new process has seen no hellos
	r.linkUp = false
	r.downSince = w.now
	r.syncAt = 0
}

func (w *world) crashSentinel(s *simSentinel) {
	if !s.alive {
		return
	}
	w.logf("S%d crash", s.ep)
	s.alive, s.paused, s.deferred = false, false, nil
	s.inc++
	for _, l := range w.linkList {
		if l.owner == s {
			w.closeLink(l)
		}
	}
	w.breakAffected()
}

func (w *world) pauseSentinel(s *simSentinel, d int64) {
	if !s.alive || s.paused {
		return
	}
	w.logf("S%d pause %d", s.ep, d)
	s.paused = true
	inc := s.inc
	w.at(d, func() { w.resumeSentinel(s, inc) })
}

func (w *world) resumeSentinel(s *simSentinel, inc int) {
	if !s.alive || s.inc != inc || !s.paused {
		return
	}
	w.logf("S%d resume", s.ep)
	s.paused = false
	// The first thing a resumed process does is run its timer (TILT check).
	s.node.Step(Tick{Now: w.now + s.clockOff})
	w.drain(s)
	d := s.deferred
	s.deferred = nil
	for _, fn := range d {
		fn()
	}
	w.scheduleTick(s, inc, 100)
}

func (w *world) pauseRedis(r *simRedis, d int64) {
	if !r.alive || r.paused {
		return
	}
	w.logf("R%d pause %d", r.ep, d)
	r.paused = true
	inc := r.inc
	w.at(d, func() {
		if !r.alive || r.inc != inc || !r.paused {
			return
		}
		r.paused = false
		r.safe.unconfirmedSince = w.now
		d := r.deferred
		r.deferred = nil
		for _, fn := range d {
			fn()
		}
	})
}

func (w *world) partition() {
	for i := range w.group {
		w.group[i] = w.rnd.IntN(2)
	}
	w.logf("partition %v", w.group)
	w.breakAffected()
}

func (w *world) heal() {
	for i := range w.group {
		w.group[i] = 0
	}
	w.logf("heal")
}

func (w *world) runUntil(t int64) {
	for len(w.q) > 0 && w.q[0].at <= t && w.failure == "" {
		e := w.q.pop()
		w.now = e.at
		e.fn()
	}
	w.now = t
}

// randomFaults schedules random faults in [start, end).
func (w *world) randomFaults(start, end int64) {
	n := 2 + w.rnd.IntN(int(end-start)/1000+2)
	gen := w.faultGen
	fault := func(d int64, fn func()) {
		w.at(d, func() {
			if w.faultGen == gen {
				fn()
			}
		})
	}
	for k := 0; k < n; k++ {
		at := start + w.rnd.Int64N(end-start)
		dur := 300 + w.rnd.Int64N(5000)
		switch w.rnd.IntN(7) {
		case 0, 1:
			r := w.reds[w.rnd.IntN(len(w.reds))]
			fault(at-w.now, func() { w.crashRedis(r) })
			fault(at-w.now+dur, func() { w.restartRedis(r) })
		case 2:
			r := w.reds[w.rnd.IntN(len(w.reds))]
			fault(at-w.now, func() { w.pauseRedis(r, dur) })
		case 3:
			s := w.sents[w.rnd.IntN(len(w.sents))]
			fault(at-w.now, func() { w.crashSentinel(s) })
			fault(at-w.now+dur, func() {
				if !s.alive {
					w.startSentinel(s)
				}
			})
		case 4:
			s := w.sents[w.rnd.IntN(len(w.sents))]
			fault(at-w.now, func() { w.pauseSentinel(s, dur) })
		case 5, 6:
			fault(at-w.now, func() { w.partition() })
			fault(at-w.now+dur, func() { w.heal() })
		}
	}
	if w.rnd.IntN(3) == 0 {
		// Kill or freeze leaders mid-failover (exercises the takeover rule
		// and late promotions by deposed leaders).
		kills := 1 + w.rnd.IntN(2)
		trigger := []string{EvElectedLeader, EvFailoverStateWaitPromo, EvPromotedSlave}[w.rnd.IntN(3)]
		freeze := w.rnd.IntN(2) == 0
		w.onEvent = func(s *simSentinel, p Publish) {
			if p.Type != trigger || kills == 0 || w.faultGen != gen || w.now < start {
				return
			}
			kills--
			d := 1000 + w.rnd.Int64N(8000)
			if freeze {
				w.at(0, func() { w.pauseSentinel(s, d) })
				return
			}
			w.at(0, func() { w.crashSentinel(s) })
			fault(d, func() {
				if !s.alive {
					w.startSentinel(s)
				}
			})
		}
	}
	if w.rnd.IntN(2) == 0 {
		fault(start-w.now, func() { w.drop = 0.02 * float64(1+w.rnd.IntN(3)); w.maxLat = 60 })
	}
}

// quiesce stops all faults: heal, resume, restart everything.
func (w *world) quiesce() {
	w.faultGen++
	w.drop, w.maxLat = 0, 20
	w.cut = nil
	w.heal()
	for _, r := range w.reds {
		if r.paused {
			r.inc++
			r.paused = false
			r.safe.unconfirmedSince = w.now
			d := r.deferred
			r.deferred = nil
			for _, fn := range d {
				fn()
			}
		}
		w.restartRedis(r)
	}
	for _, s := range w.sents {
		if s.paused {
			w.resumeSentinel(s, s.inc)
		}
		if !s.alive {
			w.startSentinel(s)
		}
	}
}

// converged: every live sentinel names the same master X, X is a live
// role:master, every other live instance replicates from X with link up,
// and no sentinel is mid-failover.
func (w *world) converged() (Addr, string) {
	var x Addr
	for i, s := range w.sents {
		if !s.alive {
			continue
		}
		a, _ := s.node.GetMasterAddrByName(w.masterName)
		m := s.node.State().Master(w.masterName)
		if m.inFailover {
			return x, fmt.Sprintf("S%d still in failover state %v", i, m.failoverState)
		}
		if x.IsZero() {
			x = a
		} else if a != x {
			return x, fmt.Sprintf("sentinels disagree: %v vs %v (S%d)", x, a, i)
		}
	}
	mr := w.redisByAddr(x)
	if mr == nil || !mr.alive || !mr.master {
		return x, fmt.Sprintf("sentinels' master %v is not a live master", x)
	}
	for _, r := range w.reds {
		if r == mr || !r.alive {
			continue
		}
		if r.master || r.masterAddr != x || !r.linkUp {
			return x, fmt.Sprintf("R%d not a healthy replica of %v (master=%v of=%v link=%v)", r.ep, x, r.master, r.masterAddr, r.linkUp)
		}
	}
	return x, ""
}

func (w *world) waitConverged(limit int64, what string) (Addr, bool) {
	deadline := w.now + limit
	var why string
	var x Addr
	for w.now < deadline && w.failure == "" {
		w.runUntil(w.now + 500)
		if x, why = w.converged(); why == "" {
			return x, true
		}
	}
	if w.failure == "" {
		w.fail("%s: no convergence within %d ms: %s", what, limit, why)
	}
	return x, false
}

type simResult struct {
	failure   string
	failovers int
	takeovers int
	tilts     int
	epochs    int
	simMS     int64
	acked     int // safe mode: acknowledgement points recorded
	writes    int // safe mode: write batches accepted by masters
	epochRule int // safe mode: masters unconfirmed by a rising Sentinel epoch
}

// runSchedule runs one seeded schedule: random faults, then quiet (must
// converge), then the agreed master is killed (a failover must complete and
// everyone must converge on a new master).
func runSchedule(t testing.TB, seed int64, trace bool) (simResult, []string) {
	return runScheduleSafe(t, seed, trace, 0)
}

// runScheduleSafe is runSchedule with vigil safe mode modelled on the data
// nodes and enabled on the Sentinels when safeN > 0 (sim_safe_test.go).
func runScheduleSafe(t testing.TB, seed int64, trace bool, safeN int) (simResult, []string) {
	r0 := rand.New(rand.NewPCG(uint64(seed), 7))
	nS := 3
	if r0.IntN(3) == 0 {
		nS = 5
	}
	nR := 2 + r0.IntN(3)
	discovery := r0.IntN(5) == 0
	var w *world
	if safeN > 0 {
		// The fence timeout must exceed the Sentinels' PING period (1 s)
		// and stay below down-after.
		w = newWorldCfg(t, seed, nS, nR, discovery, 2000, 4000, -1, Options{})
	} else {
		w = newWorld(t, seed, nS, nR, discovery)
	}
	w.trace = trace
	if safeN > 0 {
		w.enableSafe(min(safeN, nR-1))
	}
	if r0.IntN(4) == 0 {
		// mixed deployment: some sentinels use plain redis-sentinel timing
		w.compat = map[int]bool{}
		for i := 0; i < nS; i++ {
			w.compat[i] = r0.IntN(2) == 0
			if w.compat[i] {
				w.sents[i].node.opt.DisableTakeover = true
				w.sents[i].node.opt.DisableElectionDelay = true
			}
		}
	}
	faultStart := int64(1000)
	if discovery {
		faultStart = 8000 // let hellos introduce the sentinels first
	}
	faultEnd := faultStart + 3000 + w.rnd.Int64N(15000)
	w.randomFaults(faultStart, faultEnd)
	if w.safe != nil && *flagSafeSimOneWay {
		w.randomOneWay(seed, faultStart, faultEnd)
	}
	w.runUntil(faultEnd + 100)
	w.quiesce()
	x, ok := w.waitConverged(90000, "after faults stopped")
	if ok && w.safe != nil {
		// Let the master take writes (and acknowledge them) for a while,
		// then check nothing acknowledged was lost so far.
		w.runUntil(w.now + 10000)
		if x, ok = w.waitConverged(30000, "after safe-mode writes"); ok {
			w.checkAcked(x)
		}
	}
	if ok && w.rnd.IntN(2) == 0 {
		before := w.failovers
		beforeEpochs := len(w.leaders)
		for k := 0; k < 80 && w.anyTilt(); k++ {
			w.runUntil(w.now + 500)
		}
		w.logf("kill agreed master %v", x)
		w.crashRedis(w.redisByAddr(x))
		y, ok2 := w.waitConverged(60000, "after killing master "+x.String())
		if ok2 && (y == x || w.failovers == before || len(w.leaders) == beforeEpochs) {
			w.fail("master %v killed but no failover completed (now %v)", x, y)
		}
		if ok2 && w.safe != nil {
			w.checkAcked(y)
		}
	}
	res := simResult{failure: w.failure, failovers: w.failovers, takeovers: w.takeovers, tilts: w.tilts, epochs: len(w.leaders), simMS: w.now}
	if w.safe != nil {
		res.acked, res.writes, res.epochRule = w.safe.ackedN, w.safe.writes, w.safe.epochTriggers
	}
	return res, w.log
}

// TestSimulation runs -schedules seeded random schedules (default 10000).
// Invariants (checked continuously): at most one leader per epoch, at most one
// promotion (SLAVEOF NO ONE) per epoch, one master address per config epoch
// (across all +switch-master events), a sentinel never votes for two
// candidates in one epoch (even across restarts), current/config epochs never
// decrease per sentinel (even across restarts). Liveness: after faults stop
// all sentinels converge on one live master with healthy replicas within
// 90 s of simulated time; after killing that master a failover completes
// and everyone converges again within 60 s.
// Replay one seed with: go test -run TestSimulation -seed=N -v
func TestSimulation(t *testing.T) {
	if *flagSeed >= 0 {
		res, log := runSchedule(t, *flagSeed, true)
		for _, l := range log {
			t.Log(l)
		}
		if res.failure != "" {
			t.Fatalf("seed %d: %s", *flagSeed, res.failure)
		}
		t.Logf("seed %d ok: %+v", *flagSeed, res)
		return
	}
	n := *flagSchedules
	if testing.Short() && n > 1000 {
		n = 1000
	}
	start := time.Now()
	var tot simResult
	var simMS int64
	for i := 0; i < n; i++ {
		seed := *flagSimBase + int64(i)
		res, _ := runSchedule(t, seed, false)
		if res.failure != "" {
			t.Fatalf("seed %d failed: %s\nreplay: go test ./internal/sentinel/core -run TestSimulation -seed=%d -v", seed, res.failure, seed)
		}
		tot.failovers += res.failovers
		tot.takeovers += res.takeovers
		tot.tilts += res.tilts
		tot.epochs += res.epochs
		simMS += res.simMS
	}
	t.Logf("%d schedules in %v: %d leader epochs, %d failovers completed, %d takeovers, %d tilts, %.0f simulated seconds",
		n, time.Since(start).Round(time.Millisecond), tot.epochs, tot.failovers, tot.takeovers, tot.tilts, float64(simMS)/1000)
}

func (w *world) anyTilt() bool {
	for _, s := range w.sents {
		if s.alive && s.node.InTilt() {
			return true
		}
	}
	return false
}
